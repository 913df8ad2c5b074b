"""The presets train and predict: small ones one step on CPU, paper ones one forward on a small image."""

import pytest
import torch



def _batch(n: int = 2, size: int = 96) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, size, size, generator=g) for _ in range(n)]
    targets = []
    for _ in range(n):
        boxes = torch.tensor([[10.0, 12, 40, 50], [50, 40, 90, 70]])
        masks = torch.zeros(2, size, size, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        targets.append({"boxes": boxes, "labels": torch.tensor([1, 2]), "masks": masks})
    return images, targets


@pytest.mark.parametrize("model", ["small_c4", "small_c5"])
@pytest.mark.parametrize("roi", ["pool_max", "warp_avg", "align_max"])
def test_small_preset_trains_and_predicts(build, model: str, roi: str) -> None:
    torch.manual_seed(0)
    detector = build(f"model={model}", f"roi={roi}", "model.detector.min_size=96", "model.detector.max_size=96")
    images, targets = _batch()
    detector.train()
    losses = detector(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    stem = detector.backbone[0].weight
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    detector.eval()
    with torch.no_grad():
        predictions = detector(images)
    assert len(predictions) == 2 and {"boxes", "labels", "scores", "masks"} <= set(predictions[0])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["r50_c4", "r50_c5", "r50_fpn"])
def test_paper_preset_predicts(build, model: str) -> None:
    torch.manual_seed(0)
    detector = build(f"model={model}", "roi=align_avg", "model.detector.min_size=128", "model.detector.max_size=128",
                     num_classes=81).eval()
    with torch.no_grad():
        (prediction,) = detector([torch.rand(3, 128, 160)])
    assert prediction["masks"].shape[1:] == (1, 128, 160)


@pytest.mark.parametrize("model", ["small_c4", "small_c5"])
def test_poolers_receive_float32_boxes_under_bf16_autocast(build, model: str) -> None:
    """torchvision decodes boxes in the regression's dtype; ours are float32 so RoIs are not snapped."""
    torch.manual_seed(0)
    detector = build(f"model={model}", "model.detector.min_size=96", "model.detector.max_size=96")
    seen: list[torch.dtype] = []
    for pooler in (detector.roi_heads.box_roi_pool, detector.roi_heads.mask_roi_pool):
        pooler.register_forward_pre_hook(lambda module, args: seen.extend(b.dtype for b in args[1]))
    images, targets = _batch()
    with torch.autocast("cpu", torch.bfloat16):
        detector.train()
        losses = detector(images, targets)
        detector.eval()
        with torch.no_grad():
            detector(images)
    assert all(torch.isfinite(v) for v in losses.values())
    assert seen and set(seen) == {torch.float32}
