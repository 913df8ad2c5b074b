"""DataConfig: the `data` schema's defaults, types and ranges, each error naming its key."""

import math

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from roi_ablation.data import DataConfig, DataError, build_dataset
from roi_ablation.schema import typed


def test_defaults_are_valid():
    cfg = DataConfig()
    assert (cfg.name, cfg.root, cfg.on_bad_annotation, cfg.skip_bad_images) == ("coco", None, "error", False)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"name": "imagenet"}, "data.name must be one of coco, shapes; got 'imagenet'"),
        ({"flip_prob": 2}, r"data.flip_prob must be in \[0, 1\]; got 2"),
        ({"flip_prob": math.nan}, r"data.flip_prob must be in \[0, 1\]; got nan"),
        ({"on_bad_annotation": "warn"}, "data.on_bad_annotation must be one of error, skip; got 'warn'"),
        ({"num_val": 0}, "data.num_val must be >= 1; got 0"),
        ({"image_size": 4}, "data.image_size must be >= 8"),
        ({"min_size": 70, "max_size": 60}, "data.min_size and data.max_size must satisfy"),
        ({"max_size": 400}, "data.min_size and data.max_size must .*; got min_size=12.0, max_size=400.0, image_size=192"),
        ({"min_visible": -0.1}, r"data.min_visible must be in \[0, 1\]"),
        ({"noise": -1}, "data.noise must be >= 0"),
        ({"classes": []}, "data.classes must be distinct names from circle, ring"),
        ({"classes": ["ring", "ring"]}, "data.classes must be distinct names"),
        ({"classes": ["ring", "hexagon"]}, "data.classes must be distinct names"),
    ],
)
def test_bad_values_name_the_key(setting, message):
    with pytest.raises(DataError, match=f"^{message}"):
        typed(DataConfig, setting, "data")


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"flip_prob": "abc"}, "data.flip_prob: Value 'abc' of type 'str' could not be converted to Float"),
        ({"num_train": 1.5}, "data.num_train: Value '1.5' of type 'float' could not be converted to Integer"),
        ({"num_train": True}, "data.num_train: Value 'True' of type 'bool' could not be converted to Integer"),
        ({"classes": "circle"}, "data.classes: Invalid value assigned"),
    ],
)
def test_bad_types_from_a_dict_name_the_key(setting, message):
    """A plain dict goes through OmegaConf's type checks, as a composed config does."""
    with pytest.raises(ValueError, match=f"^{message}"):
        build_dataset({"name": "coco", "root": "/tmp", **setting}, "train", train=True)


def test_integers_for_float_keys_become_floats():
    assert type(typed(DataConfig, {"flip_prob": 1}).flip_prob) is float
    spec = DataConfig(min_size=12).shapes_spec()  # built in Python: the generator's cache key still sees 12.0
    assert type(spec.min_size) is float and spec == DataConfig(min_size=12.0).shapes_spec()


def test_from_a_dict_or_dictconfig_with_defaults_for_missing_keys():
    from_dict = typed(DataConfig, {"name": "shapes", "root": "/tmp/x", "num_val": 5})
    from_node = typed(DataConfig, OmegaConf.create({"name": "shapes", "root": "/tmp/x", "num_val": 5}))
    assert from_dict == from_node == DataConfig(name="shapes", root="/tmp/x", num_val=5)
    assert from_dict.flip_prob == 0.5 and from_dict.classes == DataConfig().classes


def test_unknown_key_is_refused_by_name():
    with pytest.raises(ValueError, match="^data.flip_probability: Key 'flip_probability' not in 'DataConfig'; valid keys: .*flip_prob"):
        build_dataset({"name": "coco", "root": "/tmp", "flip_probability": 0.2}, "train", train=True)


def test_works_as_an_omegaconf_schema():
    """Hydra's ConfigStore use: OmegaConf checks the types, to_object runs the value checks."""
    schema = OmegaConf.structured(DataConfig)
    merged = OmegaConf.merge(schema, {"name": "shapes", "flip_prob": 0.25, "classes": ["ring"]})
    assert OmegaConf.to_object(merged) == DataConfig(name="shapes", flip_prob=0.25, classes=["ring"])
    with pytest.raises(ValidationError, match="flip_prob"):
        OmegaConf.merge(schema, {"flip_prob": "abc"})
    with pytest.raises(DataError, match=r"^data.flip_prob must be in \[0, 1\]"):
        OmegaConf.to_object(OmegaConf.merge(schema, {"flip_prob": 3}))
