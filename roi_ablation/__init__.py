"""roi-ablation: RoI-layer ablations (RoIPool / RoIWarp / RoIAlign) in Mask R-CNN."""

__version__ = "0.1.0"
