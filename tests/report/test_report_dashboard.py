"""The sweep's TensorBoard outputs, read back from the event files (no browser needed)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.plugins.hparams.backend_context import _sort_and_reduce_to_hparams_limit

from roi_ablation.engine.hparams import HPARAM_AXES, HPARAM_METRICS
from roi_ablation.report import build_tables, collect
from roi_ablation.report.dashboard import TABLES_RUN, compact_markdown, write_tensorboard


def read_experiment(logdir: Path) -> api_pb2.Experiment:
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0}).Reload()
    content = events.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content
    return metadata.parse_experiment_plugin_data(content)


def test_tables_run_is_named_and_compact(sweep: Path, tmp_path: Path) -> None:
    tables, _ = build_tables(collect([sweep]).runs)
    logdir = write_tensorboard(tables, tmp_path)
    assert logdir == tmp_path / TABLES_RUN
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0}).Reload()
    assert sorted(events.Tags()["tensors"]) == [metadata.EXPERIMENT_TAG, "tables/table2c/text_summary",
                                                "tables/table2d/text_summary"]
    text = events.Tensors("tables/table2c/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text == compact_markdown(tables[0])
    header = next(line for line in text.splitlines() if line.startswith("| method"))
    assert header == "| method | agg | AP | AP50 | AP75 | gain vs RoIPool | paper gain |"
    assert "| RoIPool | max | 22.0 ± 2.0 | 40.0 ± 0.0 | 18.0 ± 0.0 | baseline | baseline |" in text
    assert "| RoIWarp | avg | 23.5 (n=1) |" in text  # one seed: no ± at all
    write_tensorboard(tables, tmp_path)  # a rerun replaces the run instead of adding to it
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1


def test_hparams_experiment_lists_the_axes_in_order_with_their_types(sweep: Path, tmp_path: Path) -> None:
    tables, _ = build_tables(collect([sweep]).runs)
    experiment = read_experiment(write_tensorboard(tables, tmp_path))
    infos = {info.display_name: info for info in experiment.hparam_infos}
    assert [info.display_name for info in experiment.hparam_infos] == [display for _, _, display in HPARAM_AXES]
    assert infos["aligned"].type == api_pb2.DATA_TYPE_BOOL
    assert sorted(v.bool_value for v in infos["aligned"].domain_discrete.values) == [False, True]
    assert infos["seed"].type == api_pb2.DATA_TYPE_STRING  # not the float TensorBoard prints as 0.0000
    assert [v.string_value for v in infos["stride"].domain_discrete.values] == ["16", "32"]
    assert [v.string_value for v in infos["method"].domain_discrete.values] == ["align", "pool", "warp"]
    assert infos["method"].differs
    # TensorBoard sorts by (differs first, name); the names keep our order within each group.
    _sort_and_reduce_to_hparams_limit(experiment)
    shown = [info.display_name for info in experiment.hparam_infos]
    differing = [d for _, _, d in HPARAM_AXES if infos[d].differs]
    assert shown == differing + [d for _, _, d in HPARAM_AXES if d not in differing]
    assert [(m.name.tag, m.display_name) for m in experiment.metric_infos[:3]] == [
        ("eval/segm/AP", "mask AP"), ("eval/segm/AP50", "mask AP50"), ("eval/segm/AP75", "mask AP75")]
    assert len(experiment.metric_infos) == len(HPARAM_METRICS)
