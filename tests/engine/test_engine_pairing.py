"""The sweeps' paired design: with one seed, every row (RoI layer) starts from the same
weights and sees the same batches, so per-seed differences between rows measure the layer
alone (roi_ablation/report/stats.py relies on it). The RoI layers have no parameters; a
layer that drew random numbers, or a preset that changed anything but `roi`, would break
the pairing and these tests."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
import torch

from roi_ablation.config import RootConfig, compose_config, resolve
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.loader import TrainBatches
from roi_ablation.engine.seeding import seed_everything
from roi_ablation.models import build_model
from roi_ablation.roi import REGISTRY

EXPERIMENTS = ("shapes_table2c", "shapes_table2d")
NUM_CLASSES = 6


def _rows(experiment: str) -> list[str]:
    params = compose_config([f"experiment={experiment}"], return_hydra_config=True).hydra.sweeper.params
    return str(params.roi).split(",")


def _config(experiment: str, roi: str, seed: int = 0) -> RootConfig:
    return resolve(compose_config([f"experiment={experiment}", f"roi={roi}", f"seed={seed}"]))


def _start(cfg: RootConfig) -> torch.nn.Module:
    """As the runner starts a run: seed every generator, then build."""
    seed_everything(cfg.seed)
    return build_model(cfg.model, cfg.roi, NUM_CLASSES)


def _batch(size: int) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """One image with two objects, drawn from its own generator (the global one is the model's)."""
    gen = torch.Generator().manual_seed(123)
    masks = torch.zeros(2, size, size, dtype=torch.uint8)
    masks[0, 40:140, 60:200] = 1
    masks[1, 200:260, 220:250] = 1
    target = {
        "boxes": torch.tensor([[60.0, 40.0, 200.0, 140.0], [220.0, 200.0, 250.0, 260.0]]),
        "labels": torch.tensor([1, 3]),
        "masks": masks,
    }
    return [torch.rand(3, size, size, generator=gen)], [target]


def _first_step(cfg: RootConfig) -> tuple[dict[str, float], torch.Tensor]:
    """The RPN's losses and the global RNG state after one training forward of a fresh model."""
    model = _start(cfg)
    model.train()
    images, targets = _batch(cfg.model.detector.min_size)
    losses = model(images, targets)
    rpn = {k: float(v.detach()) for k, v in losses.items() if k in ("loss_objectness", "loss_rpn_box_reg")}
    return rpn, torch.get_rng_state()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_row_starts_from_the_same_weights(experiment: str) -> None:
    rows = _rows(experiment)
    reference = _start(_config(experiment, rows[0]))
    for roi in rows[1:]:
        assert _same_weights(_start(_config(experiment, roi)), reference), f"{roi} starts elsewhere than {rows[0]}"


def test_the_seed_changes_the_weights() -> None:
    assert not _same_weights(_start(_config("shapes_table2c", "align_avg", 0)), _start(_config("shapes_table2c", "align_avg", 1)))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_row_draws_the_same_random_numbers(experiment: str) -> None:
    """Same RPN losses and the same RNG state after a step: no layer consumes randomness."""
    rows = _rows(experiment)
    rpn, state = _first_step(_config(experiment, rows[0]))
    for roi in rows[1:]:
        other_rpn, other_state = _first_step(_config(experiment, roi))
        assert other_rpn == rpn, roi
        assert torch.equal(other_state, state), f"{roi} draws random numbers that {rows[0]} does not"


def test_a_layer_that_draws_random_numbers_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config("shapes_table2c", "align_avg")
    _, clean = _first_step(cfg)
    spec = REGISTRY["align"]

    def noisy(*args: Any, **kwargs: Any) -> Any:
        torch.rand(1)
        return spec.build(*args, **kwargs)

    monkeypatch.setitem(REGISTRY, "align", dataclasses.replace(spec, build=noisy))
    _, drawn = _first_step(cfg)
    assert not torch.equal(drawn, clean)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_row_sees_the_same_batches(experiment: str) -> None:
    """Rows differ only in `roi`: same data, schedule and seed, hence the same index stream."""
    ctx = DistContext(rank=0, world_size=1, device=torch.device("cpu"))

    def stream(cfg: RootConfig) -> list[list[tuple[int, int]]]:
        batches = TrainBatches(cfg.data.num_train, cfg.train.batch_size, ctx, cfg.seed, 0)
        return list(itertools.islice(iter(batches), 600))  # past the first epoch (500 steps)

    def setup(cfg: RootConfig) -> tuple[Any, ...]:
        return dataclasses.asdict(cfg.data), dataclasses.asdict(cfg.train), dataclasses.asdict(cfg.model), cfg.seed

    rows = _rows(experiment)
    reference = _config(experiment, rows[0])
    for roi in rows[1:]:
        cfg = _config(experiment, roi)
        assert setup(cfg) == setup(reference), f"{roi} changes more than the RoI layer"
        assert stream(cfg) == stream(reference)
    assert stream(_config(experiment, rows[0], seed=1)) != stream(reference)
