"""Non-streamed load: ``wrk`` with post.lua, one thread, pinned to the load core."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "post.lua"
MARKER = "BENCH_JSON "
# wrk waits this long for one response before counting a timeout.
REQUEST_TIMEOUT = "10s"


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian first if it is missing."""
    path = shutil.which("wrk")
    if path is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, timeout=300)
        path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return path


def wrk(
    url: str,
    body: Path,
    *,
    connections: int,
    seconds: float,
    core: int,
    api_key: str | None = None,
) -> dict:
    """One closed-loop run: every connection sends its next request when the last returns."""
    argv = [
        "taskset", "-c", str(core),
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={REQUEST_TIMEOUT}",
        "-s", str(SCRIPT), url, "--", str(body), *([api_key] if api_key else []),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line.removeprefix(MARKER))
            result["errors_total"] = sum(result["errors"].values())
            return result
    raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
