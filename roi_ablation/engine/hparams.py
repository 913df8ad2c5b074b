"""The HParams dashboard's records: one session per run, one experiment config per sweep.

Each run writes a session naming its settings; its metrics are its own `eval/...`
scalars (no `hparam/*` copies, so no duplicated cards). The sweep writes one experiment
config (`experiment_summary`, written by report/dashboard.py) that fixes which axes and
metrics the dashboard shows and in which order. The plugin's own writers need
TensorFlow, so the protobufs are built here.
"""

import time
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.struct_pb2 import ListValue  # type: ignore[import-untyped]  # protobuf ships no type information
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from roi_ablation.roi import RoISettings

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
