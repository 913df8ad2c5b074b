"""Apply a sampling plan to features: a sparse gather, then a mean or a max.

Features are read channels-last as a dense ``[cells, C]`` matrix ``F``. A plan becomes a
sparse CSR matrix ``A`` whose rows are bins (mean) or samples (max) and whose columns are
feature cells, so the gather is ``A @ F`` and its exact backward is ``A.T @ grad``. Both
products run as ``embedding_bag(mode="sum")`` (a CSR row is a bag of weighted cells):
row-parallel with the inner loop over contiguous channels, which on CPU is several times
faster than torch's sparse CSR matmul and than torchvision's RoIAlign backward (which
recomputes every bilinear weight for every channel). Each output row is summed in a fixed
order, so results are deterministic.

The mean is folded into the weights: one product forward, one backward. The max keeps a
running maximum over sample *steps*: step ``s`` holds the ``s``-th valid sample of every
bin that has one, so a step is a few vectorised elementwise passes, RoIPool's bins of very
different sizes need no padding, and the arg-max is one byte per output value.

Two strategies share the plan, chosen by device (``strategy_for``):

- **streaming** (CPU): chunks of consecutive RoIs whose intermediates stay cache-sized; a
  chunk is written straight into the ``[K, C, oh, ow]`` output, and its backward product
  covers only the cells its RoIs read. Many small ops, each cache-resident.
- **dense** (CUDA): as few chunks as ``DENSE_BYTES`` allows, every bin a fixed-size bag
  (a padding sample weighs 0, an invalid sample is -inf before the max), the max one
  ``max(dim=1)`` over ``[bins, S, C]``, the backward autograd's (a scatter and one
  ``embedding_bag`` backward). A few dozen launches per call, and no device read where
  the plan's sizes are known without one (fixed sampling ratios).

Both give the same forward values (the max bitwise, the mean up to summation order of
zero-weight entries) and the same gradients up to float summation order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as nnf
from torch import Tensor
from torch.autograd.function import once_differentiable

from .plan import SamplingPlan

# A chunk's dense intermediates ([rows, C] sample values or gradients) hold about this
# many elements: small enough to stay in cache, large enough to amortise per-op overhead.
CHUNK_ELEMENTS = 1 << 20

#: A dense chunk's transient intermediates (the ``[bins, S, C]`` sample values and their
#: gradient for the max; the output and its gradient for the mean) stay under this; what
#: backward keeps is only the max's indices. The C4 box head (128 RoIs x 1024 channels x
#: 14x14) is one chunk for every Table 2c layer.
DENSE_BYTES = 2 << 30

#: Environment variable that forces a strategy (``streaming`` or ``dense``) on any device.
STRATEGY_ENV = "ROI_ABLATION_ROI_STRATEGY"
STRATEGIES = ("streaming", "dense")


def strategy_for(device: torch.device) -> str:
    """``dense`` on CUDA (launches cost more than bytes), ``streaming`` elsewhere, unless forced."""
    forced = os.environ.get(STRATEGY_ENV, "").strip()
    if forced:
        if forced not in STRATEGIES:
            raise ValueError(f"{STRATEGY_ENV}={forced!r} is no RoI strategy; valid: {', '.join(STRATEGIES)} (or unset)")
        return forced
    return "dense" if device.type == "cuda" else "streaming"


@dataclass(frozen=True)
class SparseRows:
    """A CSR matrix kept as raw parts, so that splitting and transposing stay cheap."""

    crow: Tensor
    cols: Tensor
    vals: Tensor
    shape: tuple[int, int]

    @classmethod
    def from_entries(cls, per_row: int, cols: Tensor, vals: Tensor, num_rows: int, num_cols: int) -> "SparseRows":
        """Build from ``[num_rows, per_row]`` entry slots; zero weights are dropped."""
        keep = vals != 0
        counts = keep.reshape(num_rows, per_row).sum(dim=1)
        crow = torch.zeros(num_rows + 1, dtype=torch.long, device=vals.device)
        torch.cumsum(counts, dim=0, out=crow[1:])
        return cls(crow, cols[keep], vals[keep], (num_rows, num_cols))

    def split(self, bounds: list[int]) -> list["SparseRows"]:
        """The row blocks ``[bounds[i], bounds[i + 1])``."""
        entries = self.crow[bounds].tolist()
        return [SparseRows(self.crow[r0 : r1 + 1] - e0, self.cols[e0:e1], self.vals[e0:e1], (r1 - r0, self.shape[1]))
                for r0, r1, e0, e1 in zip(bounds, bounds[1:], entries, entries[1:])]

    def split_transposed(self, bounds: list[int]) -> list[tuple[Tensor, "SparseRows"]]:
        """For each row block of ``split``: the columns it uses and its transpose on them.

        One sort by (block, column, row) serves every block. Leaving out the columns a
        block does not use keeps its backward product as small as the cells it reads.
        """
        device, blocks, (rows, cols) = self.cols.device, len(bounds) - 1, self.shape
        entries = self.crow[bounds].tolist()
        row = torch.repeat_interleave(torch.arange(rows, device=device), self.crow[1:] - self.crow[:-1])
        block = torch.repeat_interleave(torch.arange(blocks, device=device),
                                        torch.tensor(entries, device=device).diff(), output_size=entries[-1])
        keys, order = torch.sort((block * cols + self.cols) * rows + row)  # unique keys: one fixed order
        row, column = keys % rows, keys // rows
        per_column = torch.bincount(column, minlength=blocks * cols)
        used = torch.nonzero(per_column).squeeze(1)
        crow = torch.zeros(used.numel() + 1, dtype=torch.long, device=device)
        torch.cumsum(per_column[used], dim=0, out=crow[1:])
        used_bounds = [0, *torch.bincount(used // cols, minlength=blocks).cumsum(0).tolist()]
        vals = self.vals[order]
        result = []
        for i, (r0, r1) in enumerate(zip(bounds, bounds[1:])):
            (u0, u1), (e0, e1) = used_bounds[i : i + 2], entries[i : i + 2]
            part = SparseRows(crow[u0 : u1 + 1] - e0, row[e0:e1] - r0, vals[e0:e1], (u1 - u0, r1 - r0))
            result.append((used[u0:u1] - i * cols, part))
        return result

    def matmul(self, dense: Tensor) -> Tensor:
        """``self @ dense`` for a dense ``[shape[1], C]`` matrix."""
        if self.cols.numel() == 0:
            return dense.new_zeros(self.shape[0], dense.shape[1])
        # embedding_bag's fast (and always identically rounding) kernel wants a contiguous
        # table that does not require grad; otherwise it takes slower generic paths.
        return nnf.embedding_bag(self.cols, dense.detach().contiguous(), self.crow, mode="sum",
                                 per_sample_weights=self.vals.to(dense.dtype), include_last_offset=True)


@dataclass(frozen=True)
class Chunk:
    """Consecutive RoIs, their bins, and their rows of the gather matrix.

    For the max, the rows are step-major: step ``s`` is the ``s``-th valid sample of the
    chunk's first ``sizes[s]`` bins, the bins being sorted by their number of valid samples
    (most first; ``order[i]`` is the chunk-local plan index of the ``i``-th, ``None`` when
    that is the identity). For the mean, a row is a bin and ``sizes`` is empty.
    """

    rois: slice
    bins: slice
    rows: slice
    sizes: list[int]
    order: Tensor | None


@dataclass(frozen=True)
class Gather:
    """A plan compiled for ``apply_plan``: the sparse matrix and its chunks.

    ``num_steps`` is the largest number of samples of any bin (max only).
    """

    matrix: SparseRows
    chunks: list[Chunk]
    agg: str
    output_size: tuple[int, int]
    num_steps: int = 0

    @cached_property
    def blocks(self) -> list[SparseRows]:
        return self.matrix.split([0, *(chunk.rows.stop for chunk in self.chunks)])

    @cached_property
    def transposed_blocks(self) -> list[tuple[Tensor, SparseRows]]:
        """Built at the first backward only: inference never needs them."""
        return self.matrix.split_transposed([0, *(chunk.rows.stop for chunk in self.chunks)])


def mean_gather(plan: SamplingPlan, channels: int, dtype: torch.dtype) -> Gather:
    """Rows are bins, with the mean folded into the weights; equal chunks of RoIs."""
    per_roi = plan.output_size[0] * plan.output_size[1]
    per_bin = plan.cells.shape[1] * plan.cells.shape[2]
    weights = plan.mean_weights().to(dtype).reshape(-1)
    matrix = SparseRows.from_entries(per_bin, plan.cells.reshape(-1), weights, plan.num_bins, plan.num_cells)
    step = max(1, CHUNK_ELEMENTS // max(1, channels * per_roi))
    chunks = []
    for k0 in range(0, plan.num_rois, step):
        k1 = min(plan.num_rois, k0 + step)
        bins = slice(k0 * per_roi, k1 * per_roi)
        chunks.append(Chunk(slice(k0, k1), bins, bins, [], None))
    return Gather(matrix, chunks, "avg", plan.output_size)


def max_gather(plan: SamplingPlan, channels: int, dtype: torch.dtype) -> Gather:
    """Rows are valid samples in (chunk, step, bin) order.

    Within a chunk, bins with more valid samples come first, and a bin's ``s``-th valid
    sample (in plan order, so ties still go to the plan's first sample) is in step ``s``:
    then every step's bins are a prefix of the chunk's bins.
    """
    valid = plan.valid
    bins, samples, per_sample = plan.cells.shape
    per_roi = plan.output_size[0] * plan.output_size[1]
    counts = valid.sum(dim=1)
    per_chunk = max(1, CHUNK_ELEMENTS // max(1, channels))
    roi_rows = counts.view(-1, per_roi).sum(dim=1)
    chunk = torch.div(torch.cumsum(roi_rows, 0) - roi_rows, per_chunk, rounding_mode="floor").repeat_interleave(per_roi)
    b, s = torch.nonzero(valid, as_tuple=True)
    if bool(valid.all()):
        order, position, step = None, b, s
    else:
        order = torch.argsort(chunk * (samples + 1) + samples - counts, stable=True)
        position = torch.empty_like(order).index_copy_(0, order, torch.arange(bins, device=order.device))[b]
        step = (torch.cumsum(valid, dim=1) - 1)[b, s]
        counts = counts[order]
    by_row = torch.argsort((chunk[b] * samples + step) * bins + position)
    b, s = b[by_row], s[by_row]
    matrix = SparseRows.from_entries(per_sample, plan.cells[b, s].reshape(-1), plan.weights[b, s].to(dtype).reshape(-1),
                                     b.numel(), plan.num_cells)
    return Gather(matrix, _max_chunks(chunk, counts, order, samples, per_roi), "max", plan.output_size, samples)


def _max_chunks(chunk: Tensor, counts: Tensor, order: Tensor | None, samples: int, per_roi: int) -> list[Chunk]:
    """Each chunk's RoIs, bins, rows and step sizes (``counts`` in step order)."""
    if chunk.numel() == 0:
        return []
    ids, bins = torch.unique_consecutive(chunk, return_counts=True)
    hist = torch.bincount(chunk * (samples + 1) + counts, minlength=(int(ids[-1]) + 1) * (samples + 1))
    more_than = hist.view(-1, samples + 1).flip(1).cumsum(1).flip(1)[ids, 1:]  # [chunk, s]: bins with > s samples
    result, b0, row0 = [], 0, 0
    for n, totals in zip(bins.tolist(), more_than.tolist()):
        sizes = [size for size in totals if size > 0]
        rows = slice(row0, row0 + sum(sizes))
        local = None if order is None else order[b0 : b0 + n] - b0
        result.append(Chunk(slice(b0 // per_roi, (b0 + n) // per_roi), slice(b0, b0 + n), rows, sizes, local))
        b0, row0 = b0 + n, rows.stop
    return result


def arg_dtype(steps: int) -> torch.dtype:
    """The smallest integer type that names every step (the arg-max is ``[bins, C]``)."""
    return torch.uint8 if steps <= 256 else torch.int32


def _chunk_max(values: Tensor, chunk: Chunk, arg: Tensor | None) -> Tensor:
    """Max of each of the chunk's bins (plan order) over its step-major sample ``values``.

    Writes the arg-max step of every value into ``arg`` when given. Bins without samples
    get 0. Comparisons write float 0/1 (bool outputs are several times slower on CPU),
    and as steps only grow, the arg-max is ``step = max(step, s * larger)``.
    """
    sizes, bins, channels = chunk.sizes, chunk.bins.stop - chunk.bins.start, values.shape[1]
    row = sizes[0] if sizes else 0
    if row == bins:
        best = values[:bins]  # step 0, updated in place
    else:
        best = values.new_zeros(bins, channels)
        best[:row] = values[:row]
    step = None if arg is None else values.new_zeros(bins, channels)
    larger = values.new_empty(sizes[1] if step is not None and len(sizes) > 1 else 0, channels)
    for s, n in enumerate(sizes[1:], start=1):
        step_values, row = values[row : row + n], row + n
        if step is not None:
            torch.gt(step_values, best[:n], out=larger[:n])
            torch.maximum(step[:n], larger[:n].mul_(s), out=step[:n])
        torch.maximum(best[:n], step_values, out=best[:n])
    if arg is not None and step is not None:  # step is None exactly when arg is
        arg.copy_(step)
    return best if chunk.order is None else torch.empty_like(best).index_copy_(0, chunk.order, best)


def _route(grad: Tensor, arg: Tensor, sizes: list[int]) -> Tensor:
    """A chunk's step-major ``[samples, C]`` gradient: ``grad`` at each arg-max sample, else 0."""
    routed = grad.new_empty(sum(sizes), grad.shape[1])
    is_step = torch.empty_like(arg)
    row = 0
    for s, n in enumerate(sizes):
        torch.eq(arg[:n], s, out=is_step[:n])  # integer 0/1, not bool: faster on CPU
        torch.mul(grad[:n], is_step[:n], out=routed[row : row + n])
        row += n
    return routed


class _PlanPool(torch.autograd.Function):
    """Pool ``features [N, C, H, W]`` into ``[K, C, oh, ow]`` by a compiled plan.

    Max: ties go to the first sample in the plan's order (strict ``>``: deterministic);
    a bin with no valid sample outputs 0 and passes no gradient.
    """

    @staticmethod
    def forward(ctx, features: Tensor, gather: Gather, num_rois: int) -> Tensor:
        n, c, h, w = features.shape
        flat = features.permute(0, 2, 3, 1).reshape(n * h * w, c).contiguous()  # a view for one image
        out = features.new_empty(num_rois, c, *gather.output_size)
        arg = None
        if gather.agg == "max" and ctx.needs_input_grad[0]:
            bins = num_rois * gather.output_size[0] * gather.output_size[1]
            arg = torch.empty(bins, c, dtype=arg_dtype(gather.num_steps), device=features.device)
        for chunk, matrix in zip(gather.chunks, gather.blocks):
            rows = matrix.matmul(flat)
            if gather.agg == "max":
                rows = _chunk_max(rows, chunk, None if arg is None else arg[chunk.bins])
            out[chunk.rois] = rows.view(-1, *gather.output_size, c).permute(0, 3, 1, 2)
        ctx.gather, ctx.feature_shape = gather, features.shape
        ctx.save_for_backward(arg)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (arg,) = ctx.saved_tensors
        gather: Gather = ctx.gather
        n, c, h, w = ctx.feature_shape
        grad_flat = grad.new_zeros(n * h * w, c)
        for chunk, (used, transposed) in zip(gather.chunks, gather.transposed_blocks):
            rows = grad[chunk.rois].permute(0, 2, 3, 1).reshape(-1, c)
            if arg is not None:
                rows = _route(rows if chunk.order is None else rows[chunk.order], arg[chunk.bins], chunk.sizes)
            if used.numel():
                grad_flat.index_add_(0, used, transposed.matmul(rows))
        return grad_flat.view(n, h, w, c).permute(0, 3, 1, 2), None, None


def dense_pool(features: Tensor, plan: SamplingPlan, agg: str) -> Tensor:
    """Pool ``features [N, C, H, W]`` into ``[K, C, oh, ow]`` in few, large, fixed-shape ops.

    Each bin's samples are bags of ``P`` cells (``embedding_bag`` with the plan's weights);
    the mean folds ``1/count`` into the weights and reads a bin as one bag of ``S * P``.
    Ties of the max go to the first sample (``max(dim=1)``'s index), as in ``_chunk_max``.
    """
    n, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(n * h * w, c)
    bins, samples, per_sample = plan.cells.shape
    k, (oh, ow) = plan.num_rois, plan.output_size
    if k == 0:
        return features.new_zeros(0, c, oh, ow)
    per_roi = oh * ow
    size = features.element_size()
    if agg == "avg":
        cells, weights = plan.cells.reshape(bins, -1), plan.mean_weights().to(flat.dtype).reshape(bins, -1)
        step = max(1, DENSE_BYTES // (2 * per_roi * c * size))
    else:
        cells, weights = plan.cells.reshape(-1, per_sample), plan.weights.to(flat.dtype).reshape(-1, per_sample)
        step = max(1, DENSE_BYTES // (2 * per_roi * samples * c * size))
    parts = []
    for k0 in range(0, k, step):
        b0, b1 = k0 * per_roi, min(k, k0 + step) * per_roi
        if agg == "avg":
            parts.append(nnf.embedding_bag(cells[b0:b1], flat, mode="sum", per_sample_weights=weights[b0:b1]))
            continue
        r0, r1 = b0 * samples, b1 * samples
        values = nnf.embedding_bag(cells[r0:r1], flat, mode="sum", per_sample_weights=weights[r0:r1]).view(-1, samples, c)
        if not plan.all_valid:
            values = values.masked_fill(~plan.valid[b0:b1, :, None], float("-inf"))
        best = values.max(dim=1).values
        if not plan.all_valid:  # a bin without samples (RoIPool outside the map) reads 0
            best = torch.where(plan.valid[b0:b1].any(dim=1, keepdim=True), best, 0.0)
        parts.append(best)
    rows = parts[0] if len(parts) == 1 else torch.cat(parts)
    return rows.view(k, oh, ow, c).permute(0, 3, 1, 2)


def apply_plan(features: Tensor, plan: SamplingPlan, agg: str, strategy: str | None = None) -> Tensor:
    """Pool ``features [N, C, H, W]`` by ``plan`` into ``[K, C, oh, ow]`` (mean or max).

    ``strategy`` (``streaming`` or ``dense``) defaults to ``strategy_for(features.device)``.
    """
    if (strategy or strategy_for(features.device)) == "dense":
        return dense_pool(features, plan, agg)
    compile_plan = mean_gather if agg == "avg" else max_gather
    return _PlanPool.apply(features, compile_plan(plan, features.shape[1], features.dtype), plan.num_rois)
