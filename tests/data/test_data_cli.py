"""Bad data through `roi-ablation-train`: exit code 1 and the problem named, never a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN = Path(sys.executable).with_name("roi-ablation-train")


def train(coco, run_dir: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    command = [str(TRAIN), "data=coco", f"data.root={coco.root}", "train.max_iter=1", "train.batch_size=1"]
    return subprocess.run(
        [*command, "device=cpu", f"hydra.run.dir={run_dir}", *overrides],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
def test_bad_annotations_refuse_the_run_without_a_traceback(coco, tmp_path):
    path = coco.annotation_file("train")
    data = json.loads(path.read_text())
    data["images"][1]["id"] = 1
    path.write_text(json.dumps(data))
    done = train(coco, tmp_path / "run")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert f"{path} has 3 bad entries (2 duplicate image id, 1 unknown image id); the first:" in output
    assert "  image 1 (000000000001.png): 2 image entries have this id; give every image entry its own id" in output


@pytest.mark.slow
def test_unreadable_image_stops_the_run_in_one_line(coco, tmp_path):
    for image_id in (1, 2):  # every training image, so the first step reads a bad one
        (coco.image_dir("train") / coco.file_name(image_id)).write_bytes(b"")
    done = train(coco, tmp_path / "run")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert f"cannot read image {coco.image_dir('train')}" in output and "data.skip_bad_images=true" in output
