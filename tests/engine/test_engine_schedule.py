"""The lr schedule: linear scaling, warmup, step decay at fractions of the run."""

import pytest
import torch

import engine_standins as standins
from roi_ablation.engine.config import TrainConfig
from roi_ablation.schema import typed
from roi_ablation.engine.schedule import WarmupMultiStep, build_optimizer, build_scheduler, milestones, scaled_lr


def test_lr_scales_linearly_with_batch() -> None:
    assert scaled_lr(TrainConfig(base_lr=0.02, batch_size=4, reference_batch_size=16)) == pytest.approx(0.005)


def test_milestones_are_fractions_of_max_iter() -> None:
    assert milestones([0.6666667, 0.8888889], 90000) == [60000, 80000]
    assert milestones([0.667, 0.889], 300) == [200, 267]


def test_warmup_then_decay() -> None:
    f = WarmupMultiStep([6, 8], gamma=0.1, warmup_iters=4, warmup_factor=0.001)
    assert f(0) == pytest.approx(0.001)
    assert f(2) == pytest.approx(0.001 * 0.5 + 0.5)
    assert [f(i) for i in (4, 5)] == [1.0, 1.0]
    assert f(6) == pytest.approx(0.1) and f(7) == pytest.approx(0.1)
    assert f(8) == pytest.approx(0.01)


def test_scheduler_drives_optimizer_per_iteration() -> None:
    train = typed(TrainConfig, standins.config(**{"train.max_iter": 9, "train.warmup_iters": 0, "train.steps": [0.5]}).train)
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer(model, train)
    sched = build_scheduler(opt, train)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    base = scaled_lr(train)
    assert lrs[:4] == [pytest.approx(base)] * 4 and lrs[5:] == [pytest.approx(base * 0.1)] * 4  # milestone round(4.5)=4
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["weight_decay"] == 1e-4
    # the schedule survives a state_dict round trip (resume)
    fresh = build_scheduler(build_optimizer(model, train), train)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.last_epoch == 9
