"""Where the gateway's CPU goes: py-spy samples under load, summarised by package and function.

py-spy's raw output is one line per distinct stack, ``frame;frame;... count``, each frame
``function (path:line)`` with paths relative to their import root. Shares are of the event
loop thread's samples (anyio's worker threads, which FastAPI uses for sync dependencies,
are counted apart). "By package" charges a sample to the innermost frame of a package that
does work of its own; the standard library and plumbing packages (anyio, sniffio, h11) are
charged to the package that called them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
WORKER_THREAD = "Thread._bootstrap"
# Charged to their caller: they move bytes and tasks for whoever called them.
PLUMBING = frozenset({"anyio", "sniffio", "h11", "idna", "typing_extensions", "click"})
# Packages whose functions get an inclusive share (time in them and in what they call).
INCLUSIVE = frozenset(
    {"llm_gateway", "huggingface_hub", "httpx2", "starlette_exporter", "prometheus_client"}
)
# The server's own entry frames: in every sample, so they say nothing.
ROOT = frozenset({"llm_gateway/__main__.py", "llm_gateway/cli.py"})


def record(pid: int, out: Path, *, seconds: int, rate: int = 250) -> None:
    """The raw stacks, then an SVG flame graph, one after the other, from a running process."""
    py_spy = Path(sys.executable).with_name("py-spy")
    for fmt, path in (("raw", out.with_suffix(".txt")), ("flamegraph", out.with_suffix(".svg"))):
        subprocess.run(
            [str(py_spy), "record", "--pid", str(pid), "--duration", str(seconds),
             "--rate", str(rate), "--format", fmt, "--output", str(path)],
            check=True, capture_output=True, timeout=seconds + 60,
        )  # fmt: skip


def package(path: str) -> str | None:
    """The package a frame's file belongs to; None for the standard library."""
    if path.startswith("<frozen"):
        return None
    top = path.split("/", 1)[0].removesuffix(".py")
    return None if top in sys.stdlib_module_names else top


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for text in stack.split(";"):
        match = FRAME.match(text)
        if match:
            frames.append((match["function"], match["path"]))
    return frames


def summarise(raw: Path, *, top: int = 15) -> dict:
    """Shares of the event loop's samples: by package, by leaf function, inclusive."""
    owners: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = workers = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = _frames(stack)
        if not count_text.isdigit() or not frames:
            continue
        count = int(count_text)
        if frames[0][0] == WORKER_THREAD:
            workers += count
            continue
        total += count
        owner = "stdlib"
        for _, path in reversed(frames):
            name = package(path)
            if name is not None and name not in PLUMBING:
                owner = name
                break
        owners[owner] += count
        function, path = frames[-1]
        leaves[f"{function} ({path})"] += count
        for name in {f"{f} ({p})" for f, p in frames if package(p) in INCLUSIVE and p not in ROOT}:
            inclusive[name] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, n / total) for name, n in counter.most_common(top)] if total else []

    return {
        "samples": total,
        "worker_thread_samples": workers,
        "by_package": shares(owners),
        "by_leaf": shares(leaves),
        "inclusive": shares(inclusive),
    }


def render(profiles: dict[str, dict]) -> str:
    """Markdown: for each profile, the package, leaf and inclusive tables side by side."""
    lines: list[str] = []
    for name, p in profiles.items():
        lines += [
            f"#### {name}: {p['samples']} event-loop samples "
            f"(+{p['worker_thread_samples']} in worker threads)",
            "",
            "| share | by package | share | leaf function | share | inclusive |",
            "|--:|---|--:|---|--:|---|",
        ]
        columns = (p["by_package"], p["by_leaf"], p["inclusive"])
        for i in range(max(len(c) for c in columns)):
            cells = []
            for column in columns:
                if i < len(column):
                    label, share = column[i]
                    cells += [f"{share * 100:.1f}%", f"`{label}`"]
                else:
                    cells += ["", ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
