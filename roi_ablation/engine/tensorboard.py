"""TensorBoard output of a run, written into the run directory itself.

Training curves (each loss term, total loss, lr, iteration and data time), evaluation
metrics (`eval/segm/AP`, ...), validation images (ground truth beside the top
detections), and the run's hyper-parameters for the HParams dashboard: pointing
TensorBoard at a sweep directory lists every job as a run.

HParams: each run writes a session naming its settings; its metrics are its own
`eval/...` scalars (no `hparam/*` copies, so no duplicated cards). The sweep writes one
experiment config (`experiment_summary`, see report/dashboard.py) that fixes which
axes and metrics the dashboard shows and in which order.
"""

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from google.protobuf.struct_pb2 import ListValue  # type: ignore[import-untyped]  # protobuf ships no type information
from PIL import Image, ImageDraw
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from torch.nn.functional import interpolate
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from roi_ablation.engine.evaluate import MASK_THRESHOLD, Sample
from roi_ablation.roi import RoISettings

TOP_DETECTIONS = 5  # drawn per validation image, whatever their score: a weak model still shows what it finds
MIN_PANEL_PX = 320  # small images are enlarged (nearest) to at least this, so captions stay readable
HEADER_PX = 16
_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]

#: The ablation axes, in the order the HParams dashboard lists them: (section of the run
#: description or None for top level, key, display name). TensorBoard sorts hparams by
#: name (after those that differ between runs), so names carry the position: `1_method`.
HPARAM_AXES = (
    ("roi", "method", "method"),
    ("roi", "agg", "agg"),
    ("roi", "aligned", "aligned"),
    ("roi", "sampling_ratio", "sampling ratio"),
    ("roi", "layout", "layout"),
    (None, "stride", "stride"),
    (None, "model", "model"),
    (None, "seed", "seed"),
)
#: Metrics of the HParams dashboard, mask AP first (the first five are shown by default).
HPARAM_METRICS = (
    ("segm", "AP", "mask AP"),
    ("segm", "AP50", "mask AP50"),
    ("segm", "AP75", "mask AP75"),
    ("bbox", "AP", "box AP"),
    ("bbox", "AP50", "box AP50"),
    ("bbox", "AP75", "box AP75"),
)


def eval_tag(iou_type: str, metric: str) -> str:
    return f"eval/{iou_type}/{metric}"


def _canvas(image: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 [3, sH, sW] of a float 0..1 image, enlarged `scale` times."""
    canvas = (image.clamp(0, 1) * 255).to(torch.uint8)
    return canvas.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


def _draw(
    canvas: torch.Tensor, boxes: torch.Tensor, labels: list[int], masks: torch.Tensor, captions: list[str]
) -> torch.Tensor:
    """Masks (bool [N, H, W], canvas size) and captioned boxes in their class colour."""
    if not labels:
        return canvas
    colors = [_PALETTE[label % len(_PALETTE)] for label in labels]
    canvas = draw_segmentation_masks(canvas, masks, alpha=0.45, colors=colors)
    return draw_bounding_boxes(canvas, boxes, labels=captions, colors=colors, width=2)


def _enlarge_masks(masks: torch.Tensor, scale: int) -> torch.Tensor:
    """float [N, H, W] -> bool [N, sH, sW] at MASK_THRESHOLD."""
    if scale > 1 and len(masks):
        masks = interpolate(masks[:, None].float(), scale_factor=scale, mode="nearest")[:, 0]
    return masks > MASK_THRESHOLD


def _name(category_names: Sequence[str], label: int) -> str:
    return category_names[label] if 0 <= label < len(category_names) else str(label)


def _with_header(canvas: torch.Tensor, text: str) -> torch.Tensor:
    """`canvas` with a white strip above it that says what it shows."""
    strip = Image.new("RGB", (canvas.shape[2], HEADER_PX), "white")
    ImageDraw.Draw(strip).text((4, 2), text, fill="black")
    header = torch.from_numpy(np.asarray(strip).copy()).permute(2, 0, 1)
    return torch.cat([header, canvas], dim=1)


def validation_picture(sample: Sample, category_names: Sequence[str], top_k: int = TOP_DETECTIONS) -> torch.Tensor:
    """uint8 [3, H, W]: the ground truth (left) beside the `top_k` highest-scoring detections (right)."""
    scale = max(1, -(-MIN_PANEL_PX // max(sample.image.shape[1:])))
    target, prediction = sample.target, sample.prediction
    gt_labels = target["labels"].tolist()
    truth = _draw(
        _canvas(sample.image, scale), target["boxes"].float() * scale, gt_labels,
        _enlarge_masks(target["masks"].float(), scale), [_name(category_names, label) for label in gt_labels],
    )
    order = prediction["scores"].argsort(descending=True)[:top_k]
    labels, scores = prediction["labels"][order].tolist(), prediction["scores"][order].tolist()
    detected = _draw(
        _canvas(sample.image, scale), prediction["boxes"][order] * scale, labels,
        _enlarge_masks(prediction["masks"][order][:, 0], scale),
        [f"{_name(category_names, label)} {score:.2f}" for label, score in zip(labels, scores)],
    )
    gap = torch.full((3, truth.shape[1], 4), 255, dtype=torch.uint8)
    return torch.cat([
        _with_header(truth, f"ground truth ({len(gt_labels)})"),
        _with_header(gap, ""),
        _with_header(detected, f"top {len(labels)} detections, any score" if labels else "no detections"),
    ], dim=2)


def hparam_name(index: int, key: str) -> str:
    """`1_method`: the position in HPARAM_AXES first, so TensorBoard's name sort keeps the order."""
    return f"{index + 1}_{key}"


def hparam_values(description: Mapping[str, Any]) -> dict[str, bool | str]:
    """A run description (metrics.json's `roi`, `model`, `stride`, `seed`) as HParams values.

    Booleans stay booleans; numbers become strings, because TensorBoard prints every
    number with five significant digits (`seed 0.0000`, `stride 16.000`). A sampling
    ratio or layout the layer does not read (RoIPool's) reads `unused`, as the tables
    treat it. Absent keys are left out.
    """
    roi: Mapping[str, Any] = description.get("roi") or {}
    layer = RoISettings.from_json(dict(roi))  # fields absent from the record are not shown
    values: dict[str, bool | str] = {}
    for index, (section, key, _) in enumerate(HPARAM_AXES):
        value = roi.get(key) if section else description.get(key)
        if value is None:
            continue
        shown = layer.shown_value(key) if section else value
        values[hparam_name(index, key)] = shown if isinstance(shown, (bool, str)) else str(shown)
    return values


def _hparams_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    """A summary the HParams plugin reads (what its own writers build; theirs need TensorFlow)."""
    summary = Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
    return summary


def session_summaries(description: Mapping[str, Any]) -> list[Summary]:
    """One run's HParams session, start and (successful) end; its metrics are its `eval/...` scalars."""
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, value in hparam_values(description).items():
        if isinstance(value, bool):
            start.hparams[name].bool_value = value
        else:
            start.hparams[name].string_value = value
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    return [
        _hparams_summary(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start)),
        _hparams_summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)),
    ]


def experiment_summary(descriptions: Iterable[Mapping[str, Any]]) -> Summary:
    """The HParams experiment config of a sweep: every axis with the values its runs took.

    An axis whose value differs between runs is marked so: TensorBoard lists and ticks
    those first, keeping HPARAM_AXES order within each group.
    """
    runs = [hparam_values(d) for d in descriptions]
    infos = []
    for index, (_, key, display) in enumerate(HPARAM_AXES):
        name = hparam_name(index, key)
        seen = list(dict.fromkeys(run[name] for run in runs if name in run))
        if not seen:
            continue
        boolean = all(isinstance(v, bool) for v in seen)
        domain = ListValue()
        domain.extend(sorted(seen, key=str))
        infos.append(api_pb2.HParamInfo(
            name=name, display_name=display, domain_discrete=domain, differs=len(seen) > 1,
            type=api_pb2.DATA_TYPE_BOOL if boolean else api_pb2.DATA_TYPE_STRING,
        ))
    metrics = [
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=eval_tag(iou_type, metric)), display_name=display)
        for iou_type, metric, display in HPARAM_METRICS
    ]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics, time_created_secs=time.time())
    return _hparams_summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))


class Board:
    """The run's SummaryWriter; a disabled Board (ranks other than 0) ignores every call."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.writer = SummaryWriter(log_dir=str(run_dir)) if enabled else None

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def evaluation(self, metrics: dict[str, dict[str, float | None]], step: int) -> None:
        """`eval/{bbox,segm}/{AP,...}`; metrics pycocotools could not compute (None) are left out."""
        self.scalars(
            {eval_tag(t, name): v for t, scores in metrics.items() for name, v in scores.items() if v is not None}, step
        )

    def images(self, samples: Sequence[Sample], category_names: Sequence[str], step: int) -> None:
        """`val/<i>`: ground truth beside the top detections, at every evaluation."""
        if self.writer:
            for i, sample in enumerate(samples):
                self.writer.add_image(f"val/{i}", validation_picture(sample, category_names), step)

    def hparams(self, description: Mapping[str, Any]) -> None:
        """The run's HParams session: its settings (a run description dict); metrics are its `eval/...` scalars."""
        if self.writer:
            for summary in session_summaries(description):
                # torch leaves SummaryWriter.file_writer unannotated, so mypy infers None
                self.writer.file_writer.add_summary(summary)  # type: ignore[attr-defined]

    def flush(self) -> None:
        if self.writer:
            self.writer.flush()

    def close(self) -> None:
        if self.writer:
            self.writer.close()
