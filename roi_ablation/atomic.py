"""Atomic file writes, for every package: a reader (or a resumed run) never sees a half-written file.

Every file a run relies on (checkpoints, metrics.json, results) is written to a
temporary file in the same directory, flushed to disk, then renamed over the target.
A process killed mid-write leaves the previous version intact. The temporary file is
created with mode 0666 minus the umask (what `open()` gives), not mkstemp's 0600, so
colleagues on a shared cluster can read the results.

A failing write (disk full, quota, permissions, read-only file system) raises
`WriteError`: an `OSError` whose message names the file, the cause and what to do.
"""

import errno
import io
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

_ADVICE = {
    errno.ENOSPC: "free some space or write the run to another disk (hydra.run.dir=...)",
    errno.EDQUOT: "free some space within your quota or write the run elsewhere (hydra.run.dir=...)",
    errno.EACCES: "check the directory's permissions or write the run elsewhere (hydra.run.dir=...)",
    errno.EPERM: "check the directory's permissions or write the run elsewhere (hydra.run.dir=...)",
    errno.EROFS: "the file system is read-only; write the run elsewhere (hydra.run.dir=...)",
}


class WriteError(OSError):
    """Writing `filename` failed; `str()` is one line: the path, the cause, the fix."""

    def __str__(self) -> str:
        cause = f"{self.strerror} [{errno.errorcode.get(self.errno or 0, self.errno)}]"
        advice = _ADVICE.get(self.errno or 0, "")
        return f"cannot write {self.filename}: {cause}" + (f"; {advice}" if advice else "")


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it to `path`."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as err:
        raise WriteError(err.errno, err.strerror or str(err), str(path)) from err


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON (strict: NaN is refused, so the file parses everywhere)."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_torch_save(path: Path, obj: Any) -> None:
    """`torch.save` through `atomic_write`.

    Serialised in memory first: torch's zip writer turns a failing `write` (a full disk)
    into a RuntimeError that names neither file nor cause; a plain `write` keeps the OSError.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def atomic_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` (a name relative to the link's directory), replacing it atomically."""
    tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}.tmp"
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise WriteError(err.errno, err.strerror or str(err), str(link)) from err
