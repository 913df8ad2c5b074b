"""Wheels of what the lent GPU machine's image lacks, so the package runs there without a network.

The image has Python 3.12, torch 2.11.0, torchvision 0.26.0, numpy, scipy, statsmodels,
pandas, tensorboard, matplotlib, pyyaml, joblib (and their dependencies: pillow,
packaging, setuptools, ...), but none of the Hydra stack or pycocotools, and it can
fetch nothing. Files travel to it within 64 MiB per call (working tree and carried
paths together), so this script

1. downloads the wheels of ``MISSING`` for CPython 3.12 on manylinux x86_64
   (``pip download --no-deps --only-binary=:all:``), each pinned to the version installed
   in the environment running this script (the one the tests passed in) when there is one;
2. builds a wheel locally for a distribution that PyPI ships as a source archive only
   (antlr4-python3-runtime 4.9.3, pure Python), and refuses one that is not pure Python;
3. writes ``requirements.txt`` (the pins) beside the wheels, checks the wheelhouse plus
   the repository's own files against the 64 MiB limit, prints both sizes, and prints
   the install line for the GPU side.

    python scripts/build_wheelhouse.py                     # -> build/wheelhouse (gitignored)
    python scripts/build_wheelhouse.py --out DIR --limit-mib 64

On the GPU machine (``build/wheelhouse`` travels as a carried path)::

    python -m pip install --no-index --find-links build/wheelhouse -r build/wheelhouse/requirements.txt
    python scripts/gpu_check.py --out outputs/gpu_check   # finds the package itself (repo root on sys.path)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MIB = 64.0
#: What the package (and its CLI's launchers) imports that the GPU image does not have, with the
#: version used when this environment has none installed. antlr4 must be the 4.9 line omegaconf 2.3 pins.
MISSING: dict[str, str] = {
    "hydra-core": "1.3.2",
    "omegaconf": "2.3.0",
    "antlr4-python3-runtime": "4.9.3",
    "pycocotools": "2.0.8",
    "hydra-joblib-launcher": "1.2.0",     # hydra/launcher=joblib (joblib itself is on the image)
    "hydra-submitit-launcher": "1.2.0",   # hydra/launcher=submitit_slurm
    "submitit": "1.5.2",
    "cloudpickle": "3.0.0",               # submitit's
}
#: The image's interpreter and platforms (manylinux tags its glibc accepts).
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_27_x86_64", "manylinux_2_28_x86_64")
INSTALL_LINE = "python -m pip install --no-index --find-links {dir} -r {dir}/requirements.txt"


@dataclass(frozen=True)
class SizeCheck:
    wheelhouse_bytes: int
    repo_bytes: int
    limit_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.wheelhouse_bytes + self.repo_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.limit_bytes

    def describe(self) -> str:
        mib = 2**20
        verdict = "fits" if self.fits else "DOES NOT FIT"
        return (f"wheelhouse {self.wheelhouse_bytes / mib:.2f} MiB + repository files {self.repo_bytes / mib:.2f} MiB "
                f"= {self.total_bytes / mib:.2f} MiB of the {self.limit_bytes / mib:.0f} MiB per call: {verdict}")


def pins(missing: dict[str, str] = MISSING) -> dict[str, str]:
    """Each missing distribution at the version installed here (where the tests passed), else its fallback."""
    out = {}
    for name, fallback in missing.items():
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = fallback
    return out


def tree_bytes(paths: list[Path]) -> int:
    """Total size of the regular files among ``paths`` (directories walked)."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        elif path.is_file():
            total += path.stat().st_size
    return total


def repo_bytes(root: Path = ROOT) -> int:
    """Bytes of what travels with the working tree: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return tree_bytes([root / name for name in listed if name])


def size_check(wheelhouse: Path, repo: int, limit_mib: float = LIMIT_MIB) -> SizeCheck:
    return SizeCheck(tree_bytes([wheelhouse]), repo, int(limit_mib * 2**20))


def is_pure_wheel(filename: str) -> bool:
    """``name-ver-py3-none-any.whl``: installs on any interpreter and platform."""
    parts = filename.removesuffix(".whl").split("-")
    return filename.endswith(".whl") and len(parts) >= 5 and parts[-2] == "none" and parts[-1] == "any"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def fetch(name: str, version: str, out: Path) -> str:
    """Put one wheel of ``name==version`` for the image into ``out``; a line saying how."""
    spec = f"{name}=={version}"
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    done = pip("download", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON_VERSION,
               "--implementation", "cp", "--abi", f"cp{PYTHON_VERSION.replace('.', '')}", "--abi", "abi3",
               "--abi", "none", *platform_args, "--dest", str(out), spec)
    if done.returncode == 0:
        return f"{spec}: downloaded"
    # No wheel for the image: build one here, which is only right for pure Python.
    with tempfile.TemporaryDirectory() as tmp:
        built = pip("wheel", "--no-deps", "--wheel-dir", tmp, spec)
        wheels = list(Path(tmp).glob("*.whl"))
        if built.returncode != 0 or len(wheels) != 1:
            raise RuntimeError(f"{spec}: no wheel for CPython {PYTHON_VERSION} manylinux and none could be built:\n"
                               f"{done.stderr.strip()[-800:]}\n{built.stderr.strip()[-800:]}")
        if not is_pure_wheel(wheels[0].name):
            raise RuntimeError(f"{spec}: PyPI has no wheel for the image and the one built here ({wheels[0].name}) "
                               "is not pure Python, so it would not load there")
        shutil.copy2(wheels[0], out / wheels[0].name)
        return f"{spec}: built from its source archive ({wheels[0].name}, pure Python)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "wheelhouse")
    parser.add_argument("--limit-mib", type=float, default=LIMIT_MIB, help="what one call may carry (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    pinned = pins()
    for name, version in pinned.items():
        print(fetch(name, version, args.out), flush=True)
    (args.out / "requirements.txt").write_text("".join(f"{n}=={v}\n" for n, v in pinned.items()))
    check = size_check(args.out, repo_bytes())
    for wheel in sorted(args.out.glob("*.whl")):
        print(f"  {wheel.stat().st_size / 2**10:8.1f} KiB  {wheel.name}")
    print(check.describe())
    try:
        shown = args.out.resolve().relative_to(ROOT)
    except ValueError:
        shown = args.out
    print("on the GPU machine (carry the wheelhouse with the working tree):")
    print("  " + INSTALL_LINE.format(dir=shown))
    print("  python scripts/gpu_check.py --out outputs/gpu_check")
    return 0 if check.fits else 1


if __name__ == "__main__":
    sys.exit(main())
