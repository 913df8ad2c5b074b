"""A fabricated sweep with known numbers: several seeds, a failed run, a killed run, extras."""

from __future__ import annotations

import json
from pathlib import Path

PRESETS = {
    "pool": dict(sampling_ratio=2, aligned=False, layout="center"),
    "warp": dict(sampling_ratio=2, aligned=False, layout="corner"),
    "align": dict(sampling_ratio=2, aligned=False, layout="center"),
}
MODELS = {16: "small_c4", 32: "small_c5"}


def roi(method: str, agg: str, **changes: object) -> dict[str, object]:
    return {"method": method, "agg": agg, **PRESETS[method], **changes}


def write_run(
    root: Path,
    name: str,
    roi_cfg: dict[str, object],
    seed: int,
    stride: int = 16,
    mask_ap: tuple[float, float, float] | None = None,
    box_ap: tuple[float, float, float] = (0.0, 0.0, 0.0),
    status: str = "complete",
    data: str = "shapes",
    metrics: bool = True,
) -> Path:
    """One Hydra job dir: .hydra/{config,overrides}.yaml, and metrics.json unless killed."""
    run = root / f"{name},seed={seed},stride={stride},data={data}"
    (run / ".hydra").mkdir(parents=True)
    config = {
        "roi": {**roi_cfg, "mask": {}},
        "model": {"name": MODELS[stride]},  # no stride: it is measured, and only metrics.json has it
        "data": {"name": data},
        "train": {"max_iter": 300},
        "seed": seed,
    }
    (run / ".hydra" / "config.yaml").write_text(json.dumps(config))  # JSON is valid YAML
    overrides = [f"roi={name}", f"seed={seed}", f"model={MODELS[stride]}", f"data={data}"]
    (run / ".hydra" / "overrides.yaml").write_text("\n".join(f"- {o}" for o in overrides) + "\n")
    if not metrics:
        return run
    out: dict[str, object] = {
        "roi": roi_cfg, "model": MODELS[stride], "stride": stride, "data": data, "seed": seed,
        "iterations": 300, "train_s": 10.0 + seed, "eval_s": 2.0, "git": "abc1234", "status": status,
        "device": "cpu",
    }
    if status == "complete":
        assert mask_ap is not None
        keys = ("AP", "AP50", "AP75")
        out["segm"] = dict(zip(keys, mask_ap)) | {"APs": 0, "APm": 0, "APl": 0}
        out["bbox"] = dict(zip(keys, box_ap)) | {"APs": 0, "APm": 0, "APl": 0}
    else:
        out["error"] = "RuntimeError: loss is NaN"
    (run / "metrics.json").write_text(json.dumps(out))
    return run


def make_sweep(root: Path) -> Path:
    """Stride 16 and 32 runs; values chosen so means, stds and gains are easy to check."""
    # Table 2c (stride 16). RoIPool max: AP 20, 22, 24 -> mean 22, sample std 2.
    for seed, ap in enumerate((20.0, 22.0, 24.0)):
        write_run(root, "pool_max", roi("pool", "max"), seed, mask_ap=(ap, 40.0, 18.0), box_ap=(25.0, 45.0, 20.0))
    for seed in (0, 1):
        write_run(root, "warp_max", roi("warp", "max"), seed, mask_ap=(23.0 + seed, 41.0, 19.0))
    write_run(root, "warp_avg", roi("warp", "avg"), 0, mask_ap=(23.5, 41.5, 19.5))
    # RoIAlign max: two complete seeds, one failed.
    for seed in (0, 1):
        write_run(root, "align_max", roi("align", "max"), seed, mask_ap=(28.0 + 2 * seed, 48.0, 30.0))
    write_run(root, "align_max", roi("align", "max"), 2, status="failed")
    # RoIAlign avg: two complete seeds, one killed before metrics.json (config only).
    for seed in (0, 1):
        write_run(root, "align_avg", roi("align", "avg"), seed, mask_ap=(30.0, 50.0, 31.0))
    write_run(root, "align_avg", roi("align", "avg"), 2, metrics=False)
    # Extra rows: Detectron2's aligned RoIAlign, RoIPool avg, and a variant whose only seed failed.
    write_run(root, "align_avg_aligned", roi("align", "avg", aligned=True), 0, mask_ap=(31.0, 51.0, 32.0))
    write_run(root, "pool_avg", roi("pool", "avg"), 0, mask_ap=(21.0, 39.0, 17.0))
    write_run(root, "align_max_adaptive", roi("align", "max", sampling_ratio=0), 0, status="failed")
    # Table 2d (stride 32).
    for seed in (0, 1):
        write_run(root, "pool_max", roi("pool", "max"), seed, stride=32,
                  mask_ap=(20.0, 40.0, 15.0), box_ap=(25.0, 50.0, 22.0))
        write_run(root, "align_avg", roi("align", "avg"), seed, stride=32,
                  mask_ap=(27.0, 45.0, 26.0), box_ap=(31.0, 53.0, 31.0))
    write_run(root, "align_max", roi("align", "max"), 0, stride=32, mask_ap=(26.0, 44.0, 25.0), box_ap=(30.0, 52.0, 30.0))
    (root / "multirun.yaml").write_text(
        json.dumps({"hydra": {"overrides": {"task": ["roi=pool_max,align_max", "seed=0,1,2"]}}})
    )
    return root
