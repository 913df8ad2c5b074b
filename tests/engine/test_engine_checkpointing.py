"""Atomic writes, checkpoint round trips and random-state capture."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import engine_standins as standins
from roi_ablation.engine.atomic import atomic_torch_save, atomic_write, atomic_write_json
from roi_ablation.engine.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from roi_ablation.engine.schedule import build_optimizer, build_scheduler
from roi_ablation.engine.seeding import capture_rng_state, restore_rng_state, rng_preserved, seeded


def test_interrupted_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pth"
    atomic_torch_save(path, {"iteration": 1})

    def crash(f: object) -> None:
        f.write(b"half a checkpoint")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert torch.load(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pth"]  # no temporary file left behind


def test_json_is_strict(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "m.json", {"AP": float("nan")})
    assert not (tmp_path / "m.json").exists()


def _state(seed: int) -> TrainingState:
    torch.manual_seed(seed)
    train = standins.config().train
    model = torch.nn.Linear(3, 2)
    opt = build_optimizer(model, train)
    return TrainingState(model, opt, build_scheduler(opt, train), torch.amp.GradScaler("cpu", enabled=False))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    state = _state(0)
    state.model(torch.ones(1, 3)).sum().backward()
    state.optimizer.step()
    state.scheduler.step()
    state.iteration, state.train_s = 7, 12.5
    rng = capture_rng_state()
    save_checkpoint(tmp_path / "c.pth", state, [rng], {"seed": 0})

    restored = _state(1)
    rngs = load_checkpoint(tmp_path / "c.pth", restored)
    assert restored.iteration == 7 and restored.train_s == 12.5
    assert torch.equal(restored.model.weight, state.model.weight)
    assert restored.optimizer.state_dict()["state"][0]["momentum_buffer"].equal(
        state.optimizer.state_dict()["state"][0]["momentum_buffer"]
    )
    assert restored.scheduler.last_epoch == 1
    assert torch.equal(rngs[0]["torch"], rng["torch"])


def test_rng_capture_restores_every_generator() -> None:
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(()).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == first


def test_preserved_and_seeded_blocks_leave_the_streams_alone() -> None:
    state = capture_rng_state()
    expected = torch.rand(3)
    restore_rng_state(state)
    with rng_preserved():
        torch.rand(100)
    with seeded(5):
        a = torch.rand(()).item()
    with seeded(5):
        assert torch.rand(()).item() == a
    assert torch.equal(torch.rand(3), expected)
