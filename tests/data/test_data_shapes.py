"""The synthetic shapes generator: deterministic, cached by settings, parallel-safe, COCO-loadable."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from roi_ablation.config import register_configs
from roi_ablation.data import DataConfig, ShapesSpec, build_dataset, cache, ensure_shapes, num_classes
from roi_ablation.data.cache import user_cache_root
from roi_ablation.data.shapes import SHAPES, generate

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = {"num_train": 12, "num_val": 3, "image_size": 64, "min_size": 10, "max_size": 28, "max_objects": 5}


def tiny_spec(**overrides) -> ShapesSpec:
    return DataConfig(name="shapes", **{**TINY, **overrides}).shapes_spec()


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_settings_give_identical_bytes(tmp_path):
    spec = tiny_spec(classes=list(SHAPES))
    generate(spec, tmp_path / "a")
    generate(spec, tmp_path / "b")
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert len(a) == 2 + 12 + 3 and a == b
    generate(tiny_spec(classes=list(SHAPES), seed=1), tmp_path / "c")
    assert files(tmp_path / "c") != a


def test_loads_through_the_coco_loader(tmp_path):
    cfg = {"name": "shapes", "root": str(tmp_path), "flip_prob": 0.0, **TINY, "classes": ["ring", "bar", "cross"]}
    ds = build_dataset(cfg, "train", train=True)
    assert ds.num_classes == 4 == num_classes(cfg)
    assert ds.category_names == ["__background__", "ring", "bar", "cross"]
    assert ds.label_to_category == [0, 1, 2, 3]
    segmentations = [a["segmentation"] for a in ds.coco.anns.values()]
    assert any(isinstance(s, list) for s in segmentations) and any(isinstance(s, dict) for s in segmentations)
    for image, target in (ds[i] for i in range(len(ds))):
        assert image.shape == (3, 64, 64)
        masks = target["masks"]
        assert masks.sum(dim=(1, 2)).min() > 0
        assert masks.sum(dim=0).max() <= 1  # visible parts of occluding objects never overlap
        for box, mask in zip(target["boxes"], masks, strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    val = build_dataset(cfg, "val", train=False)
    assert len(val) == 3 and not set(val.image_ids) & set(ds.image_ids)


def test_generated_once_per_settings(tmp_path, monkeypatch):
    first = ensure_shapes(tiny_spec(), tmp_path)
    assert first.parent == tmp_path and json.loads((first / "settings.json").read_text())["seed"] == 0
    monkeypatch.setattr("roi_ablation.data.shapes.generate", lambda *a: pytest.fail("regenerated"))
    assert ensure_shapes(tiny_spec(), tmp_path) == first
    assert ensure_shapes(tiny_spec(min_size=10.0), tmp_path) == first  # 10 == 10.0
    monkeypatch.undo()
    assert ensure_shapes(tiny_spec(seed=1), tmp_path) != first


def test_root_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ds = build_dataset({"name": "shapes", "root": "~/cache", **TINY}, "val", train=False)
    assert ds.image_dir.parents[1] == tmp_path / "cache"


def test_a_parallel_job_that_published_first_wins(tmp_path):
    settings = {"x": 1}
    target = tmp_path / cache.settings_key(settings)

    def build(out: Path) -> None:
        (out / "mine").write_text("")
        target.mkdir()  # another job renames its copy into place meanwhile
        (target / "theirs").write_text("")

    assert cache.materialize(tmp_path, settings, build) == target
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left behind
    assert [p.name for p in target.iterdir()] == ["theirs"]


def test_two_concurrent_generations(tmp_path, monkeypatch):
    """Both jobs generate, then publish at the same moment: one rename wins, both use it."""
    barrier = threading.Barrier(2, timeout=30)
    publish = cache.publish

    def publish_together(tmp: Path, target: Path) -> None:
        barrier.wait()
        publish(tmp, target)

    monkeypatch.setattr(cache, "publish", publish_together)
    results: list[Path] = []
    jobs = [
        threading.Thread(target=lambda: results.append(ensure_shapes(tiny_spec(), tmp_path))) for _ in range(2)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert len(results) == 2 and results[0] == results[1]
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]
    generate(tiny_spec(), tmp_path / "fresh")
    assert files(results[0]).keys() - {"settings.json"} == files(tmp_path / "fresh").keys()


def test_hydra_composes_both_data_sets(tmp_path):
    from roi_ablation.config import compose_config

    shapes = compose_config([f"data.root={tmp_path / 'cache'}", *(f"data.{k}={v}" for k, v in TINY.items())])
    coco = compose_config(["data=coco"])
    assert shapes.data.name == "shapes" and shapes.data.flip_prob == 0.5 and shapes.data.filter_empty is True
    assert len(build_dataset(shapes.data, "val", train=False)) == 3
    assert coco.data.name == "coco" and coco.data.root is None


def test_default_root_uses_the_cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ROI_ABLATION_CACHE", str(tmp_path))
    register_configs()  # the `${roi_ablation.cache:}` resolver, as the CLI registers it
    assert OmegaConf.load(CONFIGS / "data" / "shapes.yaml").root == f"{tmp_path}/shapes" == str(user_cache_root() / "shapes")


def test_objects_lie_inside_the_image():
    from roi_ablation.data.shapes import render

    spec = tiny_spec(classes=list(SHAPES))
    for index in range(20):
        pixels, objects = render(np.random.default_rng([0, 0, index]), spec)
        assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
        for obj in objects:
            x, y, w, h = obj["bbox"]
            assert x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64 and obj["area"] > 0
