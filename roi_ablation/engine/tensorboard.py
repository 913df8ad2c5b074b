"""TensorBoard output of a run, written into the run directory itself.

Training curves (each loss term, total loss, lr, iteration and data time), evaluation
metrics (`eval/segm/AP`, ...), validation images (`engine/pictures.py`) and the run's
HParams session (`engine/hparams.py`): pointing TensorBoard at a sweep directory lists
every job as a run.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from roi_ablation.engine.evaluate import Sample
from roi_ablation.engine.hparams import eval_tag, session_summaries
from roi_ablation.engine.pictures import validation_picture


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
