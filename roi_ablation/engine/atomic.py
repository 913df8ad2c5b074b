"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Every file a run relies on (checkpoints, metrics.json, results) is written to a
temporary file in the same directory, flushed to disk, then renamed over the target.
A process killed mid-write leaves the previous version intact.
"""

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON (strict: NaN is refused, so the file parses everywhere)."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_torch_save(path: Path, obj: Any) -> None:
    """`torch.save` through `atomic_write`."""
    atomic_write(path, lambda f: torch.save(obj, f))
