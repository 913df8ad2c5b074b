"""How samples become batches: the collate function and aspect-ratio grouping.

Grouping puts landscape and portrait images in separate batches, so the model's
batch padding (to the largest image in a batch) wastes less memory and compute.
"""

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from torch.utils.data import Sampler


def collate_fn(batch: Sequence[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    """Keep images and targets as lists: detection images differ in size, so no stacking."""
    images, targets = zip(*batch, strict=True) if batch else ((), ())
    return list(images), list(targets)


class _HasImages(Protocol):
    coco: Any
    image_ids: list[int]


def aspect_ratio_group_ids(dataset: _HasImages) -> list[int]:
    """Group id per sample, 0 for portrait (w/h < 1), 1 for landscape or square, read
    from the annotation file so no image is opened."""
    return [int(dataset.coco.imgs[i]["width"] >= dataset.coco.imgs[i]["height"]) for i in dataset.image_ids]


class GroupedBatchSampler(Sampler[list[int]]):
    """Batches of `batch_size` indices from `sampler`, each batch from one group.

    Every index of one pass over `sampler` is yielded exactly once: indices wait in
    their group's buffer until it is full; at the end the leftovers (fewer than
    `batch_size` per group) are batched group after group. So the length is
    ceil(len(sampler) / batch_size) and only the last batches may mix groups.
    """

    def __init__(self, sampler: Sampler[int], group_ids: Sequence[int], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sampler = sampler
        self.group_ids = list(group_ids)
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[list[int]]:
        buffers: dict[int, list[int]] = defaultdict(list)
        for index in self.sampler:
            buffer = buffers[self.group_ids[index]]
            buffer.append(index)
            if len(buffer) == self.batch_size:
                yield buffer.copy()
                buffer.clear()
        leftovers = [index for buffer in buffers.values() for index in buffer]
        for start in range(0, len(leftovers), self.batch_size):
            yield leftovers[start : start + self.batch_size]

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)  # type: ignore[arg-type]
