"""`RunSpec`: what the engine reads of a run's config, and nothing more.

The runner needs the schedule (`TrainConfig`), the seed, the device, whether to run
deterministically, and the run's identity (to refuse resuming a directory that holds
another run). The entry point builds the spec from the resolved config; the model and
the data reach the engine only as built `Components`, through the builder it is given.
"""

from dataclasses import dataclass
from typing import Any

from roi_ablation.engine.config import TrainConfig
from roi_ablation.engine.identity import run_identity
from roi_ablation.schema import typed


@dataclass(frozen=True)
class RunSpec:
    """One run as the engine sees it."""

    train: TrainConfig
    seed: int
    identity: dict[str, Any]  # engine/identity.py: the settings that define the run's result
    device: str = "auto"  # cpu | cuda | auto
    deterministic: bool = False

    @classmethod
    def of(cls, cfg: Any) -> "RunSpec":
        """The spec of a root config: the typed `RootConfig`, or a DictConfig with its keys."""
        return cls(typed(TrainConfig, cfg.train, "train"), int(cfg.seed), run_identity(cfg), str(cfg.device),
                   bool(cfg.deterministic))
