"""Let glibc keep freed memory for reuse, so a training step does not fault its pages in again.

A step allocates and frees the same large activations every iteration. With its default,
self-adjusting thresholds glibc still hands many of those blocks back to the kernel on
free (mmap-ed blocks, and the top of its heap when trimmed), so the next step's tensors
fault their pages in afresh. PyTorch's CUDA caching allocator keeps freed blocks for the
same reason; on the host, two glibc thresholds do it: blocks up to 32 MiB (glibc's cap)
come from the heap, and the heap is never trimmed, so the process stays at its peak
resident size, as a training job does anyway. Only the allocator's bookkeeping changes,
never a value computed. The faults and the speed-up measured on the twin (`scripts/
bench_train.py --against keep_freed_memory=false`): README, "The twin's cost in fp32".
"""

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
GLIBC_MAX_MMAP_THRESHOLD = 32 * 2**20  # HEAP_MAX_SIZE / 2 on 64-bit: mallopt refuses more
NEVER_TRIM = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        mallopt = None
    if mallopt is None:
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, GLIBC_MAX_MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
    if not applied:
        logger.warning("glibc refused the malloc thresholds (keep_freed_memory); using its defaults")
    return applied
