"""Build a generated directory once, atomically, under a name derived from its settings.

Several sweep jobs may start at once on an empty cache: each builds into its own
temporary directory next to the target and renames it into place. The first rename
wins; a loser finds the target present and uses it (the builds are deterministic, so
both copies are identical). A reader therefore never sees a half-written directory,
and changed settings get a new name instead of silently reusing a stale build.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import DataError


CACHE_ENV = "ROI_ABLATION_CACHE"
DEFAULT_CACHE = "~/.cache/roi-ablation"


def cache_root_setting() -> str:
    """$ROI_ABLATION_CACHE or ~/.cache/roi-ablation, as written (the `${roi_ablation.cache:}` of `configs/data`)."""
    return os.environ.get(CACHE_ENV) or DEFAULT_CACHE


def user_cache_root() -> Path:
    """Where generated and derived data go unless configured."""
    return Path(cache_root_setting()).expanduser()


def settings_key(settings: Mapping[str, Any]) -> str:
    """A short, stable hash of JSON-serialisable settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def materialize(root: Path, settings: Mapping[str, Any], build: Callable[[Path], None]) -> Path:
    """`root/<settings_key>`, calling `build(tmp_dir)` first if it does not exist yet."""
    target = root / settings_key(settings)
    if target.is_dir():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    except OSError as err:
        raise DataError(
            f"cannot write the generated data set under {root} ({err}); set data.root=DIR to a writable directory"
        ) from None
    try:
        build(tmp)
        (tmp / "settings.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # no-op once renamed
    return target


def publish(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`, or keep the `target` a parallel job published first."""
    try:
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
