"""Every model preset x every RoI preset builds, with the configured RoI layer in both branches."""

import sys
from pathlib import Path

import pytest
import torch
from hydra.errors import MissingConfigException
from torchvision.models.detection import MaskRCNN

from roi_ablation.config import compose_config
from roi_ablation.models import feature_stride
from roi_ablation.roi import REGISTRY
from roi_ablation.roi.poolers import RoIPooler

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))
ROIS = sorted(p.stem for p in (CONFIGS / "roi").glob("*.yaml"))


def test_the_presets_of_the_design_exist() -> None:
    assert {"r50_c4", "r50_c5", "r50_fpn", "small_c4", "small_c5"} <= set(MODELS)
    assert {f"{m}_{a}" for m in ("pool", "warp", "align") for a in ("max", "avg")} <= set(ROIS)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("roi", ROIS)
def test_every_model_with_every_roi_layer(settings, build, model: str, roi: str) -> None:
    layer = settings(f"roi={roi}").roi
    built = build(f"model={model}", f"roi={roi}")
    assert isinstance(built, MaskRCNN)
    heads = built.roi_heads
    for pooler in (heads.box_roi_pool, heads.mask_roi_pool):
        assert isinstance(pooler, RoIPooler)
        assert f"method='{layer.method}'" in repr(pooler) and f"agg='{layer.agg}'" in repr(pooler)
        assert (pooler.sampling_ratio, pooler.aligned, pooler.layout) == (layer.sampling_ratio, layer.aligned, layer.layout)
    assert f"method='{layer.method}'" in repr(built)


@pytest.mark.parametrize(("model", "stride"), [("small_c4", 16), ("small_c5", 32), ("r50_c4", 16), ("r50_c5", 32),
                                               ("r50_fpn", 4)])
def test_the_stride_is_measured_on_the_built_backbone(build, model: str, stride: int) -> None:
    assert feature_stride(build(f"model={model}")) == stride


def test_cli_style_overrides_reach_the_poolers(build) -> None:
    heads = build("roi=align_max", "roi.aligned=true", "roi.sampling_ratio=0", "roi.layout=interior",
                  "roi.mask={agg: avg}").roi_heads
    box, mask = heads.box_roi_pool, heads.mask_roi_pool
    assert (box.method, box.agg, box.sampling_ratio, box.aligned, box.layout) == ("align", "max", 0, True, "interior")
    assert (mask.agg, mask.sampling_ratio) == ("avg", 0)


def test_c4_shares_res5_between_box_and_mask(build) -> None:
    heads = build("model=small_c4").roi_heads
    assert heads.mask_head is heads.box_head[0]
    assert (heads.box_roi_pool.output_size, heads.mask_roi_pool.output_size) == ((14, 14), (14, 14))


def test_num_classes_comes_from_the_data(settings, tmp_path: Path) -> None:
    from roi_ablation.train import build_components

    resolved = settings("model=small_c5", f"data.root={tmp_path}", "data.num_train=4", "data.num_val=2",
                        "data.classes=[circle,bar]")
    components = build_components(resolved)
    assert components.model.roi_heads.box_predictor.cls_score.out_features == 3  # two shapes + background
    assert components.stride == 32


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(MissingConfigException, match="small_c4"):
        compose_config(["model=resnet9000"])


def test_unknown_roi_method_lists_the_registered_ones(settings) -> None:
    with pytest.raises(ValueError, match="align.*pool|pool.*align"):
        settings("roi.method=roipool")


def test_unknown_mask_override_key_is_named(settings) -> None:
    with pytest.raises(ValueError, match="roi.mask has unknown keys \\['ratio'\\]"):
        settings("roi.mask={ratio: 3}")


def test_a_user_layer_is_selected_from_config(build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_layers.py").write_text(
        "from roi_ablation.roi import REGISTRY, register\n"
        "@register('align_twice')\n"
        "def align_twice(*args, **kwargs):\n"
        "    return REGISTRY['align'](*args, **kwargs)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        model = build("custom_imports=[my_layers]", "roi.method=align_twice")
        assert model.roi_heads.box_roi_pool.method == "align_twice"
    finally:
        REGISTRY.pop("align_twice", None)
        sys.modules.pop("my_layers", None)


def test_missing_custom_import_is_named(settings) -> None:
    with pytest.raises(ValueError, match="custom_imports: cannot import 'no_such_module'"):
        settings("custom_imports=[no_such_module]")


def test_missing_weights_file_names_the_path(build, tmp_path: Path) -> None:
    missing = tmp_path / "r50.pth"
    with pytest.raises(ValueError, match=str(missing)):
        build("model=r50_c4", f"model.backbone.weights={missing}")


def test_local_weights_load_and_freeze_the_early_layers(build, tmp_path: Path) -> None:
    donor = build("model=small_c5").backbone
    state = {f"{name}": value for name, value in zip(
        ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"], donor)}
    flat = {f"{prefix}.{k}": v for prefix, module in state.items() for k, v in module.state_dict().items()}
    path = tmp_path / "trunk.pth"
    torch.save(flat, path)
    model = build("model=small_c5", f"model.backbone.weights={path}", "model.backbone.trainable_layers=2")
    body = model.backbone
    torch.testing.assert_close(body[0].weight, donor[0].weight)
    trainable = {name.split(".")[0] for name, p in body.named_parameters() if p.requires_grad}
    assert trainable == {"6", "7"}  # layer3 and layer4 (res4, res5) only
