"""RoI layers: geometry -> sampling plan -> sparse gather -> mean or max.

Public API (a contract, see docs/design.md): ``extract``, ``REGISTRY``, ``register``; plus
``build_plan`` (what ``extract`` samples, for drawing), ``RoISettings`` (a layer and its
options, as configs, poolers, run records and tables share them) and the poolers the
models use.
"""

from . import layers as _builtin_layers  # noqa: F401  (registers pool / warp / align)
from . import prpool as _prpool  # noqa: F401  (registers prpool)
from .extract import build_plan, extract
from .geometry import LAYOUTS
from .plan import SamplingPlan
from .registry import AGGREGATIONS, REGISTRY, LayerSpec, register
from .settings import RoISettings

__all__ = ["AGGREGATIONS", "LAYOUTS", "REGISTRY", "LayerSpec", "RoISettings", "SamplingPlan", "build_plan", "extract",
           "register"]
