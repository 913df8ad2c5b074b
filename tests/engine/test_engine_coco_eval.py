"""COCO evaluation on a fabricated set with known answers."""

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch

import engine_standins as standins
from roi_ablation.engine.evaluate import METRIC_NAMES, coco_metrics, evaluate, to_coco_results
from roi_ablation.engine.loader import eval_loader


def _ground_truth_as_output(dataset: standins.Rectangles, index: int) -> dict[str, torch.Tensor]:
    """What a perfect model would output for item `index`: GT boxes, labels, masks, score 1."""
    _, target = dataset[index]
    n = len(target["labels"])
    return {
        "boxes": target["boxes"].float(),
        "labels": target["labels"],
        "scores": torch.ones(n),
        "masks": target["masks"][:, None].float(),
    }


def _results(dataset: standins.Rectangles, iou_type: str) -> list[dict]:
    out = []
    for i, image_id in enumerate(dataset.image_ids):
        out += to_coco_results(_ground_truth_as_output(dataset, i), image_id, dataset.label_to_category)[iou_type]
    return out


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_perfect_predictions_score_100(iou_type: str) -> None:
    dataset = standins.Rectangles(1, 6, train=False)
    metrics = coco_metrics(dataset.coco, _results(dataset, iou_type), iou_type, dataset.image_ids)
    assert set(metrics) == set(METRIC_NAMES)
    assert metrics["AP"] == pytest.approx(100.0) and metrics["AP50"] == pytest.approx(100.0)
    assert metrics["APl"] is None  # no large objects in these images: pycocotools' -1 becomes None


def test_results_use_original_category_ids_and_rle() -> None:
    dataset = standins.Rectangles(1, 2, train=False)
    results = to_coco_results(_ground_truth_as_output(dataset, 0), dataset.image_ids[0], dataset.label_to_category)
    assert {r["category_id"] for r in results["bbox"]} == {3, 7}  # image 1 has one object of each class: labels 1, 2 -> ids 3, 7
    gt = dataset.coco.loadAnns(dataset.coco.getAnnIds(imgIds=dataset.image_ids[0]))
    assert sorted(r["bbox"] for r in results["bbox"]) == sorted(a["bbox"] for a in gt)
    rle = results["segm"][0]["segmentation"]
    assert isinstance(rle["counts"], str) and "bbox" not in results["segm"][0]
    assert mask_util.decode({**rle, "counts": rle["counts"].encode()}).sum() == gt[0]["area"]


def test_wrong_class_and_no_detections_score_zero() -> None:
    dataset = standins.Rectangles(1, 4, train=False)
    swapped = [{**r, "category_id": 10 - r["category_id"]} for r in _results(dataset, "bbox")]  # 3 <-> 7
    assert coco_metrics(dataset.coco, swapped, "bbox", dataset.image_ids)["AP"] == 0.0
    empty = coco_metrics(dataset.coco, [], "segm", dataset.image_ids)
    assert empty["AP"] == 0.0 and empty["AP50"] == 0.0


class _Oracle(torch.nn.Module):
    """Returns the ground truth of each image (found by its pixels' sum) as its prediction."""

    def __init__(self, dataset: standins.Rectangles) -> None:
        super().__init__()
        self.by_sum = {round(dataset[i][0].sum().item()): _ground_truth_as_output(dataset, i) for i in range(len(dataset))}

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return [self.by_sum[round(image.sum().item())] for image in images]


def test_evaluate_end_to_end_with_samples(cpu) -> None:
    dataset = standins.Rectangles(1, 5, train=False)
    loader = eval_loader(dataset, standins.collate, cpu, batch_size=2, num_workers=0)
    result = evaluate(_Oracle(dataset), dataset, loader, cpu, keep=2)
    assert result is not None
    assert result.metrics["segm"]["AP"] == pytest.approx(100.0)
    assert result.metrics["bbox"]["AP"] == pytest.approx(100.0)
    assert len(result.predictions.samples) == 2
    assert np.isclose(len(result.predictions.results["bbox"]), sum(len(dataset[i][1]["labels"]) for i in range(5)))


def test_samples_carry_the_ground_truth_and_the_summary_stays_in_the_log_file(cpu, tmp_path, caplog) -> None:
    import logging

    dataset = standins.Rectangles(1, 3, train=False)
    loader = eval_loader(dataset, standins.collate, cpu, batch_size=2, num_workers=0)
    file = tmp_path / "job.log"
    handler = logging.FileHandler(file)
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            result = evaluate(_Oracle(dataset), dataset, loader, cpu, keep=1)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert result is not None
    (sample,) = result.predictions.samples
    _, target = dataset[0]
    assert torch.equal(sample.target["boxes"], target["boxes"]) and torch.equal(sample.target["masks"], target["masks"])
    console = [r.getMessage() for r in caplog.records]
    assert console[0] == "evaluating 3 images" and not any("Average Precision" in line for line in console)
    logged = file.read_text()
    assert logged.count("COCO bbox evaluation:") == logged.count("COCO segm evaluation:") == 1
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all" in logged
