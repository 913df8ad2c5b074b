"""Random state: seeding, determinism switches, and capture/restore for checkpoints.

Exact resume needs every random stream a run draws from to be either checkpointed
(python, numpy, torch, CUDA generators of the training process) or derived from the
iteration (data loading and augmentation, see `loader.py`).
"""

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

RngState = dict[str, Any]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) with one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(deterministic: bool) -> None:
    """`deterministic: true`: only deterministic kernels, no cuDNN autotuning.

    The cuBLAS workspace setting must be in the environment before the first cuBLAS
    call, so it is set here, at start-up.
    """
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic


def capture_rng_state() -> RngState:
    """Every generator of this process, in a picklable dict."""
    state: RngState = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: RngState) -> None:
    """Inverse of `capture_rng_state`; CUDA states are restored only where CUDA is in use."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def rng_preserved() -> Iterator[None]:
    """Run a block (evaluation, visualisation) without moving the training's random streams."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with all generators seeded by `seed`, restoring them afterwards."""
    with rng_preserved():
        seed_everything(seed)
        yield


def derive_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integers (e.g. run seed, iteration, rank, slot)."""
    return int(np.random.SeedSequence([k % 2**32 for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))
