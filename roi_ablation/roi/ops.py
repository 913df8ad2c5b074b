"""Apply a sampling plan to features: a sparse gather, then a mean or a max.

Features are read channels-last as a dense ``[cells, C]`` matrix ``F``. A plan becomes a
sparse CSR matrix ``A`` (rows = bins for the mean, rows = samples for the max), so the
forward pass is ``A @ F`` and the backward pass is the exact transpose ``A.T @ grad``.
Both are row-parallel products whose inner loop runs over contiguous channels, which is
why this is several times faster on CPU than torchvision's RoIAlign backward (that kernel
recomputes every bilinear weight for every channel). Row-parallel also means each output
row is summed in a fixed order: results are deterministic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from .plan import SamplingPlan

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

# The max materialises [samples, C] values; bins are processed in chunks of at most this
# many elements so that peak memory stays bounded for large RoIPool bins.
MAX_CHUNK_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class SparseRows:
    """A CSR matrix kept as raw parts, so slicing rows and transposing stay cheap."""

    crow: Tensor
    cols: Tensor
    vals: Tensor
    shape: tuple[int, int]

    @classmethod
    def from_entries(cls, rows_per_slot: int, cols: Tensor, vals: Tensor, num_rows: int, num_cols: int) -> "SparseRows":
        """Build from ``[num_rows, rows_per_slot]`` entry slots; zero weights are dropped."""
        keep = vals != 0
        per_row = keep.reshape(num_rows, rows_per_slot).sum(dim=1)
        crow = torch.zeros(num_rows + 1, dtype=torch.long, device=vals.device)
        torch.cumsum(per_row, dim=0, out=crow[1:])
        return cls(crow, cols[keep], vals[keep], (num_rows, num_cols))

    def rows(self, begin: int, end: int) -> "SparseRows":
        lo, hi = int(self.crow[begin]), int(self.crow[end])
        return SparseRows(self.crow[begin : end + 1] - lo, self.cols[lo:hi], self.vals[lo:hi], (end - begin, self.shape[1]))

    def transpose(self) -> "SparseRows":
        """CSR of the transpose: entries sorted (stably) by column."""
        counts = self.crow[1:] - self.crow[:-1]
        row_of_entry = torch.repeat_interleave(torch.arange(self.shape[0], device=counts.device), counts)
        order = torch.argsort(self.cols, stable=True)
        crow = torch.zeros(self.shape[1] + 1, dtype=torch.long, device=self.cols.device)
        torch.cumsum(torch.bincount(self.cols, minlength=self.shape[1]), dim=0, out=crow[1:])
        return SparseRows(crow, row_of_entry[order], self.vals[order], (self.shape[1], self.shape[0]))

    def matmul(self, dense: Tensor) -> Tensor:
        if self.shape[0] == 0 or self.vals.numel() == 0:
            return dense.new_zeros(self.shape[0], dense.shape[1])
        a = torch.sparse_csr_tensor(self.crow, self.cols, self.vals.to(dense.dtype), self.shape, check_invariants=False)
        return a @ dense


class _SparseGather(torch.autograd.Function):
    """``A @ F`` with the exact backward ``A.T @ grad`` (A is a constant)."""

    @staticmethod
    def forward(ctx, features: Tensor, matrix: SparseRows) -> Tensor:  # type: ignore[override]
        ctx.matrix = matrix
        return matrix.matmul(features)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return ctx.matrix.transpose().matmul(grad.contiguous()), None


class _SegmentMax(torch.autograd.Function):
    """Max over each bin's ``S`` sample rows of ``A @ F``; gradient to the arg-max sample.

    Ties go to the first sample in the plan's order (deterministic). A bin with no valid
    sample outputs 0 and passes no gradient.
    """

    @staticmethod
    def forward(ctx, features: Tensor, matrix: SparseRows, valid: Tensor) -> Tensor:  # type: ignore[override]
        bins, samples = valid.shape
        channels = features.shape[1]
        step = max(1, MAX_CHUNK_ELEMENTS // max(1, samples * channels))
        out = features.new_zeros(bins, channels)
        arg = torch.zeros(bins, channels, dtype=torch.long, device=features.device)
        for b0 in range(0, bins, step):
            b1 = min(bins, b0 + step)
            values = matrix.rows(b0 * samples, b1 * samples).matmul(features).view(b1 - b0, samples, channels)
            values = values.masked_fill(~valid[b0:b1, :, None], float("-inf"))
            out[b0:b1], arg[b0:b1] = values.max(dim=1)
        empty = ~valid.any(dim=1)
        out[empty] = 0
        ctx.save_for_backward(arg, empty)
        ctx.matrix, ctx.samples = matrix, samples
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        arg, empty = ctx.saved_tensors
        matrix, samples = ctx.matrix, ctx.samples
        grad = grad.masked_fill(empty[:, None], 0)
        bins, channels = grad.shape
        step = max(1, MAX_CHUNK_ELEMENTS // max(1, samples * channels))
        grad_features = grad.new_zeros(matrix.shape[1], channels)
        for b0 in range(0, bins, step):
            b1 = min(bins, b0 + step)
            routed = grad.new_zeros(b1 - b0, samples, channels)
            routed.scatter_(1, arg[b0:b1, None, :], grad[b0:b1, None, :])
            chunk = matrix.rows(b0 * samples, b1 * samples).transpose()
            grad_features += chunk.matmul(routed.view(-1, channels))
        return grad_features, None, None


def apply_plan(features: Tensor, plan: SamplingPlan, agg: str) -> Tensor:
    """Pool ``features [N, C, H, W]`` by ``plan`` into ``[K, C, oh, ow]``."""
    n, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(n * h * w, c)
    if agg == "avg":
        per_bin = plan.cells.shape[1] * plan.cells.shape[2]
        weights = plan.mean_weights().to(flat.dtype).reshape(-1)
        matrix = SparseRows.from_entries(per_bin, plan.cells.reshape(-1), weights, plan.num_bins, plan.num_cells)
        pooled = _SparseGather.apply(flat, matrix)
    else:
        p = plan.cells.shape[2]
        weights = (plan.weights * plan.valid[..., None].to(plan.weights.dtype)).to(flat.dtype)
        rows = plan.num_bins * plan.cells.shape[1]
        matrix = SparseRows.from_entries(p, plan.cells.reshape(-1), weights.reshape(-1), rows, plan.num_cells)
        pooled = _SegmentMax.apply(flat, matrix, plan.valid)
    oh, ow = plan.output_size
    return pooled.view(plan.num_rois, oh, ow, c).permute(0, 3, 1, 2).contiguous()
