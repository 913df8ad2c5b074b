"""Every config key has one schema: unknown keys, wrong types and bad values fail at composition, named."""

from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from hydra.errors import ConfigCompositionException

from roi_ablation.config import RootConfig, compose_config, resolve
from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.identity import not_in_directory_name
from roi_ablation.roi import REGISTRY

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ROI_PRESETS = sorted(p.stem for p in (CONFIGS / "roi").glob("*.yaml"))


def resolved(*overrides: str) -> RootConfig:
    return resolve(compose_config(overrides))


def test_defaults_resolve_to_typed_settings() -> None:
    settings = resolved()
    assert (settings.roi.method, settings.model.name, settings.data.name, settings.train.max_iter) == (
        "align", "small_c4", "shapes", 300)


@pytest.mark.parametrize("preset", ROI_PRESETS)
def test_roi_presets_take_their_geometry_from_the_registry(preset: str) -> None:
    """A preset names a layer and an aggregation (and at most a deliberate change): nothing restated."""
    own_keys = set(yaml.safe_load((CONFIGS / "roi" / f"{preset}.yaml").read_text())) - {"defaults"}
    assert own_keys <= {"method", "agg", "aligned"}
    roi = resolved(f"roi={preset}").roi
    spec = REGISTRY[roi.method]
    for key, value in spec.paper.items():
        if key not in own_keys:
            assert getattr(roi, key) == value


@pytest.mark.parametrize(("override", "message"), [
    ("+roi.output_size=3", "roi.output_size: Key 'output_size' not in 'RoISettings'; valid keys: method, agg"),
    ("+model.stride=16", "model.stride: Key 'stride' not in 'ModelConfig'"),
    ("roi.sampling_ratio=100", "roi.sampling_ratio must be an integer <= 16"),
    ("train.base_lr=nan", "train.base_lr must be a finite number > 0; got nan"),
    ("roi.method=roipool", "roi: unknown RoI method 'roipool'"),
    ("model.arch=c6", "model.arch must be one of c4, c5, fpn; got 'c6'"),
    ("model.detector.min_size=0", "model.detector.min_size must be >= 1"),
    ("data.flip_prob=2", "data.flip_prob"),
    ("device=tpu", "device must be one of auto, cpu, cuda"),
])
def test_bad_values_and_added_keys_fail_when_resolved_with_the_key_named(override: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        resolved(override)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("override", "key"), [
    ("roi.layot=center", "roi.layot"), ("train.max_iter=abc", "train.max_iter"), ("data.nme=coco", "data.nme"),
    ("model.backbone.dpth=18", "model.backbone.dpth"), ("roi.aligned=maybe", "roi.aligned"),
])
def test_typos_and_wrong_types_fail_at_composition(override: str, key: str) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_config([override])
    assert key in f"{info.value} {info.value.__cause__}"


def test_sweep_directories_are_named_without_what_only_launches_or_observes_a_run() -> None:
    """The names come from engine/identity.py, whose keys must still be settings (a rename would go unnoticed)."""
    hydra = compose_config(return_hydra_config=True).hydra
    assert list(hydra.job.config.override_dirname.exclude_keys) == not_in_directory_name()
    root_keys = {f.name for f in fields(RootConfig)} | {f"train.{f.name}" for f in fields(TrainConfig)}
    assert set(not_in_directory_name()) - {"experiment", "hydra.launcher.n_jobs"} <= root_keys

