"""Atomic writes, checkpoint round trips and random-state capture."""

import errno
import json
import logging
import os
import random
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import engine_standins as standins
from roi_ablation import atomic
from roi_ablation.atomic import WriteError, atomic_torch_save, atomic_write, atomic_write_json
from roi_ablation.engine.checkpoint import (
    CHECKPOINT_DIR,
    LAST,
    CheckpointError,
    Checkpointer,
    TrainingState,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    saved_checkpoints,
)
from roi_ablation.engine.distributed import DistContext
from roi_ablation.engine.schedule import build_optimizer, build_scheduler
from roi_ablation.engine.seeding import capture_rng_state, restore_rng_state, rng_preserved, seeded


def test_interrupted_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pth"
    atomic_torch_save(path, {"iteration": 1})

    def crash(f: object) -> None:
        f.write(b"half a checkpoint")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert torch.load(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pth"]  # no temporary file left behind


def test_json_is_strict(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "m.json", {"AP": float("nan")})
    assert not (tmp_path / "m.json").exists()


def _state(seed: int) -> TrainingState:
    torch.manual_seed(seed)
    train = standins.config().train
    model = torch.nn.Linear(3, 2)
    opt = build_optimizer(model, train)
    return TrainingState(model, opt, build_scheduler(opt, train), torch.amp.GradScaler("cpu", enabled=False))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    state = _state(0)
    state.model(torch.ones(1, 3)).sum().backward()
    state.optimizer.step()
    state.scheduler.step()
    state.iteration, state.train_s = 7, 12.5
    rng = capture_rng_state()
    save_checkpoint(tmp_path / "c.pth", state, [rng], {"seed": 0})

    restored = _state(1)
    rngs = load_checkpoint(tmp_path / "c.pth", restored)
    assert restored.iteration == 7 and restored.train_s == 12.5
    assert torch.equal(restored.model.weight, state.model.weight)
    assert restored.optimizer.state_dict()["state"][0]["momentum_buffer"].equal(
        state.optimizer.state_dict()["state"][0]["momentum_buffer"]
    )
    assert restored.scheduler.last_epoch == 1
    assert torch.equal(rngs[0]["torch"], rng["torch"])


def test_rng_capture_restores_every_generator() -> None:
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(()).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == first


def test_preserved_and_seeded_blocks_leave_the_streams_alone() -> None:
    state = capture_rng_state()
    expected = torch.rand(3)
    restore_rng_state(state)
    with rng_preserved():
        torch.rand(100)
    with seeded(5):
        a = torch.rand(()).item()
    with seeded(5):
        assert torch.rand(()).item() == a
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "metrics.json", {"AP": 1.0})
        atomic_torch_save(tmp_path / "c.pth", {"iteration": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "c.pth").stat().st_mode) == mode


class _FullDisk:
    """A file whose writes fail as on a full disk."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def __enter__(self) -> "_FullDisk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


@pytest.mark.parametrize("save", [lambda p: atomic_write_json(p, {"AP": 2.0}), lambda p: atomic_torch_save(p, {"AP": 2.0})])
def test_full_disk_names_the_file_and_the_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save: Any) -> None:
    path = tmp_path / "out"
    atomic_write_json(path, {"AP": 1.0})
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(WriteError) as err:
        save(path)
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    assert str(err.value).startswith(f"cannot write {path}: No space left on device [ENOSPC]; free some space")
    assert json.loads(path.read_text()) == {"AP": 1.0} and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_permission_error_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic.os, "open", refuse)
    with pytest.raises(WriteError, match=rf"cannot write {tmp_path / 'm.json'}: Permission denied \[EACCES\]; check"):
        atomic_write_json(tmp_path / "m.json", {})


def _checkpointer(run_dir: Path, cpu: DistContext, keep: int = 2, seed: int = 0) -> Checkpointer:
    return Checkpointer(run_dir, _state(seed), cpu, {"seed": seed}, keep=keep, seed=seed)


def _saved(run_dir: Path, cpu: DistContext, iterations: list[int], keep: int = 2) -> Checkpointer:
    saver = _checkpointer(run_dir, cpu, keep)
    for iteration in iterations:
        saver.state.iteration = iteration
        saver.save()
    return saver


def test_the_newest_k_are_kept_and_last_points_at_the_newest(tmp_path: Path, cpu: DistContext) -> None:
    _saved(tmp_path, cpu, [2, 4, 6, 8], keep=2)
    assert [p.name for p in saved_checkpoints(tmp_path)] == ["iter_0000008.pth", "iter_0000006.pth"]
    assert os.readlink(tmp_path / LAST) == "iter_0000008.pth"
    assert torch.load(tmp_path / LAST, weights_only=False)["iteration"] == 8


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the tensor data: torch.load alone would not notice
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte])
def test_an_unreadable_newest_checkpoint_falls_back_to_the_previous(
    tmp_path: Path, cpu: DistContext, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    _saved(tmp_path, cpu, [4, 6])
    damage(tmp_path / CHECKPOINT_DIR / "iter_0000006.pth")
    resumed = _checkpointer(tmp_path, cpu, seed=1)
    with caplog.at_level(logging.WARNING):
        assert resumed.resume() == tmp_path / CHECKPOINT_DIR / "iter_0000004.pth"
    assert resumed.state.iteration == 4 and resumed.saved_iter == 4
    assert f"checkpoint {tmp_path / CHECKPOINT_DIR / 'iter_0000006.pth'} is unusable" in caplog.text
    assert "trying the previous one" in caplog.text


def test_no_usable_checkpoint_is_one_clear_error(tmp_path: Path, cpu: DistContext) -> None:
    _saved(tmp_path, cpu, [4, 6])
    for path in saved_checkpoints(tmp_path):
        _truncate(path)
    with pytest.raises(CheckpointError) as err:
        _checkpointer(tmp_path, cpu).resume()
    message = str(err.value)
    assert "\n" not in message and "iter_0000006.pth (" in message and "iter_0000004.pth (" in message
    assert f"rm -r {tmp_path / CHECKPOINT_DIR}" in message


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    atomic_torch_save(tmp_path / "c.pth", {"iteration": 1})
    with pytest.raises(ValueError, match="not a training checkpoint"):
        read_checkpoint(tmp_path / "c.pth")


def test_a_last_pth_from_before_numbered_checkpoints_resumes(tmp_path: Path, cpu: DistContext) -> None:
    state = _state(0)
    state.iteration = 3
    save_checkpoint(tmp_path / LAST, state, [capture_rng_state()], {})
    assert _checkpointer(tmp_path, cpu).resume() == tmp_path / LAST


def test_nothing_saved_means_a_fresh_start(tmp_path: Path, cpu: DistContext) -> None:
    assert _checkpointer(tmp_path, cpu).resume() is None
