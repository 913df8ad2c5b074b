"""The run's TensorBoard output read back from its event files: images and the HParams session."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata

from roi_ablation.engine.evaluate import Sample
from roi_ablation.engine.hparams import HPARAM_AXES, experiment_summary, hparam_name, hparam_values
from roi_ablation.engine.pictures import validation_picture
from roi_ablation.engine.tensorboard import Board

NAMES = ["__background__", "square", "bar"]
DESCRIPTION = {"roi": {"method": "align", "agg": "avg", "sampling_ratio": 2, "aligned": False, "layout": "center"},
               "model": "small_c4", "stride": 16, "data": "shapes", "seed": 0, "status": "complete"}


def _sample(score: float) -> Sample:
    """A grey 64x64 image with one square, predicted (a little off) with the given score."""
    image = torch.full((3, 64, 64), 0.5)
    mask = torch.zeros(64, 64, dtype=torch.uint8)
    mask[10:30, 10:30] = 1
    target = {"boxes": torch.tensor([[10.0, 10.0, 30.0, 30.0]]), "labels": torch.tensor([1]), "masks": mask[None]}
    prediction = {"boxes": torch.tensor([[12.0, 11.0, 31.0, 30.0]]), "labels": torch.tensor([1]),
                  "scores": torch.tensor([score]), "masks": mask[None, None].float() * 0.9}
    return Sample(image, prediction, target)


def _halves(picture: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The ground-truth and detection panels, headers cut off."""
    array = picture.permute(1, 2, 0).numpy()[16:]
    width = (array.shape[1] - 4) // 2
    return array[:, :width], array[:, -width:]


def test_weak_detections_are_drawn_beside_the_ground_truth() -> None:
    raw = np.full((320, 320, 3), 127, dtype=np.uint8)  # the input, enlarged 5x to 320 px
    truth, detected = _halves(validation_picture(_sample(score=0.05), NAMES))
    assert truth.shape == detected.shape == raw.shape
    assert (truth != raw).any(axis=-1).mean() > 0.05 and (detected != raw).any(axis=-1).mean() > 0.05
    assert not np.array_equal(truth, detected)  # the prediction is off by a few pixels
    no_detection = _sample(score=0.05)
    no_detection.prediction.update(boxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
                                   scores=torch.zeros(0), masks=torch.zeros(0, 1, 64, 64))
    _, empty = _halves(validation_picture(no_detection, NAMES))
    assert np.array_equal(empty, raw)


def test_only_the_top_k_detections_are_drawn() -> None:
    sample = _sample(score=0.9)
    pred = sample.prediction
    pred.update(boxes=torch.cat([pred["boxes"], torch.tensor([[40.0, 40.0, 60.0, 60.0]])]),
                labels=torch.tensor([1, 2]), scores=torch.tensor([0.9, 0.01]),
                masks=torch.cat([pred["masks"], torch.zeros(1, 1, 64, 64)]))
    _, top1 = _halves(validation_picture(sample, NAMES, top_k=1))
    _, top2 = _halves(validation_picture(sample, NAMES, top_k=2))
    assert (top1[200:300, 200:300] == 127).all() and not (top2[200:300, 200:300] == 127).all()


def test_board_writes_images_and_an_hparams_session(tmp_path) -> None:
    board = Board(tmp_path, enabled=True)
    board.images([_sample(0.3)], NAMES, step=20)
    board.hparams(DESCRIPTION)
    board.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "tensors": 0}).Reload()
    (image,) = events.Images("val/0")
    assert image.step == 20 and Image.open(io.BytesIO(image.encoded_image_string)).size == (644, 336)
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    assert start.hparams[hparam_name(2, "aligned")].WhichOneof("kind") == "bool_value"
    assert start.hparams[hparam_name(7, "seed")].string_value == "0"
    assert start.hparams[hparam_name(0, "method")].string_value == "align"
    assert not [tag for tag in events.Tags()["scalars"] if tag.startswith("hparam/")]  # no duplicated metric cards


def test_session_names_match_the_experiment_config() -> None:
    board_names = set(hparam_name(i, key) for i, (_, key, _) in enumerate(HPARAM_AXES))
    summary = experiment_summary([DESCRIPTION, {**DESCRIPTION, "seed": 1}])
    experiment = metadata.parse_experiment_plugin_data(summary.value[0].metadata.plugin_data.content)
    assert {info.name for info in experiment.hparam_infos} == board_names
    assert [info.name for info in experiment.hparam_infos if info.differs] == [hparam_name(7, "seed")]


def test_disabled_board_writes_nothing(tmp_path) -> None:
    board = Board(tmp_path, enabled=False)
    board.images([_sample(0.3)], NAMES, step=1)
    board.hparams(DESCRIPTION)
    board.close()
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("bad", [{"roi": None}, {}])
def test_missing_settings_are_left_out_not_invented(bad) -> None:
    assert hparam_values(bad) == {}


def test_settings_a_layer_does_not_read_say_so() -> None:
    pool = hparam_values({**DESCRIPTION, "roi": {**DESCRIPTION["roi"], "method": "pool", "agg": "max"}})
    align = hparam_values(DESCRIPTION)
    assert pool[hparam_name(3, "sampling_ratio")] == "unused" and pool[hparam_name(4, "layout")] == "unused"
    assert align[hparam_name(3, "sampling_ratio")] == "2" and align[hparam_name(4, "layout")] == "center"
    assert pool[hparam_name(2, "aligned")] is False  # a boolean keeps its type
