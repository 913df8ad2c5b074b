"""RoI layers: geometry -> sampling plan -> sparse gather -> mean or max.

Public API (a contract, see DESIGN.md): ``extract``, ``REGISTRY``, ``register``; plus
``build_plan`` (what ``extract`` samples, for drawing) and the poolers the models use.
"""

from . import layers as _builtin_layers  # noqa: F401  (registers pool / warp / align)
from .extract import AGGREGATIONS, build_plan, extract
from .geometry import LAYOUTS
from .plan import SamplingPlan
from .registry import REGISTRY, register

__all__ = ["AGGREGATIONS", "LAYOUTS", "REGISTRY", "SamplingPlan", "build_plan", "extract", "register"]
