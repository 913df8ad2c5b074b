"""How long the annotation check takes on a COCO 2017 train-sized file, cold and cached.

    .venv/bin/python scripts/bench_validate.py                 # 118k images, 860k annotations
    .venv/bin/python scripts/bench_validate.py --images 5000   # quicker, scaled down

Writes a synthetic instances JSON shaped like instances_train2017.json (polygons of
COCO's typical length, ~1% crowd regions as uncompressed RLE, some compressed RLE,
80 categories) and one empty file per image into a temporary directory, then times:
reading + hashing + parsing (what loading costs anyway), the check without a cache
(cold), and with it (the rerun). Needs ~6 GB of memory at full size.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from roi_ablation.data.coco import image_dir, load_annotations
from roi_ablation.data.validate import checked_annotations


def synthetic_instances(num_images: int, num_annotations: int, seed: int = 0) -> dict[str, Any]:
    """A valid COCO instances dict of the given size (640x480 images)."""
    rng = np.random.default_rng(seed)
    width, height = 640, 480
    images = [
        {"id": i, "file_name": f"{i:012d}.jpg", "width": width, "height": height, "license": 1}
        for i in range(1, num_images + 1)
    ]
    square = np.zeros((height, width), np.uint8)
    square[100:200, 150:300] = 1
    compressed = mask_utils.encode(np.asfortranarray(square))
    compressed_rle = {"size": [height, width], "counts": compressed["counts"].decode("ascii")}
    flat = square.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    uncompressed_rle = {"size": [height, width], "counts": np.diff(bounds).tolist()}
    # A pool of objects (polygon and its box) reused across annotations keeps generation quick;
    # the parsed file holds separate objects all the same, so the check does the full work.
    pool = []
    for _ in range(1000):
        n = int(rng.integers(4, 40))  # COCO polygons: a handful to a few dozen points
        x, y = rng.uniform(0, 400), rng.uniform(0, 300)
        polygon = (rng.uniform(0, 1, (n, 2)) * [100.0, 80.0] + [x, y]).round(2).ravel().tolist()
        pool.append(([polygon], [round(x, 2), round(y, 2), 100.0, 80.0]))
    image_ids = rng.integers(1, num_images + 1, num_annotations).tolist()
    annotations = []
    for k in range(num_annotations):
        segmentation: list[list[float]] | dict[str, Any]  # polygons or an RLE
        segmentation, bbox = pool[k % len(pool)]
        iscrowd = 0
        if k % 100 == 0:
            segmentation, iscrowd = uncompressed_rle, 1
        elif k % 100 == 1:
            segmentation = compressed_rle
        annotations.append(
            {
                "id": k + 1,
                "image_id": image_ids[k],
                "category_id": k % 80 + 1,
                "iscrowd": iscrowd,
                "area": 1000.0,
                "bbox": bbox,
                "segmentation": segmentation,
            }
        )
    categories = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in range(1, 81)]
    return {"info": {}, "licenses": [], "images": images, "annotations": annotations, "categories": categories}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=118_287)
    parser.add_argument("--annotations", type=int, default=0, help="default: 7.3 per image, as COCO 2017 train")
    args = parser.parse_args()
    num_annotations = args.annotations or round(args.images * 860_001 / 118_287)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        data = synthetic_instances(args.images, num_annotations)
        path = root / "annotations" / "instances_train2017.json"
        path.parent.mkdir()
        path.write_text(json.dumps(data, separators=(",", ":")))
        images = image_dir(root, "train")
        images.mkdir()
        for img in data["images"]:
            (images / img["file_name"]).touch()
        del data
        print(
            f"synthetic file: {args.images} images, {num_annotations} annotations, "
            f"{path.stat().st_size / 1e6:.0f} MB (written in {time.perf_counter() - start:.1f} s)"
        )
        for label in ("cold", "cached"):
            start = time.perf_counter()
            data, digest = load_annotations(path)
            loaded = time.perf_counter()
            checked_annotations(path, data, digest, images, "error")
            done = time.perf_counter()
            print(f"{label:>6}: read+hash+parse {loaded - start:.1f} s, check {done - loaded:.2f} s")
            del data


if __name__ == "__main__":
    main()
