"""One owner per run directory: an OS-level lock on `<run_dir>/.lock`.

`fcntl.flock` is held by the open file, so the kernel releases it when the process
ends in any way (kill -9 included): there is never a stale lock to clean up. The file
holds the owner's pid, so a refused process can say who holds the directory. The lock
is taken before the run directory is read, so two runs started together cannot both
pass the identity check. It is advisory (tools that ignore it can still write) and
works on local file systems and on NFS v4 (Linux emulates flock with NFS locks there).
"""

import fcntl
import os
from pathlib import Path
from types import TracebackType

from roi_ablation.atomic import WriteError

LOCK_FILE = ".lock"


class RunDirBusy(RuntimeError):
    """Another process holds the run directory; the message names it and the holder's pid."""


class RunDirLock:
    """`with RunDirLock(run_dir):` holds the directory for the block, or raises `RunDirBusy` at once."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> "RunDirLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise WriteError(err.errno, err.strerror or str(err), str(self.path)) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirBusy(
                f"{self.path.parent} is in use by another process (pid {holder}); wait for it to end, or give this "
                "run its own directory (hydra.run.dir=...)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock; the file stays (removing it would race with a new owner)
            self.fd = None
