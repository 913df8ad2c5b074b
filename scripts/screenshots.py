"""Screenshots of a run's or a sweep's TensorBoard, as a researcher sees it in a browser.

    python scripts/screenshots.py outputs/multirun/demo --out docs/screenshots

Starts TensorBoard (the one next to this Python, e.g. `.venv/bin/tensorboard`) on a free
port of 127.0.0.1 only, waits until it has loaded the runs, opens the Scalars, Images,
HParams and Text dashboards in headless Chromium (`chromium --headless --screenshot`,
the Debian `chromium` package), saves one PNG per dashboard and stops TensorBoard.
PNGs are reduced to 256 colours, so they stay small enough to commit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image

DASHBOARDS = ("scalars", "images", "hparams", "text")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT_S = 90.0
SETTLE_S = 3.0  # runs seen must stay the same this long: TensorBoard loads event files in the background


class ScreenshotError(Exception):
    """A problem the user can fix; printed as one line."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise ScreenshotError("no Chromium found; install it with: apt-get update && apt-get install -y chromium")


def start_tensorboard(logdir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    tensorboard = Path(sys.executable).with_name("tensorboard")
    if not tensorboard.exists():
        raise ScreenshotError(f"{tensorboard} not found; run this script with the project's .venv/bin/python")
    command = [str(tensorboard), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
               "--reload_interval", "1"]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def wait_for_runs(url: str, server: subprocess.Popen[bytes], log: Path) -> list[str]:
    """The run names once TensorBoard serves them and they have stopped changing."""
    deadline = time.monotonic() + START_TIMEOUT_S
    seen: list[str] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ScreenshotError(f"TensorBoard exited with {server.returncode}; its output is in {log}")
        try:
            with urllib.request.urlopen(f"{url}/data/runs", timeout=5) as response:
                runs = json.load(response)
        except (urllib.error.URLError, ConnectionError, ValueError):
            runs = None
        if runs is not None and runs != seen:
            seen, stable_since = runs, time.monotonic()
        elif runs and time.monotonic() - stable_since >= SETTLE_S:
            return seen
        time.sleep(0.5)
    raise ScreenshotError(f"TensorBoard served no runs within {START_TIMEOUT_S:.0f}s; its output is in {log}")


def screenshot(browser: str, url: str, path: Path, size: tuple[int, int], budget_ms: int, profile: Path) -> None:
    """One page as a PNG; `--virtual-time-budget` lets the single-page app fetch and render first."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               "--no-first-run", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
               f"--virtual-time-budget={budget_ms}", f"--screenshot={path}", url]
    result = subprocess.run(command, capture_output=True, timeout=budget_ms / 1000 + 90)
    if not path.exists():
        raise ScreenshotError(f"Chromium wrote no {path}: {result.stderr.decode(errors='replace').strip()[-300:]}")
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", type=Path, metavar="RUN_OR_SWEEP_DIR")
    parser.add_argument("--out", type=Path, required=True, help="directory for <dashboard>.png")
    parser.add_argument("--size", type=int, nargs=2, default=(1400, 900), metavar=("W", "H"))
    parser.add_argument("--budget-ms", type=int, default=20000, help="virtual time each page gets to render")
    parser.add_argument("--dashboards", nargs="+", choices=DASHBOARDS, default=list(DASHBOARDS))
    args = parser.parse_args(argv)
    try:
        if not args.logdir.is_dir():
            raise ScreenshotError(f"{args.logdir} is not a directory; give a run or sweep directory")
        browser = find_browser()
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
            log, port = Path(tmp) / "tensorboard.log", free_port()
            url = f"http://127.0.0.1:{port}"
            server = start_tensorboard(args.logdir, port, log)
            try:
                runs = wait_for_runs(url, server, log)
                print(f"TensorBoard at {url}: {len(runs)} runs ({', '.join(runs)})")
                for name in args.dashboards:
                    path = args.out / f"{name}.png"
                    screenshot(browser, f"{url}/?darkMode=false#{name}", path, tuple(args.size), args.budget_ms,
                               Path(tmp) / f"profile-{name}")
                    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
            finally:
                server.terminate()
                server.wait(timeout=30)
    except ScreenshotError as err:
        print(f"screenshots: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
