"""A bounded soak: mixed traffic and faults through the gateway for minutes, then a report.

    .venv/bin/python scripts/soak.py                  # 3 minutes at 20 requests/s
    .venv/bin/python scripts/soak.py --duration 1800  # longer

Starts the simulator (with fault rates) and the gateway (retries on) as real processes on
loopback, drives them with ``llm-gateway loadgen``, samples the gateway's RSS, and prints
requests, errors by cause (injected upstream faults vs. the gateway's own), latency
percentiles and RSS at start and end. Exits 1 if the gateway caused any error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from llm_gateway.ports import free_port

BIN = Path(sys.executable).parent
# Per request, at the simulator: one draw picks at most one of these.
FAULT_RATES = {
    "LLM_SIMULATOR_RATE_LIMIT_RATE": "0.02",
    "LLM_SIMULATOR_UNAVAILABLE_RATE": "0.03",
    "LLM_SIMULATOR_SERVER_ERROR_RATE": "0.01",
    "LLM_SIMULATOR_HANG_RATE": "0.002",
    "LLM_SIMULATOR_DROP_RATE": "0.01",
    "LLM_SIMULATOR_MALFORMED_RATE": "0.005",
}
SAMPLE_SECONDS = 5.0


def start(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{args[1]} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()

    simulator_port, gateway_port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    simulator = start(
        [
            str(BIN / "llm-gateway"),
            "simulate",
            "--port",
            str(simulator_port),
            "--time-to-first-token",
            "0.05",
            "--time-per-token",
            "0.005",
            "--log-level",
            "warning",
            "--seed",
            str(options.seed),
        ],
        {**FAULT_RATES, "LLM_SIMULATOR_HANG_SECONDS": "30"},
        f"{simulator_url}/health",
    )
    gateway = start(
        [
            str(BIN / "llm-gateway"),
            "serve",
            "--port",
            str(gateway_port),
            "--upstream-url",
            simulator_url,
            "--upstream-timeout",
            "2",
            "--log-level",
            "warning",
        ],
        {"LLM_GATEWAY_RETRY_MAX_BACKOFF_SECONDS": "2"},
        f"{gateway_url}/readyz",
    )
    rss: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        process, started = psutil.Process(gateway.pid), time.monotonic()
        while True:
            rss.append((time.monotonic() - started, process.memory_info().rss))
            if done.wait(SAMPLE_SECONDS):
                rss.append((time.monotonic() - started, process.memory_info().rss))
                return

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run = subprocess.run(
            [
                str(BIN / "llm-gateway"),
                "loadgen",
                "--url",
                gateway_url,
                "--json",
                "--rate",
                str(options.rate),
                "--duration",
                str(options.duration),
                "--seed",
                str(options.seed),
                "--timeout",
                "30",
                "--max-tokens",
                "32",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        done.set()
        sampler.join()
        for process in (gateway, simulator):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    summary = json.loads(run.stdout)
    return report(summary, rss)


def report(summary: dict, rss: list[tuple[float, int]]) -> int:
    errors: dict[str, int] = summary["errors"]
    injected = {code: n for code, n in errors.items() if code.startswith("upstream_")}
    own = {code: n for code, n in errors.items() if not code.startswith("upstream_")}
    latency = summary["latency"]["all"]["percentiles"]
    ttfb = summary["time_to_first_byte"]["all"]["percentiles"]
    mib = [value / 2**20 for _, value in rss]
    lines = [
        f"duration {summary['sending_seconds']:.0f} s, target {summary['target_rate']:g}/s: "
        f"{summary['sent']} sent, {summary['ok']} ok, {summary['failed']} failed, "
        f"{summary['skipped']} skipped",
        f"errors from injected upstream faults (after retries): {injected or 'none'}",
        f"errors caused by the gateway: {own or 'none'}",
        "latency of successes: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in latency.items()),
        "time to first byte of streams: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in ttfb.items()),
        f"gateway RSS: start {mib[0]:.1f} MiB, end {mib[-1]:.1f} MiB, peak {max(mib):.1f} MiB "
        f"({len(mib)} samples every {SAMPLE_SECONDS:g} s); by quarter of the run: "
        + ", ".join(f"{mib[round(q * (len(mib) - 1) / 4)]:.1f}" for q in range(5))
        + " MiB",
    ]
    print("\n".join(lines))  # noqa: T201
    return 1 if own else 0


if __name__ == "__main__":
    sys.exit(main())
