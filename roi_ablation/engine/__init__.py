"""Training and evaluation engine: one module per concern, composed by `runner.run`.

`roi_ablation.train` is the Hydra entry point; it builds data and model and hands them
to `runner.run`, which owns the run directory (resume, checkpoints, metrics.json).
"""
