"""engine/distributed.py: which backend the process group uses and which GPU each rank takes."""

from __future__ import annotations

import pytest
import torch

from roi_ablation.engine import distributed


@pytest.mark.parametrize("gpus,local_world,backend", [
    (0, 1, "gloo"), (0, 2, "gloo"),                  # CPU only
    (1, 1, "cpu:gloo,cuda:nccl"),                    # one process per GPU
    (8, 8, "cpu:gloo,cuda:nccl"), (8, 4, "cpu:gloo,cuda:nccl"),
    (1, 2, "gloo"), (2, 3, "gloo"),                  # processes share a GPU: NCCL refuses that
])
def test_backend_needs_a_gpu_per_process_for_nccl(gpus, local_world, backend):
    assert distributed.choose_backend(gpus, local_world) == backend


def test_backend_override_wins():
    assert distributed.choose_backend(8, 8, "gloo") == "gloo"
    assert distributed.choose_backend(1, 2, "nccl") == "nccl"


def test_cuda_index_round_robin_over_the_node_gpus():
    assert [distributed.cuda_index(r, 1) for r in range(3)] == [0, 0, 0]
    assert [distributed.cuda_index(r, 2) for r in range(4)] == [0, 1, 0, 1]
    assert [distributed.cuda_index(r, 8) for r in range(8)] == list(range(8))
    with pytest.raises(ValueError, match="no CUDA device"):
        distributed.cuda_index(0, 0)


def test_resolve_device_wraps_the_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert distributed.resolve_device("cuda", local_rank=1) == torch.device("cuda", 0)
    assert distributed.resolve_device("cpu", local_rank=1) == torch.device("cpu")


def _join_with(monkeypatch, gpus: int, env: dict[str, str]) -> dict:
    seen: dict = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kw: seen.update(kw))
    monkeypatch.delenv(distributed.BACKEND_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    distributed.join_process_group()
    return seen


def test_join_picks_gloo_for_two_ranks_on_one_gpu(monkeypatch):
    seen = _join_with(monkeypatch, 1, {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"})
    assert seen["backend"] == "gloo" and seen["init_method"] == "env://"


def test_join_picks_nccl_for_eight_ranks_on_eight_gpus(monkeypatch):
    assert _join_with(monkeypatch, 8, {"WORLD_SIZE": "16", "LOCAL_WORLD_SIZE": "8"})["backend"] == "cpu:gloo,cuda:nccl"


def test_join_honours_the_override_and_skips_a_single_process(monkeypatch):
    assert _join_with(monkeypatch, 8, {"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "8",
                                       distributed.BACKEND_ENV: "gloo"})["backend"] == "gloo"
    assert _join_with(monkeypatch, 8, {"WORLD_SIZE": "1"}) == {}


def test_a_record_says_where_the_run_trained() -> None:
    DistContext = distributed.DistContext
    assert DistContext(0, 1, torch.device("cpu")).where() == "cpu"
    assert DistContext(0, 1, torch.device("cuda", 0)).where() == "cuda:0"
    assert DistContext(0, 8, torch.device("cuda", 0)).where() == "cuda x8"
