"""The explainer: the seed's RoIAlign pictures and numbers for any setting.

Everything drawn or printed is read from the sampling plan that ``extract`` applies
(``roi_ablation.roi.build_plan``), so the explanation cannot drift from the code.
``roi-ablation-explain`` (``python -m roi_ablation.explain``) is the command.
"""

from roi_ablation.explain.coverage import Coverage, coverage
from roi_ablation.explain.setting import SEED_EXAMPLE, Setting

__all__ = ["SEED_EXAMPLE", "Coverage", "Setting", "coverage"]
