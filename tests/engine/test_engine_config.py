"""TrainConfig: the train group's schema holds both yaml files, and every bad value is one line naming its key."""

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import engine_standins as standins
from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.identity import run_identity
from roi_ablation.schema import typed

TRAIN_CONFIGS = Path(__file__).parents[2] / "configs" / "train"


@pytest.mark.parametrize("name", ["cpu", "1x"])
def test_schema_holds_every_yaml_key(name: str) -> None:
    raw = OmegaConf.load(TRAIN_CONFIGS / f"{name}.yaml")
    assert set(raw) <= {f.name for f in fields(TrainConfig)}
    typed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), raw))
    assert isinstance(typed, TrainConfig) and all(getattr(typed, k) == raw[k] for k in raw)


def test_defaults_are_the_cpu_schedule() -> None:
    cpu = OmegaConf.to_container(OmegaConf.load(TRAIN_CONFIGS / "cpu.yaml"))
    assert {k: getattr(TrainConfig(), k) for k in cpu} == cpu  # type: ignore[union-attr]


def test_typed_reads_a_dictconfig_and_keeps_an_instance() -> None:
    node = standins.config(**{"train.steps": [0.5]}).train
    train = typed(TrainConfig, node, "train")
    assert train.steps == [0.5] and type(train.steps) is list and train.max_iter == node.max_iter
    assert typed(TrainConfig, train) is train
    assert typed(TrainConfig, OmegaConf.create({"max_iter": 7})).base_lr == TrainConfig().base_lr  # absent keys: defaults


def test_typed_names_the_dotted_key_of_a_type_or_key_error() -> None:
    with pytest.raises(ValueError, match=r"^train\.max_iter: Value 'abc' of type 'str' could not be converted to Integer"):
        typed(TrainConfig, {"max_iter": "abc"}, "train")
    with pytest.raises(ValueError, match=r"^train\.max_iters: Key 'max_iters' not in 'TrainConfig'; valid keys: max_iter, "):
        typed(TrainConfig, {"max_iters": 5}, "train")
    with pytest.raises(ValueError, match=r"^train\.max_iter must be an integer >= 1; got 0"):  # the value check's own line
        typed(TrainConfig, {"max_iter": 0}, "train")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("base_lr", math.nan, "train.base_lr must be a finite number > 0; got nan"),
        ("base_lr", math.inf, "train.base_lr must be a finite number > 0; got inf"),
        ("base_lr", 0.0, "train.base_lr must be a finite number > 0"),
        ("max_iter", "abc", "train.max_iter must be an integer >= 1; got 'abc'"),
        ("max_iter", 0, "train.max_iter must be an integer >= 1; got 0"),
        ("batch_size", 2.5, "train.batch_size must be an integer >= 1"),
        ("keep_checkpoints", 0, "train.keep_checkpoints must be an integer >= 1"),
        ("eval_period", -5, "train.eval_period must be an integer >= 0"),
        ("checkpoint_period", True, "train.checkpoint_period must be an integer >= 0; got True"),
        ("momentum", 1.0, "train.momentum must be a number in [0, 1)"),
        ("weight_decay", -1e-4, "train.weight_decay must be a finite number >= 0"),
        ("gamma", 0.0, "train.gamma must be a number in (0, 1]"),
        ("warmup_factor", 2.0, "train.warmup_factor must be a number in [0, 1]"),
        ("clip_grad_norm", -1.0, "train.clip_grad_norm must be a finite number > 0, or null"),
        ("clip_grad_norm", math.nan, "train.clip_grad_norm must be"),
        ("amp", "yes", "train.amp must be true or false"),
        ("steps", [2.0], "train.steps must be a list of increasing fractions"),
        ("steps", [0.0], "train.steps must be"),
        ("steps", [0.8, 0.5], "train.steps must be"),
        ("steps", [0.5, 0.5], "train.steps must be"),
        ("steps", [60000], "train.steps must be"),
        ("steps", "0.5", "train.steps must be"),
    ],
)
def test_bad_values_are_refused_naming_the_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(ValueError) as err:
        TrainConfig(**{key: value})  # type: ignore[arg-type]
    assert str(err.value).startswith(expected)


def test_good_edge_values_pass() -> None:
    TrainConfig(steps=[], clip_grad_norm=10, gamma=1.0, warmup_iters=0, eval_period=0, momentum=0.0, base_lr=1)


def test_identity_is_the_same_for_a_dictconfig_and_a_typed_config() -> None:
    @dataclass
    class Root:
        train: TrainConfig = field(default_factory=TrainConfig)
        seed: int = 0

    typed = Root()
    untyped = OmegaConf.create({"train": OmegaConf.to_container(OmegaConf.structured(TrainConfig)), "seed": 0})
    assert run_identity(typed) == run_identity(untyped)
    assert "train.max_iter" in run_identity(typed) and "train.keep_checkpoints" not in run_identity(typed)
