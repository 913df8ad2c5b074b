"""`roi-ablation-train`: train and evaluate one run (or a `-m` sweep) in Hydra's run directory.

    roi-ablation-train roi=pool_max model=small_c5 train.max_iter=300
    roi-ablation-train -m roi=pool_max,align_max seed=0,1,2
    torchrun --nproc_per_node=4 -m roi_ablation.train data=coco data.root=/data/coco train=1x

Rerunning a command in an existing run directory resumes it (see engine/runner.py).
Under torchrun only rank 0 runs Hydra (one run directory, one log); it hands each
job's resolved config to the other ranks, which run the same job with it.
"""

import logging
import sys
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from roi_ablation.engine import distributed
from roi_ablation.engine.runner import Components, Outcome, run

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

logger = logging.getLogger(__name__)
_unsuccessful: list[Outcome] = []  # outcomes of this process's jobs that make the exit code 1

Job = tuple[dict[str, Any], str]


def compose_config(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The root config as `roi-ablation-train OVERRIDES...` composes it (for scripts and tests)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)


def build_components(cfg: DictConfig) -> Components:
    """Data sets, model and batching from the config (imported here: the CLI must start even if they fail)."""
    from roi_ablation.data import GroupedBatchSampler, aspect_ratio_group_ids, build_dataset, collate_fn
    from roi_ablation.models import build_model

    train_set = build_dataset(cfg.data, split="train", train=True)
    val_set = build_dataset(cfg.data, split="val", train=False)
    model = build_model(cfg, num_classes=train_set.num_classes)
    if not cfg.data.get("aspect_ratio_grouping", False):
        return Components(model, train_set, val_set, collate_fn)
    group_ids = aspect_ratio_group_ids(train_set)
    return Components(model, train_set, val_set, collate_fn, lambda sampler, bs: GroupedBatchSampler(sampler, group_ids, bs))


def _run_job(job: Job) -> None:
    """Every rank: run one job and remember a failure for the exit code."""
    cfg_dict, run_dir = job
    if cfg_dict.get("cpu_threads"):
        torch.set_num_threads(int(cfg_dict["cpu_threads"]))  # parallel CPU jobs must not oversubscribe the cores
    outcome = run(OmegaConf.create(cfg_dict), Path(run_dir), build_components)
    if outcome in (Outcome.FAILED, Outcome.REFUSED):
        _unsuccessful.append(outcome)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def hydra_main(cfg: DictConfig) -> None:
    """Rank 0 (or the only process): one Hydra job; shared with the other ranks first."""
    job: Job = (OmegaConf.to_container(cfg, resolve=True), HydraConfig.get().runtime.output_dir)  # type: ignore[assignment]
    _run_job(distributed.broadcast_from_main(job))


def _follow() -> None:
    """Ranks other than 0: run each job rank 0 hands out, until it sends None."""
    logging.basicConfig(level=logging.WARNING, format=f"[rank {distributed.process_rank()}] %(levelname)s %(name)s: %(message)s")
    while (job := distributed.broadcast_from_main(None)) is not None:
        _run_job(job)


def main() -> None:
    """Console entry point; exit code 1 if any job failed or was refused."""
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
