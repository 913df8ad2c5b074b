"""A slow, loop-based RoI layer written from the rules in docs/design.md, to check the package.

Deliberately independent of ``roi_ablation``: plain Python loops over RoIs, bins and
samples (numpy only for the channel vector of one sample). Box geometry is computed in
float32, operation by operation as torchvision's kernels do, so that the discontinuous
steps (rounding, ``floor``/``ceil`` of bin edges, the adaptive grid) agree with kernels
that compute in float32; interpolation and pooling are done in float64.

``reference_roi(...)`` returns the pooled output and, for a given output gradient, the
exact gradient w.r.t. the features (mean: the bin's sample weights / count; max: the
arg-max sample's bilinear weights, first sample on ties).
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32

# Sample i of n along a bin side sits at (i + a) / (n + b) of the bin (docs/design.md).
LAYOUT_RULES = {"center": (0.5, 0), "interior": (1.0, 1), "corner": (0.0, 0)}


def c_round(v: float) -> float:
    """C's ``round``: half away from zero (exact for any float32 input, done in float64)."""
    v = float(v)
    return math.copysign(math.floor(abs(v) + 0.5), v)


def bilinear_taps(y: float, x: float, height: int, width: int) -> list[tuple[int, int, float]]:
    """The cells ``(row, col, weight)`` a sample at index-space ``(y, x)`` reads.

    Border rule as torchvision: beyond one cell outside the map (y < -1, y > H, x < -1,
    x > W) the sample reads 0 (no taps); otherwise the position clamps to the map.
    """
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return []
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(math.floor(y)), int(math.floor(x))
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return [(y_low, x_low, hy * hx), (y_low, x_high, hy * lx), (y_high, x_low, ly * hx), (y_high, x_high, ly * lx)]


def _bilinear_bin_samples(roi, method, output_size, spatial_scale, sampling_ratio, aligned, layout, height, width):
    """For every bin ``(ph, pw)``: the list of samples, each a list of taps; and the count."""
    oh, ow = output_size
    scale = F32(spatial_scale)
    coords = [F32(c) * scale for c in roi[1:]]  # float32 product, as the kernels
    if method == "warp":
        coords = [F32(c_round(c)) for c in coords]
    offset = F32(0.5) if aligned else F32(0.0)
    x_start, y_start = coords[0] - offset, coords[1] - offset
    roi_w, roi_h = (coords[2] - offset) - x_start, (coords[3] - offset) - y_start
    if not aligned:  # legacy: a box is at least one cell
        roi_w, roi_h = max(roi_w, F32(1.0)), max(roi_h, F32(1.0))
    bin_h, bin_w = roi_h / F32(oh), roi_w / F32(ow)
    if sampling_ratio > 0:
        grid_h = grid_w = sampling_ratio
    else:
        grid_h, grid_w = max(0, math.ceil(roi_h / F32(oh))), max(0, math.ceil(roi_w / F32(ow)))
    count = max(grid_h * grid_w, 1)
    a, b = LAYOUT_RULES[layout]
    bins = {}
    for ph in range(oh):
        for pw in range(ow):
            samples = []
            for iy in range(grid_h):
                y = y_start + F32(ph) * bin_h + F32(iy + a) * bin_h / F32(grid_h + b)
                for ix in range(grid_w):
                    x = x_start + F32(pw) * bin_w + F32(ix + a) * bin_w / F32(grid_w + b)
                    samples.append(bilinear_taps(float(y), float(x), height, width))
            bins[ph, pw] = samples
    return bins, count


def _pool_bin_cells(roi, output_size, spatial_scale, height, width):
    """RoIPool: every bin's list of cells (each a one-tap sample); count = number of cells."""
    oh, ow = output_size
    scale = F32(spatial_scale)
    x1, y1, x2, y2 = (int(c_round(F32(c) * scale)) for c in roi[1:])
    roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    bin_h, bin_w = F32(roi_h) / F32(oh), F32(roi_w) / F32(ow)
    bins = {}
    for ph in range(oh):
        h0 = min(max(int(math.floor(F32(ph) * bin_h)) + y1, 0), height)
        h1 = min(max(int(math.ceil(F32(ph + 1) * bin_h)) + y1, 0), height)
        for pw in range(ow):
            w0 = min(max(int(math.floor(F32(pw) * bin_w)) + x1, 0), width)
            w1 = min(max(int(math.ceil(F32(pw + 1) * bin_w)) + x1, 0), width)
            bins[ph, pw] = [[(r, c, 1.0)] for r in range(h0, h1) for c in range(w0, w1)]
    return bins


def reference_roi(
    features: np.ndarray,
    rois: np.ndarray,
    method: str,
    agg: str,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int = 2,
    aligned: bool = True,
    layout: str = "center",
    grad_output: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pool ``features [N, C, H, W]`` for ``rois [K, 5]`` by the docs/design.md rules.

    Returns ``(output [K, C, oh, ow], grad_features or None)``.
    """
    features = np.asarray(features, dtype=np.float64)
    rois = np.asarray(rois, dtype=np.float32)
    n, c, height, width = features.shape
    oh, ow = output_size
    out = np.zeros((rois.shape[0], c, oh, ow))
    grad = None if grad_output is None else np.zeros_like(features)
    for k, roi in enumerate(rois):
        batch = int(roi[0])
        fmap = features[batch]
        if method == "pool":
            bins = _pool_bin_cells(roi, output_size, spatial_scale, height, width)
        else:
            bins, count = _bilinear_bin_samples(
                roi, method, output_size, spatial_scale, sampling_ratio, aligned, layout, height, width
            )
        for (ph, pw), samples in bins.items():
            if method == "pool":
                count = len(samples)
            if not samples:  # an empty bin reads 0 and passes no gradient
                continue
            values = np.stack([sum((w * fmap[:, r, q] for r, q, w in taps), np.zeros(c)) for taps in samples])
            g = None if grad is None else grad_output[k, :, ph, pw]
            if agg == "avg":
                out[k, :, ph, pw] = values.sum(axis=0) / count
                if g is not None:
                    for taps in samples:
                        for r, q, w in taps:
                            grad[batch, :, r, q] += g * w / count
            else:
                best = values.argmax(axis=0)  # first sample on ties
                out[k, :, ph, pw] = values[best, np.arange(c)]
                if g is not None:
                    for ch in range(c):
                        for r, q, w in samples[best[ch]]:
                            grad[batch, ch, r, q] += g[ch] * w
    return out, grad
