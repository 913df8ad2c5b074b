"""Reading values from parsed YAML and JSON (configs, annotations, run records).

One definition for every package, because Python's ``bool`` is an ``int``: a YAML ``true``
must not pass as a sampling ratio, an iteration count or an annotation id; and because a
Hydra file on disk holds interpolations that only a composed config resolves.
"""

import math
from typing import Any


def is_int(value: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool (NaN and infinities are not numbers here)."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def select(tree: Any, key: str) -> Any:
    """`tree["a"]["b"]` for key "a.b"; None when absent or an interpolation left unresolved (`${...}`)."""
    for part in key.split("."):
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return None if isinstance(tree, str) and tree.startswith("${") else tree
