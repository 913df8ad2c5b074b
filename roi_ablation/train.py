"""`roi-ablation-train`: train and evaluate one run (or a `-m` sweep) in Hydra's run directory.

    roi-ablation-train roi=pool_max model=small_c5 train.max_iter=300
    roi-ablation-train -m roi=pool_max,align_max seed=0,1,2
    torchrun --nproc_per_node=4 -m roi_ablation.train data=coco data.root=/data/coco train=1x

This is the composition root: the only module that reads a composed config. It resolves
the config into typed settings (`roi_ablation.config.resolve`: one clear line for any bad
key or value), builds the data sets and the model from them, and hands the run to the
engine. Rerunning a command in an existing run directory resumes it (engine/runner.py).
A job never raises into Hydra: a failure is recorded in its metrics.json and the sweep
goes on, so the sweep callback always builds the tables. A signal stops the whole command;
in a parallel sweep, the sweep's stop file does (`engine/sweep_stop.py`). Under torchrun
only rank 0 runs Hydra (one run directory, one log); it hands each job's config to the
other ranks.
"""

import logging
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from roi_ablation.config import CONFIG_DIR, RootConfig, compose_config, register_configs, resolve
from roi_ablation.engine import distributed
from roi_ablation.engine.build import Components
from roi_ablation.engine.host_memory import keep_freed_memory
from roi_ablation.engine.metrics import RunRecord, write_metrics
from roi_ablation.engine.runner import Outcome, RunSpec, run
from roi_ablation.engine.sweep_stop import stop_file

__all__ = ["apply_process_settings", "build_components", "compose_config", "main"]

logger = logging.getLogger(__name__)
_unsuccessful: list[Outcome] = []  # outcomes of this process's jobs that make the exit code 1
_command_pid: int | None = None  # the command's own process (each rank's); a parallel launcher's workers differ

Job = tuple[dict[str, Any], str, str | None]  # config, run directory, the sweep's stop file
register_configs()


def build_components(settings: RootConfig) -> Components:
    """Data sets, model and batching from the settings (imported here: the CLI must start even if they fail)."""
    from roi_ablation.data import GroupedBatchSampler, aspect_ratio_group_ids, build_dataset, collate_fn
    from roi_ablation.models import build_model, feature_stride

    train_set = build_dataset(settings.data, split="train", train=True)
    val_set = build_dataset(settings.data, split="val", train=False)
    model = build_model(settings.model, settings.roi, train_set.num_classes)
    components = Components(model, train_set, val_set, collate_fn, stride=feature_stride(model))
    if settings.data.aspect_ratio_grouping:
        group_ids = aspect_ratio_group_ids(train_set)
        components.make_batches = lambda sampler, bs: GroupedBatchSampler(sampler, group_ids, bs)
    return components


def _record_bad_config(cfg: dict[str, Any], run_dir: Path, error: str) -> None:
    """metrics.json of a job whose config was refused, described as far as the config goes."""
    write_metrics(run_dir, RunRecord.from_config(cfg).ended("failed", error=error))


def _in_command_process() -> bool:
    """False in a joblib worker (where `main` never ran, or its globals came pickled from the parent)."""
    return _command_pid == os.getpid()


def apply_process_settings(settings: RootConfig) -> None:
    """What a job sets for its whole process before it builds anything: threads and the allocator."""
    if settings.cpu_threads:
        torch.set_num_threads(settings.cpu_threads)  # parallel CPU jobs must not oversubscribe the cores
    if settings.keep_freed_memory:
        keep_freed_memory()


def _run_job(job: Job) -> None:
    """Every rank: resolve and run one job; remember a failure for the exit code."""
    cfg_dict, run_dir, stop = job
    if stop is not None and Path(stop).exists():
        logger.warning("%s not started: the sweep is stopping; rerun the command to run it", run_dir)
        _unsuccessful.append(Outcome.INTERRUPTED)
        return
    try:
        settings = resolve(OmegaConf.create(cfg_dict))
    except ValueError as err:
        logger.error("%s", err)
        if distributed.process_rank() == 0:
            _record_bad_config(cfg_dict, Path(run_dir), str(err))
        _unsuccessful.append(Outcome.FAILED)
        return
    apply_process_settings(settings)
    record = RunRecord(settings.roi, settings.model.name, None, settings.data.name, settings.seed)
    try:
        outcome = run(RunSpec.of(settings), Path(run_dir), partial(build_components, settings), record,
                      stop_file=Path(stop) if stop else None)
    except Exception:  # a bug: keep its traceback, but let the sweep go on (the runner recorded it as failed)
        logger.exception("the run in %s failed with an unexpected error", run_dir)
        outcome = Outcome.FAILED
    except KeyboardInterrupt:  # Ctrl-C before training started (or twice): nothing to save yet
        if _in_command_process():
            raise
        logger.warning("%s interrupted before its first step; rerun the command to run it", run_dir)
        outcome = Outcome.INTERRUPTED
    if outcome is Outcome.INTERRUPTED and _in_command_process():
        sys.exit(1)  # a signal stops the whole command, not just this job of a sweep
    if outcome is not Outcome.COMPLETE and outcome is not Outcome.SKIPPED:
        _unsuccessful.append(outcome)  # a worker's job returns: the sweep's callback reports it


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def hydra_main(cfg: DictConfig) -> None:
    """Rank 0 (or the only process): one Hydra job; shared with the other ranks first.

    Under submitit with several tasks each task runs this with the same job: they join one
    process group for it (rank 0's job is the one run) and leave it after.
    """
    hydra_cfg = HydraConfig.get()
    stop = str(stop_file(hydra_cfg.sweep.dir)) if hydra_cfg.mode == RunMode.MULTIRUN else None
    job: Job = (OmegaConf.to_container(cfg, resolve=True), hydra_cfg.runtime.output_dir, stop)  # type: ignore[assignment]
    own_group = distributed.join_submitit_tasks()
    if own_group and distributed.process_rank() != 0:
        _log_as_follower()  # rank 0 alone writes the run's train.log, as under torchrun
    try:
        _run_job(distributed.broadcast_from_main(job))
    finally:
        if own_group:
            distributed.shutdown()


def _log_as_follower() -> None:
    """Ranks other than 0 log warnings only, to stderr, marked with their rank."""
    logging.basicConfig(level=logging.WARNING, force=True,
                        format=f"[rank {distributed.process_rank()}] %(levelname)s %(name)s: %(message)s")


def _follow() -> None:
    """Ranks other than 0: run each job rank 0 hands out, until it sends None."""
    _log_as_follower()
    while (job := distributed.broadcast_from_main(None)) is not None:
        _run_job(job)


def _unwritable_output(argv: list[str]) -> str | None:
    """Why the run (or sweep) directory cannot be created, before Hydra tries and fails with a traceback."""
    multirun = "-m" in argv or "--multirun" in argv
    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    target = next((Path(a[len(key):]) for a in argv if a.startswith(key)), Path("outputs"))
    existing = next(p for p in (target, *target.absolute().parents) if p.exists())
    if not existing.is_dir():
        return f"cannot create {target}: {existing} is a file, not a directory; choose another with {key}DIR"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot create {target}: {existing} is not writable; choose another with {key}DIR"
    return None


def main() -> None:
    """Console entry point; exit code 1 if any job failed, was refused or interrupted."""
    global _command_pid
    _command_pid = os.getpid()
    if problem := _unwritable_output(sys.argv[1:]):
        print(f"roi-ablation-train: error: {problem}", file=sys.stderr)
        sys.exit(2)
    distributed.join_process_group()
    try:
        if distributed.process_rank() == 0:
            try:
                hydra_main()
            finally:
                distributed.broadcast_from_main(None)  # release the other ranks, also after a Hydra error
        else:
            _follow()
    finally:
        distributed.shutdown()
    if _unsuccessful:
        sys.exit(1)


if __name__ == "__main__":
    main()
