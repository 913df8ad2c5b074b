"""Data order and augmentation are functions of (seed, iteration): resume sees the same batches."""

import itertools

import pytest
import torch

import engine_standins as standins
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.loader import SeededItems, TrainBatches, shard_indices, train_loader


def _ctx(rank: int, world: int) -> DistContext:
    return DistContext(rank=rank, world_size=world, device=torch.device("cpu"))


def _take(batches: TrainBatches, n: int) -> list:
    return list(itertools.islice(iter(batches), n))


def test_stream_resumed_at_k_equals_uninterrupted_tail() -> None:
    full = _take(TrainBatches(10, 3, _ctx(0, 1), seed=1, start_iter=0), 12)
    resumed = _take(TrainBatches(10, 3, _ctx(0, 1), seed=1, start_iter=5), 7)
    assert resumed == full[5:]


def test_epochs_reshuffle_and_cover_the_data() -> None:
    batches = _take(TrainBatches(8, 4, _ctx(0, 1), seed=0, start_iter=0), 4)
    epochs = [[i for b in batches[e * 2 : e * 2 + 2] for _, i in b] for e in range(2)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(8))
    assert epochs[0] != epochs[1]
    assert _take(TrainBatches(8, 4, _ctx(0, 1), seed=1, start_iter=0), 2) != batches[:2]


def test_ranks_get_disjoint_shards() -> None:
    per_rank = [_take(TrainBatches(8, 2, _ctx(r, 2), seed=0, start_iter=0), 2) for r in range(2)]
    indices = [{i for b in batches for _, i in b} for batches in per_rank]
    assert indices[0].isdisjoint(indices[1]) and indices[0] | indices[1] == set(range(8))
    assert list(shard_indices(5, _ctx(1, 2))) == [1, 3]


def test_too_small_a_data_set_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than one step"):
        TrainBatches(3, 4, _ctx(0, 1), seed=0, start_iter=0)


def test_augmentation_is_seeded_per_item_not_by_workers() -> None:
    dataset = standins.Rectangles(1, 4, train=True)
    seeded = SeededItems(dataset)
    flips = {seeded[(s, 0)][1]["boxes"][0, 0].item() for s in range(20)}
    assert len(flips) == 2  # the seed decides the flip...
    assert all(torch.equal(seeded[(s, 1)][0], seeded[(s, 1)][0]) for s in range(5))  # ...deterministically

    def images(workers: int) -> list[torch.Tensor]:
        loader = iter(train_loader(dataset, standins.collate, TrainBatches(4, 2, _ctx(0, 1), 0, 0), workers))
        return [img for _ in range(4) for img in next(loader)[0]]

    assert all(torch.equal(a, b) for a, b in zip(images(0), images(2)))
