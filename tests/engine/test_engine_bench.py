"""The timing helper behind scripts/bench_train.py."""

import torch

import engine_standins as standins
from roi_ablation.engine.bench import benchmark
from roi_ablation.engine.config import TrainConfig
from roi_ablation.schema import typed


def test_benchmark_reports_throughput_and_memory() -> None:
    cfg = standins.config()
    result = benchmark(typed(TrainConfig, cfg.train), standins.build(cfg), torch.device("cpu"), 0, iters=2, warmup=1, eval_images=2)
    assert result["train_images_per_s"] > 0 and result["eval_images_per_s"] > 0
    assert result["peak_rss_mb"] > 50 and result["peak_cuda_mb"] is None
