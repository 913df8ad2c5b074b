"""scripts/build_wheelhouse.py: what it counts against the per-call limit, which wheels it accepts, its pins."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_wheelhouse", ROOT / "scripts" / "build_wheelhouse.py")
build_wheelhouse = importlib.util.module_from_spec(_spec)
sys.modules["build_wheelhouse"] = build_wheelhouse
_spec.loader.exec_module(build_wheelhouse)


def test_size_check_counts_wheelhouse_and_repository(tmp_path):
    (tmp_path / "a.whl").write_bytes(b"x" * 3 * 2**20)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.whl").write_bytes(b"x" * 2**20)
    check = build_wheelhouse.size_check(tmp_path, repo=2 * 2**20, limit_mib=6)
    assert check.wheelhouse_bytes == 4 * 2**20 and check.total_bytes == 6 * 2**20 and check.fits
    assert "6.00 MiB of the 6 MiB per call: fits" in check.describe()
    over = build_wheelhouse.size_check(tmp_path, repo=2 * 2**20 + 1, limit_mib=6)
    assert not over.fits and "DOES NOT FIT" in over.describe()


def test_repo_bytes_counts_what_travels_not_what_git_ignores(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "tracked.py").write_bytes(b"a" * 1000)
    git("add", "tracked.py", ".gitignore")
    (tmp_path / "untracked.txt").write_bytes(b"b" * 500)  # travels: not ignored
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "big.whl").write_bytes(b"c" * 10_000)  # ignored: travels only when carried
    assert build_wheelhouse.repo_bytes(tmp_path) == 1000 + 500 + len("build/\n")


def test_only_pure_python_wheels_are_accepted_when_built_here():
    assert build_wheelhouse.is_pure_wheel("antlr4_python3_runtime-4.9.3-py3-none-any.whl")
    assert not build_wheelhouse.is_pure_wheel("pycocotools-2.0.8-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert not build_wheelhouse.is_pure_wheel("antlr4-python3-runtime-4.9.3.tar.gz")


def test_pins_follow_this_environment_and_fall_back_for_the_rest():
    pins = build_wheelhouse.pins({"pytest": "0.0", "no-such-distribution-xyz": "1.2.3"})
    import pytest

    assert pins["pytest"] == pytest.__version__ and pins["no-such-distribution-xyz"] == "1.2.3"


def test_the_list_covers_what_the_package_needs_beyond_the_image():
    missing = set(build_wheelhouse.MISSING)
    assert {"hydra-core", "omegaconf", "antlr4-python3-runtime", "pycocotools"} <= missing
    assert build_wheelhouse.MISSING["antlr4-python3-runtime"].startswith("4.9")  # the line omegaconf 2.3 pins
    assert not missing & {"torch", "torchvision", "numpy", "scipy", "matplotlib", "tensorboard"}  # on the image
