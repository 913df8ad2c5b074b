"""Training and evaluation engine: one module per concern, composed by `runner.run`.

`roi_ablation.train` is the Hydra entry point; it builds data and model and hands them
to `runner.run`, which owns the run directory (lock, resume, metrics.json). `build.py`
makes the training stack (optimizer, schedule, precision, DDP, loaders, `Trainer`);
`trainer.py` is the step loop and `hooks.py` its duties (checkpoints, evaluation,
TensorBoard, progress, final weights and metrics); `config.py` is the `train` schema.
"""
