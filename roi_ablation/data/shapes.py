"""Synthetic shapes: a small COCO-layout data set on which the RoI layer's precision shows.

Each image holds 1..`max_objects` shapes (circle, square, triangle, bar, ring, cross) of
random size, position, rotation and colour on a random background colour, with mild
smooth luminance noise over the whole image. The generator writes real COCO files (instances JSON + PNG images), so
training and evaluation go through exactly the loader and COCOeval used for COCO.

Why it is a fair stand-in for COCO's small and medium objects:
- sizes of `min_size`..`max_size` px (default 12-64 in 192 px images; the model presets
  do not upscale them much) put objects at 1-4 feature cells at stride 16 and under 2
  at stride 32, the regime where quantising a box to cells (RoIPool) moves it by a
  large fraction of its size;
- bars are 3-6 px wide at any angle, thinner than one stride-16 cell, and rings have
  a hole: their masks need sub-cell sampling;
- the class is only in the geometry (colour is random per object), so features must
  come from the right place in the box;
- objects occlude each other; an object's mask is its visible part (as COCO annotators
  draw it) and objects under 40% visible (`min_visible`) are not drawn at all, so
  every drawn pixel belongs to a labelled object or the background;
- masks are stored as polygons (unoccluded polygonal shapes) or compressed RLE
  (circles, rings, occluded shapes), exercising both COCO paths.

What it does not model: natural textures, lighting and clutter, object parts and
articulation, large objects and scale variation beyond ~5x, crowd regions, context
between objects, and the long-tailed class frequencies of COCO. It is easier than
COCO on purpose (high contrast, clean edges) so that a small model trained from
scratch on a CPU reaches clearly non-zero mask AP in a few hundred iterations; absolute
APs are not comparable with COCO's, differences between RoI layers are the signal.

Every image has its own RNG seeded by (seed, split, index), so the output is
byte-identical for the same settings, whatever the order of generation.
"""

import json
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from .cache import materialize

GENERATOR_VERSION = 1  # bump whenever the output for the same settings changes
_MIN_CONTRAST = 100.0  # RGB distance between an object's colour and the background


def _regular(rng: np.random.Generator, radius: float, corners: int) -> np.ndarray:
    angles = rng.uniform(0, 2 * math.pi) + np.arange(corners) * 2 * math.pi / corners
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _rotated(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _square(rng: np.random.Generator, size: float) -> np.ndarray:
    return _regular(rng, size / 2, 4)


def _triangle(rng: np.random.Generator, size: float) -> np.ndarray:
    return _regular(rng, size / 2, 3)


def _bar(rng: np.random.Generator, size: float) -> np.ndarray:
    width = rng.uniform(3, 6)
    half_length = math.sqrt(size**2 - width**2) / 2
    return _rotated(rng, np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [half_length, width / 2])


def _cross(rng: np.random.Generator, size: float) -> np.ndarray:
    t = max(3.0, 0.3 * size) / 2  # half arm thickness
    a = math.sqrt((size / 2) ** 2 - t**2)  # half arm length, corners on the size/2 circle
    outline = [
        (t, t),
        (a, t),
        (a, -t),
        (t, -t),
        (t, -a),
        (-t, -a),
        (-t, -t),
        (-a, -t),
        (-a, t),
        (-t, t),
        (-t, a),
        (t, a),
    ]
    return _rotated(rng, np.array(outline))


def _circle(rng: np.random.Generator, size: float) -> tuple[float, float]:
    return size / 2, 0.0


def _ring(rng: np.random.Generator, size: float) -> tuple[float, float]:
    return size / 2, size / 2 * rng.uniform(0.45, 0.6)


# A shape of diameter `size` lies within size/2 of its centre. Polygons are vertex
# arrays around the origin; discs are (outer, inner) radii.
POLYGONS: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "square": _square,
    "triangle": _triangle,
    "bar": _bar,
    "cross": _cross,
}
DISCS: dict[str, Callable[[np.random.Generator, float], tuple[float, float]]] = {"circle": _circle, "ring": _ring}
SHAPES = (*DISCS, *POLYGONS)


@dataclass(frozen=True)
class ShapesSpec:
    """The generator settings (`DataConfig.shapes_spec`; `configs/data/shapes.yaml` documents each)."""

    num_train: int
    num_val: int
    image_size: int
    classes: tuple[str, ...]
    min_size: float
    max_size: float
    max_objects: int
    min_visible: float
    noise: float
    seed: int

    def settings(self) -> dict[str, Any]:
        """Everything the output depends on, for the cache key."""
        return {**asdict(self), "classes": list(self.classes), "generator_version": GENERATOR_VERSION}


def ensure_shapes(spec: ShapesSpec, root: Path) -> Path:
    """The COCO-layout directory for `spec` under `root`, generated on first use."""
    return materialize(root, spec.settings(), lambda out: generate(spec, out))


def generate(spec: ShapesSpec, out: Path) -> None:
    """Write annotations/instances_{train,val}2017.json and {train,val}2017/*.png into `out`."""
    (out / "annotations").mkdir(parents=True)
    first_image_id, first_ann_id = 1, 1
    for split_index, (split, count) in enumerate((("train", spec.num_train), ("val", spec.num_val))):
        images, annotations = _generate_split(
            spec, out / f"{split}2017", split_index, count, first_image_id, first_ann_id
        )
        dataset = {
            "info": {"description": "roi-ablation synthetic shapes", "settings": spec.settings()},
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": [
                {"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(spec.classes)
            ],
        }
        (out / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(dataset, separators=(",", ":")))
        first_image_id += count
        first_ann_id += len(annotations)


def _generate_split(
    spec: ShapesSpec, image_dir: Path, split_index: int, count: int, first_image_id: int, first_ann_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write one split's images; return its COCO image and annotation records."""
    image_dir.mkdir()
    image_ids = range(first_image_id, first_image_id + count)

    def write_image(index: int) -> list[dict[str, Any]]:
        pixels, objects = render(np.random.default_rng([spec.seed, split_index, index]), spec)
        Image.fromarray(pixels).save(image_dir / _file_name(image_ids[index]), compress_level=1)
        return objects

    # Threads overlap PNG encoding and file creation (both release the GIL); every
    # image has its own RNG, so the output does not depend on scheduling.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        objects_per_image = list(pool.map(write_image, range(count)))
    images = [
        {"id": i, "file_name": _file_name(i), "width": spec.image_size, "height": spec.image_size} for i in image_ids
    ]
    placed = [
        (image_id, obj) for image_id, objects in zip(image_ids, objects_per_image, strict=True) for obj in objects
    ]
    annotations = [{"id": first_ann_id + k, "image_id": i, "iscrowd": 0, **obj} for k, (i, obj) in enumerate(placed)]
    return images, annotations


def _file_name(image_id: int) -> str:
    return f"{image_id:012d}.png"


@dataclass
class _Object:
    category_id: int
    mask: np.ndarray  # bool [H, W], the full shape
    polygon: list[float] | None  # flat x,y list when the shape is a polygon
    colour: np.ndarray


def render(rng: np.random.Generator, spec: ShapesSpec) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One image (uint8 [H, W, 3]) and its annotations (category_id, segmentation, area, bbox)."""
    n = spec.image_size
    background = rng.uniform(30, 225, 3)
    objects = [_sample_object(rng, spec, background) for _ in range(int(rng.integers(1, spec.max_objects + 1)))]
    visible = _visible_masks(objects)
    # Drop the lowest too-occluded object until all pass; dropping never hides anything else.
    while too_hidden := [k for k, o in enumerate(objects) if visible[k].sum() < spec.min_visible * o.mask.sum()]:
        del objects[too_hidden[0]]
        visible = _visible_masks(objects)
    pixels = np.empty((n, n, 3), np.float32)
    pixels[:] = background
    for obj in objects:
        pixels[obj.mask] = obj.colour
    pixels += spec.noise * _smooth_noise(rng, n)[:, :, None]
    pixels = np.clip(pixels, 0, 255).round().astype(np.uint8)
    return pixels, [_annotation(o, v) for o, v in zip(objects, visible, strict=True)]


def _smooth_noise(rng: np.random.Generator, n: int, cell: int = 12) -> np.ndarray:
    """Unit-scale luminance noise varying over ~`cell` px (a bilinearly upsampled random grid).

    Smooth rather than per-pixel: it still makes background and objects non-flat, but
    keeps PNGs ~10x smaller and faster to write than i.i.d. pixel noise would.
    """
    coarse = rng.standard_normal((n // cell + 2, n // cell + 2)).astype(np.float32)
    position = np.arange(n, dtype=np.float32) / cell
    i = position.astype(np.int64)
    f = position - i
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    return rows[:, i] * (1 - f) + rows[:, i + 1] * f


def _sample_object(rng: np.random.Generator, spec: ShapesSpec, background: np.ndarray) -> _Object:
    label = int(rng.integers(len(spec.classes)))
    name = spec.classes[label]
    size = rng.uniform(spec.min_size, spec.max_size)
    centre = rng.uniform(size / 2, spec.image_size - size / 2, 2)
    if name in POLYGONS:
        polygon = np.round(POLYGONS[name](rng, size) + centre, 2).ravel().tolist()
        # Rasterise with pycocotools so the stored polygon and the drawn pixels agree exactly.
        rles = mask_utils.frPyObjects([polygon], spec.image_size, spec.image_size)
        mask = mask_utils.decode(rles)[:, :, 0].astype(bool)
    else:
        outer, inner = DISCS[name](rng, size)
        centres = np.arange(spec.image_size) + 0.5
        d2 = (centres[None, :] - centre[0]) ** 2 + (centres[:, None] - centre[1]) ** 2
        mask, polygon = (d2 <= outer**2) & (d2 >= inner**2), None
    colour = rng.uniform(0, 255, 3)
    while np.linalg.norm(colour - background) < _MIN_CONTRAST:
        colour = rng.uniform(0, 255, 3)
    return _Object(label + 1, mask, polygon, colour)


def _visible_masks(objects: list[_Object]) -> list[np.ndarray]:
    """Each object's pixels not covered by an object drawn after it."""
    covered = np.zeros_like(objects[0].mask)  # never empty: the top object is fully visible
    visible: list[np.ndarray] = []
    for obj in reversed(objects):
        visible.append(obj.mask & ~covered)
        covered |= obj.mask
    return visible[::-1]


def _annotation(obj: _Object, visible: np.ndarray) -> dict[str, Any]:
    if obj.polygon is not None and visible.sum() == obj.mask.sum():
        segmentation: Any = [obj.polygon]
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, *visible.shape))
    else:
        rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
        segmentation = {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}
    return {
        "category_id": obj.category_id,
        "segmentation": segmentation,
        "area": float(mask_utils.area(rle)),
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
    }
