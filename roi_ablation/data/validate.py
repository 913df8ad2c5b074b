"""Check a COCO instances file once, before training, so a bad entry fails now and by name.

Without this, a duplicate image id silently trains one image against another's
annotations, and a malformed segmentation crashes pycocotools (an `IndexError` naming
nothing) only when its image is sampled, possibly hours in. Every image entry and
annotation is checked; each problem names the file, the entry, what is wrong and the
fix. With `data.on_bad_annotation=error` (the default) any problem refuses the run;
with `skip` the bad entries are dropped and counted.

The checks of the JSON's content are cached by its SHA-256 (beside the file, or in the
user cache when that directory is read-only), so a rerun pays only for hashing and the
image directory listing, which is redone every time because files may have changed.
"""

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from roi_ablation.atomic import atomic_write
from roi_ablation.values import is_int

from .cache import user_cache_root
from .errors import DataError

logger = logging.getLogger(__name__)

CHECKS_VERSION = 1  # bump when the checks change, so cached results are redone
SHOWN_PROBLEMS = 10  # problems listed in the error; the counts cover all of them
BOX_MARGIN = 0.1  # a bbox may overhang its image by this fraction of the image side (rounding, clipped later)

# Kind of problem -> how to fix it. The kinds are what the counts are per.
FIXES = {
    "bad image entry": "an image entry needs an integer id, a file_name and positive integer width and height",
    "duplicate image id": "give every image entry its own id",
    "unsafe file name": "use a path relative to the image directory, without '..'",
    "missing image file": "add the file to the image directory, or delete its image entry",
    "duplicate annotation id": "give every annotation its own id",
    "bad annotation": "an annotation needs an integer id and image_id, a finite area >= 0 and iscrowd 0 or 1",
    "unknown image id": "use the id of an image entry of this file, or delete the annotation",
    "unknown category id": "use an id from the file's categories, or add the category",
    "bad bbox": "write bbox as [x, y, width, height]: four finite numbers, width and height >= 0",
    "bbox outside image": "write bbox in pixels of its own image ([x, y, width, height], not [x1, y1, x2, y2])",
    "empty segmentation": "give a polygon or an RLE mask, or delete the annotation",
    "bad polygon": "write polygons as lists of x, y pairs: an even number >= 6 of finite numbers (3 points)",
    "bad RLE": 'write an RLE as {"size": [height, width] of its image, "counts": runs summing to height*width}',
}
IMAGE_KINDS = ("bad image entry", "duplicate image id", "unsafe file name", "missing image file")


@dataclass(frozen=True)
class Problem:
    """One bad entry: `index` into the file's `images` (image kinds) or `annotations` list."""

    kind: str
    index: int
    where: str  # "image 5 (a.jpg)" or "annotation 12 (image 3)"
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}; {FIXES[self.kind]}"


def checked_annotations(path: Path, data: dict[str, Any], digest: str, images: Path, on_bad: str) -> dict[str, Any]:
    """`data` (the parsed `path`, SHA-256 `digest`) if it has no problem; else refused, or, with
    `on_bad="skip"`, without the bad entries. `images` is the directory the file names live in."""
    problems = cached_content_problems(path, data, digest) + missing_files(data["images"], images)
    if not problems:
        return data
    if on_bad != "skip":
        raise DataError(refusal(path, problems))
    kept = without(data, problems)
    logger.warning(
        "%s: data.on_bad_annotation=skip dropped %d of %d image entries and %d of %d annotations (%s)",
        path,
        len(data["images"]) - len(kept["images"]),
        len(data["images"]),
        len(data["annotations"]) - len(kept["annotations"]),
        len(data["annotations"]),
        counts(problems),
    )
    return kept


def refusal(path: Path, problems: list[Problem]) -> str:
    """The error for a file with problems: the counts per kind, the first few, the two ways out."""
    entries = "1 bad entry" if len(problems) == 1 else f"{len(problems)} bad entries"
    lines = [f"{path} has {entries} ({counts(problems)}); the first:"]
    lines += [f"  {p}" for p in problems[:SHOWN_PROBLEMS]]
    lines.append("Fix the file, or set data.on_bad_annotation=skip to drop the bad entries and train on the rest.")
    return "\n".join(lines)


def counts(problems: list[Problem]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in Counter(p.kind for p in problems).most_common())


def without(data: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """`data` minus the bad image entries (with all their annotations) and the bad annotations."""
    bad_images = {p.index for p in problems if p.kind in IMAGE_KINDS}
    bad_annotations = {p.index for p in problems if p.kind not in IMAGE_KINDS}
    images = [img for i, img in enumerate(data["images"]) if i not in bad_images]
    dropped_ids = {_id(img) for i, img in enumerate(data["images"]) if i in bad_images}
    annotations = [
        ann
        for i, ann in enumerate(data["annotations"])
        if i not in bad_annotations and ann.get("image_id") not in dropped_ids
    ]
    return {**data, "images": images, "annotations": annotations}


def _id(entry: Any) -> Any:
    return entry.get("id") if isinstance(entry, dict) else None


# -- the cache ---------------------------------------------------------------------------------


def cached_content_problems(path: Path, data: dict[str, Any], digest: str) -> list[Problem]:
    """`content_problems(data)`, read from the cache when this content was checked before."""
    key = {"checks_version": CHECKS_VERSION, "sha256": digest}
    candidates = _cache_files(path, digest)
    for candidate in candidates:
        try:
            stored = json.loads(candidate.read_text())
            if stored["key"] == key:
                return [Problem(**p) for p in stored["problems"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    problems = content_problems(data)
    record = json.dumps({"key": key, "problems": [asdict(p) for p in problems]})
    for candidate in candidates:
        if _write_quietly(candidate, record):
            break
    return problems


def _cache_files(path: Path, digest: str) -> list[Path]:
    """Beside the JSON (found by whoever uses the data set), else in the user's cache."""
    return [path.with_name(f".{path.name}.checked.json"), user_cache_root() / "checked" / f"{digest}.json"]


def _write_quietly(target: Path, text: str) -> bool:
    """Write `target` atomically; False (logged at debug level) where it cannot be written."""
    try:
        atomic_write(target, lambda f: f.write(text.encode("utf-8")))
        return True
    except OSError as err:
        logger.debug("cannot cache the annotation check in %s: %s", target, err)
        return False


# -- the checks -----------------------------------------------------------------------------


def content_problems(data: dict[str, Any]) -> list[Problem]:
    """Every problem of the image entries and annotations (a function of the JSON alone)."""
    images = data["images"]
    problems = list(_image_problems(images))
    flagged = {p.index for p in problems}
    sizes = {img["id"]: (img["width"], img["height"]) for i, img in enumerate(images) if i not in flagged}
    # Annotations of a bad or ambiguous image entry go with it: the image's problem covers them.
    covered = {_id(images[i]) for i in flagged}
    category_ids = {c["id"] for c in data["categories"]}
    problems += _annotation_problems(data["annotations"], sizes, covered, category_ids)
    return problems


def missing_files(images: list[Any], image_dir: Path) -> list[Problem]:
    """Image entries whose file is not in `image_dir` (one directory listing, not a stat per file)."""
    try:
        present = {entry.name for entry in os.scandir(image_dir) if not entry.is_dir()}
    except OSError as err:
        raise DataError(f"cannot list the image directory {image_dir} ({err})") from None
    problems = []
    for index, img in enumerate(images):
        name = img.get("file_name") if isinstance(img, dict) else None
        if not isinstance(name, str) or _unsafe(name):
            continue  # reported by the content checks
        if name not in present and not ("/" in name and (image_dir / name).is_file()):
            problems.append(Problem("missing image file", index, _image_where(img), f"{image_dir / name} not found"))
    return problems


def _positive_size(value: Any) -> bool:
    return (is_int(value) or (type(value) is float and value.is_integer())) and value > 0


def _good_image(img: Any) -> bool:
    return (
        isinstance(img, dict)
        and is_int(img.get("id"))
        and isinstance(img.get("file_name"), str)
        and _positive_size(img.get("width"))
        and _positive_size(img.get("height"))
    )


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not name or name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts


def _image_where(img: Any) -> str:
    if not isinstance(img, dict):
        return f"image entry {img!r:.40}"
    return f"image {img.get('id')!r} ({img.get('file_name')})"


def _image_problems(images: list[Any]) -> Iterator[Problem]:
    id_counts = Counter(img["id"] for img in images if _good_image(img))
    for index, img in enumerate(images):
        where = _image_where(img)
        if not _good_image(img):
            yield Problem("bad image entry", index, where, "has " + _fields(img, "id", "file_name", "width", "height"))
        elif id_counts[img["id"]] > 1:
            yield Problem("duplicate image id", index, where, f"{id_counts[img['id']]} image entries have this id")
        elif _unsafe(img["file_name"]):
            yield Problem("unsafe file name", index, where, f"file_name {img['file_name']!r} leaves the image dir")


def _fields(entry: Any, *keys: str) -> str:
    if not isinstance(entry, dict):
        return "no fields (not an object)"
    return ", ".join(f"{k}={entry.get(k)!r:.30}" for k in keys)


def _annotation_problems(
    annotations: list[Any], sizes: dict[int, tuple[float, float]], covered: set[Any], category_ids: set[Any]
) -> Iterator[Problem]:
    id_counts = Counter(ann.get("id") for ann in annotations if isinstance(ann, dict) and is_int(ann.get("id")))
    for index, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            yield Problem("bad annotation", index, f"annotation entry {index}", f"is {ann!r:.40}, not an object")
            continue
        ann_id, image_id = ann.get("id"), ann.get("image_id")
        where = f"annotation {ann_id!r} (image {image_id!r})"
        found = _annotation_problem(ann, id_counts, sizes, covered, category_ids)
        if found is not None:
            yield Problem(found[0], index, where, found[1])


def _annotation_problem(
    ann: dict[str, Any],
    id_counts: Counter,
    sizes: dict[int, tuple[float, float]],
    covered: set[Any],
    category_ids: set[Any],
) -> tuple[str, str] | None:
    """(kind, detail) of the first thing wrong with `ann`, or None (also when its image entry is bad:
    that problem covers it, and skipping drops the annotation with the image)."""
    ann_id = ann.get("id")
    if not is_int(ann_id) or not is_int(ann.get("image_id")):
        return "bad annotation", f"has {_fields(ann, 'id', 'image_id')}"
    if id_counts[ann_id] > 1:
        return "duplicate annotation id", f"{id_counts[ann_id]} annotations have id {ann_id}"
    size = sizes.get(ann["image_id"])
    if size is None:
        return None if ann["image_id"] in covered else ("unknown image id", f"no image entry has id {ann['image_id']}")
    if ann.get("category_id") not in category_ids:
        return "unknown category id", f"category_id {ann.get('category_id')!r} is not among the categories"
    area, iscrowd = ann.get("area"), ann.get("iscrowd")
    if not _finite_numbers([area]) or cast(float, area) < 0 or iscrowd not in (0, 1):  # area: a finite number here
        return "bad annotation", f"has area={area!r}, iscrowd={iscrowd!r}"
    return _bbox_problem(ann.get("bbox"), size) or _segmentation_problem(ann.get("segmentation"), size)


def _finite_numbers(values: list[Any]) -> bool:
    """All numbers and all finite: `sum` is C-fast, raises on a non-number and is inf/nan if any is."""
    try:
        return math.isfinite(sum(values))
    except TypeError:
        return False


def _bbox_problem(bbox: Any, size: tuple[float, float]) -> tuple[str, str] | None:
    if type(bbox) is not list or len(bbox) != 4 or not _finite_numbers(bbox):
        return "bad bbox", f"bbox is {bbox!r:.60}"
    x, y, w, h = bbox
    if w < 0 or h < 0:
        return "bad bbox", f"bbox {bbox} has a negative width or height"
    width, height = size
    mx, my = BOX_MARGIN * width, BOX_MARGIN * height
    if x < -mx or y < -my or x + w > width + mx or y + h > height + my:
        return "bbox outside image", f"bbox {bbox} lies outside the {width}x{height} image"
    return None


def _segmentation_problem(segmentation: Any, size: tuple[float, float]) -> tuple[str, str] | None:
    if not segmentation:
        return "empty segmentation", f"segmentation is {segmentation!r}"
    if type(segmentation) is list:
        return _polygons_problem(segmentation)
    if type(segmentation) is dict:
        return _rle_problem(segmentation, size)
    return "empty segmentation", f"segmentation is {segmentation!r:.40}, neither polygons nor an RLE"


def _polygons_problem(polygons: list[Any]) -> tuple[str, str] | None:
    for k, polygon in enumerate(polygons):
        if type(polygon) is not list:
            return "bad polygon", f"polygon {k} is {polygon!r:.40}, not a list of coordinates"
        if len(polygon) < 6 or len(polygon) % 2:
            return "bad polygon", f"polygon {k} has {len(polygon)} coordinates"
        if not _finite_numbers(polygon):
            return "bad polygon", f"polygon {k} has a coordinate that is not a finite number"
    return None


def _rle_problem(rle: dict[str, Any], size: tuple[float, float]) -> tuple[str, str] | None:
    width, height = size
    if rle.get("size") != [height, width]:
        return "bad RLE", f"RLE size {rle.get('size')!r} is not the image's [height, width] = [{height}, {width}]"
    counts = rle.get("counts")
    if type(counts) is str:
        runs = _compressed_runs(counts)
    elif type(counts) is list and all(is_int(c) for c in counts):
        runs = counts
    else:
        return "bad RLE", f"RLE counts is {counts!r:.40}, neither a string nor a list of integers"
    if runs is None or (runs and min(runs) < 0) or sum(runs) != height * width:
        return "bad RLE", f"RLE counts do not cover the {width}x{height} image exactly"
    return None


def _compressed_runs(counts: str) -> list[int] | None:
    """The run lengths of a compressed RLE string, None if malformed; pycocotools' rleFrString, vectorised.

    Each run is 5-bit groups, least significant first, 0x20 meaning "more follows" and
    0x10 in the last group the sign; from the fourth run on, each is a delta to the run
    two before it.
    """
    try:
        chars = np.frombuffer(counts.encode("ascii"), np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        return None
    if chars.size == 0:
        return []
    if chars.min() < 0 or chars.max() >= 64 or chars[-1] & 0x20:
        return None
    ends = np.flatnonzero((chars & 0x20) == 0)
    starts = np.concatenate([[0], ends[:-1] + 1])
    shifts = 5 * (np.arange(chars.size) - np.repeat(starts, ends - starts + 1))
    runs = np.add.reduceat((chars & 0x1F) << shifts, starts)
    negative = (chars[ends] & 0x10) != 0
    runs[negative] |= np.left_shift(-1, 5 * (ends - starts + 1)[negative])
    runs[1::2] = np.cumsum(runs[1::2])
    runs[2::2] = np.cumsum(runs[2::2])
    return runs.tolist()
