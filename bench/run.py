"""Measure what the gateway costs: ``python bench/run.py`` (about six minutes on 2 cores).

Core 0 runs the process under test (gateway or ceiling), alone; core 1 runs the
simulator, wrk, the stream client and this script. Every load run is bounded in time and
every wait in time and count. Results go to ``bench/out/`` (results.json, logs, profiles)
and into ``bench/RESULTS.md`` between its ``results`` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import loadgen
import report
import scrape
import spy
import streams

import servers
from llm_gateway.ports import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
RESULTS_MD = HERE / "RESULTS.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
SERVER_CORE, LOAD_CORE = 0, 1
CONCURRENCIES = (1, 8, 64)
STREAM_CONCURRENCY = 8
STREAM_TOKENS = 32
ALIASES = 250
CHAT = "/v1/chat/completions"
CHAT_BODY = {
    "model": "mistralai/Mistral-7B-Instruct-v0.3",
    "messages": [{"role": "user", "content": "What is Prometheus?"}],
    "max_tokens": 32,
}
PACKAGES = (
    "uvicorn", "fastapi", "starlette", "huggingface_hub", "httpx2", "starlette-exporter",
    "prometheus-client", "pydantic", "uvloop", "httptools", "aiohttp", "py-spy",
    "opentelemetry-sdk",
)  # fmt: skip


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def start_simulator(port: int) -> servers.Server:
    """The zero-latency, jitter-free simulator every target talks to, on the load core."""
    return servers.start(
        "simulator",
        [sys.executable, "-m", "llm_gateway", "simulate", "--host", "127.0.0.1",
         "--port", str(port), "--time-to-first-token", "0", "--time-per-token", "0",
         "--jitter", "0", "--log-level", "warning"],
        port=port, ready_path="/health", log_dir=OUT, core=LOAD_CORE,
    )  # fmt: skip


def start_servers(sim_only: bool = False) -> dict[str, servers.Server]:
    python = sys.executable
    ports = {name: free_port() for name in [*report.LABELS, "otlp_sink"]}
    common: dict[str, Any] = {"log_dir": OUT, "core": SERVER_CORE}
    started: dict[str, servers.Server] = {}
    try:
        started["direct"] = start_simulator(ports["direct"])
        upstream = started["direct"].url
        env = {
            "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "true",
            "LLM_GATEWAY_UPSTREAM_URL": upstream,
            # The kind RESULTS.md's gateway targets were measured on; gateway_openai's own.
            "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
            "LLM_GATEWAY_LOG_LEVEL": "warning",
            "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(ALIASES)),
        }

        def start_gateway(name: str, settings: dict[str, str]) -> servers.Server:
            """A gateway of the same command, with ``settings`` over the shared ``env``."""
            return servers.start(
                name,
                [python, "-m", "llm_gateway", "serve", "--port", str(ports[name]),
                 "--upstream-url", upstream, "--log-level", "warning"],
                port=ports[name], ready_path="/readyz", env={**env, **settings}, **common,
            )  # fmt: skip

        started["gateway"] = start_gateway("gateway", {})
        if sim_only:
            return started
        started["otlp_sink"] = servers.start(
            "otlp_sink",
            [python, str(HERE / "otlp_sink.py"), "--port", str(ports["otlp_sink"])],
            port=ports["otlp_sink"], ready_path="/healthz", log_dir=OUT, core=LOAD_CORE,
        )  # fmt: skip
        started["gateway_traced"] = start_gateway(
            "gateway_traced", traced_environment(started["otlp_sink"].url)
        )
        started["gateway_openai"] = start_gateway(
            "gateway_openai", {"LLM_GATEWAY_UPSTREAM_KIND": "openai"}
        )
        started["gateway_metrics_off"] = start_gateway(
            "gateway_metrics_off", {"LLM_GATEWAY_METRICS_ENABLED": "false"}
        )
        for name in ("ceiling", "ceiling_exporter"):
            started[name] = start_reference(name, ports[name], [])
        started["relay"] = start_reference("relay", ports["relay"], ["--upstream", upstream])
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


# The reference servers, each by its script and options: the bare endpoint (and with the
# gateway's HTTP metrics), the relay, and the reader (the relay reading what it relays as
# any gateway must).
REFERENCES = {
    "ceiling": ("ceiling.py", []),
    "ceiling_exporter": ("ceiling.py", ["--exporter"]),
    "relay": ("relay.py", []),
    "reader": ("relay.py", ["--reads"]),
}


def reference_argv(name: str) -> list[str]:
    """The command of a reference server (``REFERENCES``), without its port."""
    script, options = REFERENCES[name]
    return [sys.executable, str(HERE / script), *options]


def start_reference(name: str, port: int, extra: list[str]) -> servers.Server:
    """A reference server (``REFERENCES``) on the server core, ``extra`` its other options."""
    return servers.start(
        name, [*reference_argv(name), "--port", str(port), *extra],
        port=port, ready_path="/healthz", log_dir=OUT, core=SERVER_CORE,
    )  # fmt: skip


def traced_environment(sink: str) -> dict[str, str]:
    """Traces on, every request sampled, exported to the sink over OTLP/HTTP."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_TRACES_SAMPLER": "always_on"}


class Window:
    """The target's CPU time over a load run, and what else ran on its core meanwhile.

    The machine is shared: other work on the server core slows the target (latency) even
    though its own CPU time stays honest. ``noise`` is that other work, as a share of the
    wall time (not meaningful for the simulator, which shares the load core by design).
    """

    def __init__(self, server: servers.Server) -> None:
        self.server = server
        self.started = time.monotonic()
        self.cpu = server.cpu_seconds()
        self.busy = servers.core_busy_seconds(SERVER_CORE)

    def close(self) -> tuple[float, float]:
        """(CPU seconds of the target, noise share) since the window opened."""
        cpu = self.server.cpu_seconds() - self.cpu
        busy = servers.core_busy_seconds(SERVER_CORE) - self.busy
        return cpu, max(busy - cpu, 0.0) / (time.monotonic() - self.started)


def measure_wrk(
    server: servers.Server, body: Path, c: int, seconds: float, api_key: str | None = None
) -> dict[str, Any]:
    window = Window(server)
    result = loadgen.wrk(
        server.url + CHAT, body, connections=c, seconds=seconds, core=LOAD_CORE, api_key=api_key
    )
    cpu, noise = window.close()
    done = max(result["requests"], 1)
    return {
        "noise": noise,
        "requests": result["requests"],
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p90_ms": result["latency_us"]["p90"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "cpu_ms": cpu * 1000 / done,
        "errors": result["errors_total"],
    }


def measure_streams(server: servers.Server, seconds: float) -> dict[str, Any]:
    window = Window(server)
    result = asyncio.run(
        streams.run(
            server.url + CHAT,
            concurrency=STREAM_CONCURRENCY,
            seconds=seconds,
            tokens=STREAM_TOKENS,
        )
    )
    cpu, result["noise"] = window.close()
    result["cpu_ms"] = cpu * 1000 / max(result["streams"], 1)
    result["streams_per_second"] = result["streams"] / result["seconds"]
    return result


def profile_gateway(gateway: servers.Server, body: Path, seconds: int) -> dict[str, Any]:
    """py-spy on the gateway under c=64 non-streamed load, then under c=8 streams."""
    profiles: dict[str, Any] = {}
    load_seconds = 2 * seconds + 6
    wrk = subprocess.Popen(
        ["taskset", "-c", str(LOAD_CORE), "wrk", "-t1", "-c64", f"-d{load_seconds}s",
         "-s", str(loadgen.SCRIPT), gateway.url + CHAT, "--", str(body)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1)
        spy.record(gateway.pid, OUT / "profile-c64", seconds=seconds)
    finally:
        wrk.wait(load_seconds + 30)
    profiles["non-streamed, c=64"] = spy.summarise(OUT / "profile-c64.txt")

    recorder = threading.Thread(
        target=spy.record,
        args=(gateway.pid, OUT / "profile-streams-c8"),
        kwargs={"seconds": seconds},
    )
    recorder.start()
    asyncio.run(
        streams.run(
            gateway.url + CHAT,
            concurrency=STREAM_CONCURRENCY,
            seconds=load_seconds,
            tokens=STREAM_TOKENS,
        )
    )
    recorder.join(60)
    profiles["streams, c=8"] = spy.summarise(OUT / "profile-streams-c8.txt")
    return profiles


def scrape_at_scale(gateway: servers.Server, results: dict[str, Any], profile_seconds: int) -> None:
    names = list(scrape.aliases(ALIASES))
    series = asyncio.run(scrape.fill(gateway.url, names, target=report.SCRAPE_SERIES))
    log(f"filled the gateway's exposition to {series} series")
    results["rss"].append(("after filling series", gateway.rss_bytes()))
    results["scrape"] = {}
    for name, accept in (("text (Prometheus 0.0.4)", None), ("OpenMetrics", scrape.OPENMETRICS)):
        cpu_before = gateway.cpu_seconds()
        m = asyncio.run(scrape.time_scrapes(gateway.url, count=20, accept=accept))
        m["cpu_ms"] = (gateway.cpu_seconds() - cpu_before) * 1000 / m["count"]
        results["scrape"]["text" if accept is None else "openmetrics"] = m
        log(f"scrape {name}: {m['series']} series, {m['bytes']} bytes, {m['p50_ms']:.1f} ms")
    results["rss"].append(("after 40 scrapes", gateway.rss_bytes()))
    if profile_seconds:
        recorder = threading.Thread(
            target=spy.record,
            args=(gateway.pid, OUT / "profile-scrape"),
            kwargs={"seconds": profile_seconds},
        )
        recorder.start()
        deadline = time.monotonic() + 2 * profile_seconds + 4
        while recorder.is_alive() and time.monotonic() < deadline:
            asyncio.run(scrape.time_scrapes(gateway.url, count=2, accept=None))
        recorder.join(60)
        results["profiles"]["/metrics scrape"] = spy.summarise(OUT / "profile-scrape.txt")


def metadata(args: argparse.Namespace) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    versions["wrk"] = (wrk.stdout or wrk.stderr).split()[1]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "commit": commit,
        "versions": versions,
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "rounds": args.rounds,
        "duration": args.duration,
        "stream_tokens": STREAM_TOKENS,
        "stream_c": STREAM_CONCURRENCY,
    }


def write_results(results: dict[str, Any]) -> None:
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    tables = report.render(results)
    (OUT / "results.md").write_text(tables)
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            RESULTS_MD.write_text(f"{head}{BEGIN}\n{tables}\n{END}{tail}")
            return
    log(f"{RESULTS_MD} has no results markers; the tables are in {OUT / 'results.md'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--duration", type=float, default=5, help="seconds per load run")
    parser.add_argument("--profile-seconds", type=int, default=8, help="0: no profiles")
    parser.add_argument(
        "--targets",
        default=",".join(report.LABELS),
        help="comma-separated targets to load (a short run: fewer); all are started",
    )
    parser.add_argument("--no-scrape", action="store_true", help="skip the scrape at scale")
    args = parser.parse_args()
    chosen = args.targets.split(",")
    started_at = time.monotonic()
    OUT.mkdir(exist_ok=True)
    loadgen.ensure_wrk()
    # This script and everything it starts run on the load core, unless pinned elsewhere.
    os.sched_setaffinity(0, {LOAD_CORE})
    body = OUT / "chat.json"
    body.write_text(json.dumps(CHAT_BODY))
    results: dict[str, Any] = {"meta": metadata(args), "wrk": {}, "streams": {}, "rss": []}
    running = start_servers()
    try:
        gateway = running["gateway"]
        results["rss"].append(("start", gateway.rss_bytes()))
        log("warming up: 1 s at c=64 on each target, then 50 streams")
        for name in report.LABELS:
            loadgen.wrk(running[name].url + CHAT, body, connections=64, seconds=1, core=LOAD_CORE)
        asyncio.run(
            streams.run(gateway.url + CHAT, concurrency=STREAM_CONCURRENCY, seconds=1, tokens=8)
        )
        results["rss"].append(("after warm-up", gateway.rss_bytes()))
        targets = [name for name in report.LABELS if name in chosen]
        # The ceilings answer no stream.
        stream_targets = [name for name in targets if not name.startswith("ceiling")]
        for round_ in range(args.rounds):
            for c in CONCURRENCIES:
                # Rotated each round, so no target always runs first (or after the same one).
                order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
                for name in order:
                    m = measure_wrk(running[name], body, c, args.duration)
                    results["wrk"].setdefault(name, {}).setdefault(str(c), []).append(m)
                    log(
                        f"round {round_ + 1} c={c:<2} {name:<20} {m['rps']:7.0f} req/s "
                        f"p50 {m['p50_ms']:6.2f} p99 {m['p99_ms']:7.2f} ms "
                        f"cpu {m['cpu_ms']:.3f} ms/req errors {m['errors']} "
                        f"noise {m['noise']:.0%}"
                    )
            turn = round_ % len(stream_targets)
            for name in stream_targets[turn:] + stream_targets[:turn]:
                m = measure_streams(running[name], args.duration)
                results["streams"].setdefault(name, []).append(m)
                log(
                    f"round {round_ + 1} streams {name:<20} {m['streams_per_second']:5.0f}/s "
                    f"ttfb p50 {m['ttfb_p50_ms']:.2f} ms cpu {m['cpu_ms']:.3f} ms/stream "
                    f"tokens/stream {m['tokens_per_stream']:.1f} errors {m['errors']} "
                    f"noise {m['noise']:.0%}"
                )
            results["rss"].append((f"after round {round_ + 1}", gateway.rss_bytes()))
        if args.profile_seconds:
            log("profiling the gateway with py-spy")
            results["profiles"] = profile_gateway(gateway, body, args.profile_seconds)
        results.setdefault("profiles", {})
        if not args.no_scrape:
            scrape_at_scale(gateway, results, args.profile_seconds)
    finally:
        for server in running.values():
            server.stop()
    results["meta"]["seconds"] = time.monotonic() - started_at
    results["meta"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    write_results(results)
    sys.stdout.write(report.render(results) + "\n")
    log(f"done in {results['meta']['seconds']:.0f} s; details in {OUT}")


if __name__ == "__main__":
    main()
