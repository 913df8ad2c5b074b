"""Mixed precision on the CPU: train.amp=true means bf16 autocast there (no loss scaling); CUDA keeps fp16."""

from pathlib import Path

import pytest
import torch

import engine_standins as standins
from roi_ablation.engine.build import build_training
from roi_ablation.engine.config import TrainConfig
from roi_ablation.schema import typed
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.evaluate import predict
from roi_ablation.engine.runner import Outcome
from roi_ablation.engine.trainer import autocast_dtype


def test_precision_per_device() -> None:
    assert autocast_dtype(True, torch.device("cpu")) is torch.bfloat16
    assert autocast_dtype(True, torch.device("cuda", 0)) is torch.float16
    assert autocast_dtype(False, torch.device("cpu")) is None


def test_cpu_amp_trains_in_bf16_without_a_scaler(cpu: DistContext) -> None:
    cfg = standins.config(**{"train.amp": True})
    torch.manual_seed(0)
    training = build_training(typed(TrainConfig, cfg.train), standins.build(cfg), cpu, seed=0)
    model = training.state.model
    conv_dtypes: list[torch.dtype] = []
    model.backbone[0].register_forward_hook(lambda m, i, out: conv_dtypes.append(out.dtype))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = iter(training.train_batches(0))
    for _ in range(2):
        losses, _ = training.trainer.step(*next(data))
        assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert conv_dtypes == [torch.bfloat16, torch.bfloat16]
    assert not training.state.scaler.is_enabled()
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32; autocast casts per op
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())

    val = standins.Rectangles(1000, 2, train=False)
    loader = torch.utils.data.DataLoader(val, batch_size=2, collate_fn=standins.collate)
    with torch.autocast("cpu", torch.bfloat16):
        predictions = predict(model, loader, val.label_to_category, cpu.device)
    assert predictions.results["bbox"] and all(torch.isfinite(torch.tensor(r["bbox"])).all() for r in predictions.results["bbox"])


def test_a_whole_cpu_amp_run_completes(tmp_path: Path, cpu: DistContext) -> None:
    assert standins.run_standin(standins.config(**{"train.amp": True, "train.max_iter": 2}), tmp_path, cpu) is Outcome.COMPLETE


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_amp_uses_fp16_with_a_scaler() -> None:
    ctx = DistContext(rank=0, world_size=1, device=torch.device("cuda", 0))
    cfg = standins.config(**{"train.amp": True})
    training = build_training(typed(TrainConfig, cfg.train), standins.build(cfg), ctx, seed=0)
    assert training.trainer.amp_dtype is torch.float16 and training.state.scaler.is_enabled()
    losses, _ = training.trainer.step(*next(iter(training.train_batches(0))))
    assert torch.isfinite(torch.tensor(losses["loss"]))
