"""The one conversion from a config node to its typed schema, for every config group.

A schema is a dataclass: OmegaConf checks keys and types against it (as Hydra does when
it composes `configs/train.yaml`), then builds it, and its ``__post_init__`` checks the
values. :func:`typed` runs that path for any node (the composed root, a group's
DictConfig, a plain dict from a script or a test), so each gets the same checks, the
same defaults for the keys it leaves out, and the same one-line error naming the
dotted key. Building a schema directly in Python skips the type step, as for any
dataclass; the type checker (mypy, in the test command) covers that side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

T = TypeVar("T")


def typed(schema: type[T], node: T | DictConfig | Mapping[str, Any], key: str = "") -> T:
    """`node` as a checked `schema` instance: itself if it already is one.

    `key` is the node's dotted place in the root config (``"data"``, ``"train"``), so an
    error names the full key. A value check's own ``ValueError`` (e.g. ``DataError``)
    propagates as raised; a key or type error becomes a ``ValueError`` of one line.
    """
    if isinstance(node, schema):
        return node
    # Through a plain container: a key added with `+` (which Hydra lets past the schema) fails here.
    plain: Any = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(cast(Mapping[str, Any], node))
    try:
        built = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), plain))
    except OmegaConfBaseException as err:
        if isinstance(err.__cause__, ValueError):  # a check in a schema's __post_init__
            raise err.__cause__ from None
        raise ValueError(_describe(err, key)) from None
    assert isinstance(built, schema)
    return built


def _describe(err: OmegaConfBaseException, prefix: str) -> str:
    """One line for a key or type error: the dotted key, what is wrong, and the valid keys."""
    message = str(err).splitlines()[0]
    key = ".".join(part for part in (prefix, getattr(err, "full_key", None) or "") if part)
    schema = getattr(err, "object_type", None)
    if isinstance(err, ConfigKeyError) and schema is not None and is_dataclass(schema):
        message += f"; valid keys: {', '.join(f.name for f in fields(schema))}"
    return f"{key}: {message}" if key else message
