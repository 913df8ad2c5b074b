"""Data loading whose order and augmentation are functions of (seed, iteration).

The training stream is an endless sequence of epochs; epoch `e` is shuffled by
`DistributedSampler` seeded with (seed, e) and sharded over ranks. Each sample is
loaded under a seed derived from (seed, iteration, rank, slot), so augmentation does
not depend on worker processes or on history. Resuming at iteration `k` replays the
index stream (indices only, no images) up to `k`: the resumed run sees exactly the
batches an uninterrupted run would have seen.
"""

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, Sampler, Subset

from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.seeding import derive_seed, seeded

Collate = Callable[[list[Any]], tuple[list[Any], list[Any]]]
BatchSamplerFactory = Callable[[Sampler[int], int], Iterable[list[int]]]  # (an epoch's sampler, batch size) -> batches


def plain_batches(sampler: Iterable[int], batch_size: int) -> Iterable[list[int]]:
    """Full batches only: every step sees `batch_size` images."""
    return BatchSampler(sampler, batch_size, drop_last=True)


class SeededItems(Dataset):
    """Wraps a data set so that item `(seed, index)` is loaded with all RNGs seeded by `seed`."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        seed, index = key
        with seeded(seed):
            return self.base[index]


class TrainBatches:
    """Endless per-rank batches of `(item_seed, index)` keys, starting at iteration `start_iter`."""

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        ctx: DistContext,
        seed: int,
        start_iter: int,
        make_batches: BatchSamplerFactory = plain_batches,
    ) -> None:
        if math.ceil(num_items / ctx.world_size) < batch_size:
            raise ValueError(
                f"the training set has {num_items} images, fewer than one step needs "
                f"({batch_size} per process x {ctx.world_size}); lower train.batch_size or use more data"
            )
        self.num_items, self.batch_size, self.ctx = num_items, batch_size, ctx
        self.seed, self.start_iter, self.make_batches = seed, start_iter, make_batches

    def _epochs(self) -> Iterator[list[int]]:
        sampler: DistributedSampler[int] = DistributedSampler(
            range(self.num_items),  # type: ignore[arg-type]
            num_replicas=self.ctx.world_size,
            rank=self.ctx.rank,
            shuffle=True,
            seed=self.seed,
        )
        for epoch in itertools.count():
            sampler.set_epoch(epoch)
            yield from self.make_batches(sampler, self.batch_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        batches = itertools.islice(self._epochs(), self.start_iter, None)
        for iteration, batch in enumerate(batches, start=self.start_iter):
            yield [(derive_seed(self.seed, iteration, self.ctx.rank, slot), index) for slot, index in enumerate(batch)]


def train_loader(
    dataset: Dataset,
    collate: Collate,
    batches: TrainBatches,
    num_workers: int,
) -> DataLoader:
    """Endless (images, targets) per-rank batches; workers start when it is first iterated."""
    return DataLoader(
        SeededItems(dataset),
        batch_sampler=batches,
        collate_fn=collate,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(batches.seed),  # never draw from the global RNG
    )


def shard_indices(num_items: int, ctx: DistContext) -> Sequence[int]:
    """This rank's share of an evaluation set: every world_size-th item, in order."""
    return range(ctx.rank, num_items, ctx.world_size)


def eval_loader(dataset: Dataset, collate: Collate, ctx: DistContext, batch_size: int, num_workers: int) -> DataLoader:
    """In-order batches of this rank's shard of `dataset`."""
    return DataLoader(
        Subset(dataset, shard_indices(len(dataset), ctx)),  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )
