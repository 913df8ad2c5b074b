"""Processes and devices: one process per device under `torchrun`, or a single process.

`torchrun` sets WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_WORLD_SIZE and the rendezvous address;
the process group is initialised from them (env://). Backend: NCCL for CUDA tensors and
gloo for CPU tensors when every process on a node has a GPU of its own; gloo for both
when the node's processes outnumber its GPUs (NCCL refuses two ranks on one GPU), e.g.
`torchrun --nproc_per_node=2` on a one-GPU machine. ``ROI_ABLATION_DIST_BACKEND``
overrides the choice. Process ``LOCAL_RANK`` uses GPU ``LOCAL_RANK % device_count``.
Under submitit with several tasks per job (``hydra.launcher.tasks_per_node``, e.g.
``hydra/launcher=slurm_8gpu``) every task runs the same Hydra job; ``join_submitit_tasks``
exports the same variables from SLURM's (or submitit-local's) and joins the same group.
Without either everything here degenerates to the single-process case, with no group.
"""

import contextlib
import datetime
import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, number of processes, and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def where(self) -> str:
        """Where the run trains, for its record: ``cpu``, ``cuda:0``, or ``cuda x8`` for 8 processes."""
        return f"{self.device.type} x{self.world_size}" if self.distributed else str(self.device)


BACKEND_ENV = "ROI_ABLATION_DIST_BACKEND"


def cuda_index(local_rank: int, device_count: int) -> int:
    """The GPU of process `local_rank` on its node: one each while they last, then shared round-robin."""
    if device_count < 1:
        raise ValueError(f"cuda_index: no CUDA device to place local rank {local_rank} on")
    return local_rank % device_count


def choose_backend(device_count: int, local_world_size: int, override: str | None = None) -> str:
    """The process group's backend for a node with `device_count` GPUs and `local_world_size` processes.

    NCCL (for CUDA tensors, gloo for CPU ones) needs a GPU per process; with fewer GPUs
    than processes, or none, everything goes through gloo (which also moves CUDA tensors).
    """
    if override:
        return override
    if device_count >= 1 and local_world_size <= device_count:
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    """`cpu` | `cuda` | `auto` (CUDA when available) -> this process's device."""
    if preference not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device={preference!r} is not one of cpu, cuda, auto")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but CUDA is not available on this machine; use device=cpu or device=auto")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", cuda_index(local_rank, torch.cuda.device_count()))


def join_process_group() -> None:
    """Join the `torchrun` process group (env://), if launched by torchrun.

    Called before the config is read, so the group serves both devices: NCCL (when each
    process has a GPU of its own, see `choose_backend`) for CUDA tensors and gloo for CPU
    tensors and the object collectives (job hand-out, gathering evaluation results).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        device_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
        dist.init_process_group(
            backend=choose_backend(device_count, local_world, os.environ.get(BACKEND_ENV) or None),
            init_method="env://",
            timeout=datetime.timedelta(minutes=30),
        )


def join_submitit_tasks() -> bool:
    """Make a submitit job's tasks one process group, as torchrun's processes are; True if joined.

    A no-op outside submitit, for a one-task job, or when a group exists (torchrun). Each
    task keeps every GPU the node gives the job and takes ``LOCAL_RANK``'s.
    """
    if dist.is_initialized() or not os.environ.get("SUBMITIT_EXECUTOR"):
        return False
    import submitit  # the launcher's dependency: present wherever a submitit job runs

    if submitit.JobEnvironment().num_tasks <= 1:
        return False
    submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    join_process_group()
    return True


def make_context(preference: str) -> DistContext:
    """This process's rank, world size and device (pinned: CUDA device = LOCAL_RANK % device count)."""
    device = resolve_device(preference, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)
    return DistContext(rank=0, world_size=1, device=device)


def process_rank() -> int:
    """Rank of this process in the torchrun group (0 without one), before any config is known."""
    return dist.get_rank() if dist.is_initialized() else 0


def broadcast_from_main(obj: Any) -> Any:
    """Rank 0's `obj` on every rank of the process group (others pass anything, e.g. None)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(ctx: DistContext, obj: Any) -> list[Any] | None:
    """Every rank's `obj`, in rank order, on rank 0; None on other ranks."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] | None = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def all_reduce_mean(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Mean of `tensor` over ranks (a NaN or inf on any rank shows up on all of them)."""
    if ctx.distributed:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        tensor /= ctx.world_size
    return tensor


def all_reduce_max(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Maximum of `tensor` over ranks (e.g. "did any rank get a stop signal")."""
    if ctx.distributed:
        tensor = tensor.clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def shutdown() -> None:
    """Leave the process group, if joined; when leaving normally, after a barrier.

    Without the barrier a rank could tear its connections down while another still
    finishes the last hand-out; a tiny two-rank gloo run of train.py aborted at exit
    ("terminate called without an active exception", SIGABRT after metrics.json was
    written) in 1 of 12 tries. With an exception in flight no barrier is waited for:
    the other ranks may never reach it.
    """
    if dist.is_initialized():
        if sys.exc_info()[0] is None:
            with contextlib.suppress(Exception):
                dist.barrier()
        dist.destroy_process_group()
