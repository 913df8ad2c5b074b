"""A run of the stand-ins in its own process, as the CLI would do it (for SIGKILL and torchrun tests).

    python engine_standin_run.py RUN_DIR [dotted.key=value ...]
    torchrun --standalone --nproc_per_node=2 engine_standin_run.py RUN_DIR ...
"""

import logging
import sys
from pathlib import Path

from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).parent))

import engine_standins as standins  # noqa: E402
from roi_ablation.engine import distributed  # noqa: E402
from roi_ablation.engine.runner import Outcome  # noqa: E402

EXIT_CODES = {Outcome.COMPLETE: 0, Outcome.SKIPPED: 0, Outcome.INTERRUPTED: 3}  # anything else: 1


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
    cfg = OmegaConf.merge(standins.config(), OmegaConf.from_dotlist(sys.argv[2:]))
    distributed.join_process_group()
    try:
        outcome = standins.run_standin(cfg, Path(sys.argv[1]))  # type: ignore[arg-type]
    finally:
        distributed.shutdown()
    return EXIT_CODES.get(outcome, 1)


if __name__ == "__main__":
    sys.exit(main())
