"""Count the device operations a call issues: the cost model of a RoI layer on a GPU.

On a GPU each tensor operation is at least one kernel launch (5-10 us of host time) and a
read of a device value (``.item()``, ``.tolist()``, ``nonzero``) waits for the queue to
drain, so "how many ops per forward+backward" bounds a layer's speed at small sizes as
much as its arithmetic does. Counting at the dispatcher works on any device, so a CPU
test can bound what the CUDA path launches (with the dense strategy forced).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

#: Ops that read a device value into Python (a host-device synchronisation each) and
#: pass the dispatcher; ``Tensor.tolist`` does not, so it is not seen.
SYNC_OPS = frozenset({"_local_scalar_dense", "nonzero", "equal", "is_nonzero"})


@dataclass(frozen=True)
class LaunchCount:
    """Ops that do work (launch a kernel or read the device), by name; ``syncs`` among them."""

    by_name: dict[str, int]

    @property
    def ops(self) -> int:
        return sum(self.by_name.values())

    @property
    def syncs(self) -> int:
        return sum(n for name, n in self.by_name.items() if name in SYNC_OPS)


def _storages(values: Any) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in tree_leaves(values) if isinstance(t, torch.Tensor)
            and t.device.type != "meta" and t.untyped_storage().nbytes()}


class _Counter(TorchDispatchMode):
    """Counts every op except metadata-only ones: a view, or an op whose tensors all alias
    its inputs without writing them (``_unsafe_view``), or one returning no tensor at all
    (``promote_types``); a device read is counted although it returns a Python number."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        metadata_only = func.is_view or (not func._schema.is_mutable and (
            not outputs or _storages(outputs) <= _storages((args, kwargs))))
        if name in SYNC_OPS or not metadata_only:
            self.counts[name] += 1
        return out


def count_launches(fn: Callable[[], object]) -> LaunchCount:
    """The ops ``fn()`` dispatches (forward and, if it calls backward, autograd's backward)."""
    counter = _Counter()
    with counter:
        fn()
    return LaunchCount(dict(counter.counts))
