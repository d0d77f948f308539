"""Many open streams at once: throughput, CPU per token, event-loop stalls, memory per stream.

    python bench/sweep.py [--levels 100,250,500,1000,2000] [--seconds 8]
                          [--targets gateway,relay[,reader]] [--env K=V ...]

Issue 20's sweep: 64-token streams at 50 ms a token (the first after 50 ms; 10 % jitter)
from a paced upstream (:mod:`paced`: the simulator's frames, at a fraction of its cost
per token), through one worker of the gateway (the openai kind, its concurrency limits
and upstream connections raised so nothing is shed or queued) or the relay reference,
pinned to the server core. At each level, ``N`` clients (:class:`paced.Streams`) each
ask for one stream after another, their starts spread over a second; after the ramp,
``--seconds`` are measured: tokens relayed per second, the target's CPU (share of a
core, and per token), time to first token, errors, and a health probe (``GET
/healthz``) every 100 ms from a process of its own, whose latency shows the event
loop's stalls, and the gateway's full (generation 2) collections of the cycle collector,
which stop its loop: how many in the window, the longest (logged by
``gcwatch/sitecustomize.py``, which the gateway imports at startup from the
``PYTHONPATH`` the sweep gives it). RSS is read idle before each level and at the end
of its window, the streams still open: memory per open stream is the loaded RSS less
the RSS idle at the start of the sweep, over ``N`` (an upper bound: what earlier waves
left counts too). The levels are waves, each over before the next starts; the largest
comes again at the end, and RSS is read idle after it, to show whether RSS grows from
one wave to the next.

Everything binds 127.0.0.1. Bounded: every level lasts its ramp, ``--seconds`` and the
time its last streams take to finish (at most ``STREAM_SECONDS``); every wait has a
deadline. The upstream and the clients share the load core: its busy share (all work
on it, the machine's other users' included) is reported, as is the other work on the
server core (noise), since either delays what the target is offered or does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import paced
import run
import scrape
import streams
import uvloop

import servers
from llm_gateway.ports import free_port

TOKENS = 64
TOKEN_SECONDS = 0.05
JITTER = 0.1
PROBE_SECONDS = 0.1
STALL_MS = 20.0
RAMP_SECONDS = 1.0
# The longest a stream may take (64 tokens at 50 ms, with jitter, and queueing).
STREAM_SECONDS = 30.0
# Limits raised so that no level is shed, queued or short of upstream connections.
UNLIMITED = {
    "LLM_GATEWAY_MAX_CONCURRENCY": "10000",
    "LLM_GATEWAY_MAX_QUEUE": "0",
    "LLM_GATEWAY_UPSTREAM_MAX_CONNECTIONS": "10000",
    "LLM_GATEWAY_UPSTREAM_KIND": "openai",
}
RELAY_CONNECTIONS = "10000"
GC_WATCH = run.HERE / "gcwatch"
GC_LOG = run.OUT / "gateway-gc.log"


def start_targets(names: list[str], settings: dict[str, str]) -> dict[str, servers.Server]:
    started: dict[str, servers.Server] = {}
    try:
        port = free_port()
        started["upstream"] = servers.start(
            "paced",
            [sys.executable, str(run.HERE / "paced.py"), "--port", str(port),
             "--tokens", str(TOKENS), "--token-seconds", str(TOKEN_SECONDS),
             "--jitter", str(JITTER)],
            port=port, ready_path="/health", log_dir=run.OUT, core=run.LOAD_CORE,
        )  # fmt: skip
        upstream = started["upstream"].url
        if "gateway" in names:
            port = free_port()
            started["gateway"] = servers.start(
                "gateway",
                [sys.executable, "-m", "llm_gateway", "serve", "--port", str(port),
                 "--upstream-url", upstream, "--log-level", "warning"],
                port=port, ready_path="/readyz", log_dir=run.OUT, core=run.SERVER_CORE,
                env={
                    "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(run.ALIASES)),
                    **UNLIMITED,
                    # The collector's passes, logged (gcwatch/sitecustomize.py).
                    "PYTHONPATH": os.pathsep.join(
                        p for p in (str(GC_WATCH), os.environ.get("PYTHONPATH")) if p
                    ),
                    "GC_LOG": str(GC_LOG),
                    **settings,
                },
            )  # fmt: skip
        for name in ("relay", "reader"):  # the reader: see bench/relay.py
            if name in names:
                options = ["--upstream", upstream, "--max-connections", RELAY_CONNECTIONS]
                started[name] = run.start_reference(name, free_port(), options)
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def probe(url: str, until: float, results: Connection) -> None:
    """``GET /healthz`` every PROBE_SECONDS until ``until`` (wall clock): the latencies."""
    with contextlib.suppress(PermissionError):
        os.nice(-10)  # ahead of the clients on the load core: its delays are not the target's
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=STREAM_SECONDS)
    latencies = []
    next_at = time.time()
    while next_at < until:
        time.sleep(max(0.0, next_at - time.time()))
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        latencies.append((time.time(), (time.perf_counter() - started) * 1000))
        next_at += PROBE_SECONDS
    connection.close()
    results.send(latencies)


class Level:
    """The clients of one level, each on a connection of its own (:class:`paced.Streams`)."""

    def __init__(self, url: str, count: int, measured: tuple[float, float]) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.count = count
        self.measured = measured  # the measurement window, in time.time()
        self.tokens = 0  # relayed within the window
        self.ttfts: list[float] = []  # of streams started within the window
        self.errors = 0
        body = streams.body(TOKENS)
        self.request = (
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (run.CHAT.encode(), url.removeprefix("http://").encode(), len(body), body)
        )

    def token(self, count: int, now: float) -> None:
        if self.measured[0] <= now < self.measured[1]:
            self.tokens += count

    def first(self, started: float, seconds: float) -> None:
        if self.measured[0] <= started < self.measured[1]:
            self.ttfts.append(seconds)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        done: list[asyncio.Future[None]] = []
        for _ in range(self.count):
            await asyncio.sleep(RAMP_SECONDS / self.count)
            finished = loop.create_future()
            done.append(finished)
            await loop.create_connection(
                lambda f=finished: paced.Streams(  # type: ignore[misc]
                    self.request, self.measured[1], self.token, self.first, f
                ),
                self.host,
                self.port,
            )
        for outcome in await asyncio.gather(*done, return_exceptions=True):
            self.errors += isinstance(outcome, Exception)


def measure(server: servers.Server, count: int, seconds: float) -> dict[str, Any]:
    idle_rss = server.rss_bytes()
    now = time.time()
    window = (now + RAMP_SECONDS + 1.0, now + RAMP_SECONDS + 1.0 + seconds)
    level = Level(server.url, count, window)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    prober = multiprocessing.Process(target=probe, args=(server.url, window[1], sending))
    prober.start()
    cpu = busy = server_busy = 0.0
    loaded_rss = 0

    async def sample() -> None:
        nonlocal cpu, busy, server_busy, loaded_rss
        await asyncio.sleep(window[0] - time.time())
        cpu, busy = server.cpu_seconds(), servers.core_busy_seconds(run.LOAD_CORE)
        server_busy = servers.core_busy_seconds(run.SERVER_CORE)
        await asyncio.sleep(window[1] - time.time())
        cpu = server.cpu_seconds() - cpu
        busy = servers.core_busy_seconds(run.LOAD_CORE) - busy
        server_busy = servers.core_busy_seconds(run.SERVER_CORE) - server_busy
        loaded_rss = server.rss_bytes()  # the streams still open

    async def both() -> None:
        async with asyncio.timeout(RAMP_SECONDS + 1.0 + seconds + STREAM_SECONDS + 10):
            await asyncio.gather(level.run(), sample())

    asyncio.run(both())
    latencies = [ms for at, ms in receiving.recv() if window[0] <= at < window[1]]
    prober.join(10)
    ttfts = sorted(level.ttfts)
    return {
        "streams": count,
        "tokens_per_second": level.tokens / seconds,
        "cpu_share": cpu / seconds,
        "cpu_us_per_token": cpu * 1e6 / max(level.tokens, 1),
        "load_core_busy": busy / seconds,
        # Other work on the target's core (the machine is shared), as run.py's noise.
        "noise": max(server_busy - cpu, 0.0) / seconds,
        "ttft_p50_ms": statistics.median(ttfts) * 1000 if ttfts else None,
        "ttft_p99_ms": ttfts[int(0.99 * (len(ttfts) - 1))] * 1000 if ttfts else None,
        "probe_p50_ms": statistics.median(latencies) if latencies else None,
        "probe_max_ms": max(latencies) if latencies else None,
        "stalls": sum(ms > STALL_MS for ms in latencies),
        "probes": len(latencies),
        "errors": level.errors,
        "idle_rss_mib": idle_rss / 2**20,
        "loaded_rss_mib": loaded_rss / 2**20,
        **collections(server, window),
    }


def collections(server: servers.Server, window: tuple[float, float]) -> dict[str, Any]:
    """The gateway's full (generation 2) collections within ``window``: how many, and the
    longest, in ms (the event loop stands still for each); nothing for other targets."""
    if server.name != "gateway" or not GC_LOG.exists():
        return {}
    full = [
        float(ms)
        for at, generation, ms, _ in (line.split() for line in GC_LOG.read_text().splitlines())
        if generation == "2" and window[0] <= float(at) < window[1]
    ]
    return {"full_collections": len(full), "full_collection_max_ms": max(full, default=0.0)}


def render(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| target | open streams | tokens/s | CPU (of a core) | CPU µs/token | TTFT p50 / p99 ms "
        "| probe p50 / max ms | probes > 20 ms | KiB/stream | idle RSS MiB | errors "
        "| load core busy | noise | full GC passes (max ms) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f}"

    def passes(m: dict[str, Any]) -> str:
        if "full_collections" not in m:
            return "–"
        return f"{m['full_collections']} ({m['full_collection_max_ms']:.0f})"

    for target, levels in results.items():
        start = levels[0]["idle_rss_mib"]
        for m in levels:
            # Against the RSS idle at the start, not before this level: what earlier waves
            # left in the heap is counted too (an upper bound).
            kib = (m["loaded_rss_mib"] - start) * 1024 / m["streams"]
            lines.append(
                f"| {target} | {m['streams']:,} | {m['tokens_per_second']:,.0f} "
                f"| {m['cpu_share']:.0%} | {m['cpu_us_per_token']:.0f} "
                f"| {ms(m['ttft_p50_ms'])} / {ms(m['ttft_p99_ms'])} "
                f"| {ms(m['probe_p50_ms'])} / {ms(m['probe_max_ms'])} "
                f"| {m['stalls']} of {m['probes']} | {kib:.1f} "
                f"| {m['idle_rss_mib']:.1f} | {m['errors']} | {m['load_core_busy']:.0%} "
                f"| {m['noise']:.0%} | {passes(m)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="100,250,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured, per level")
    parser.add_argument("--targets", default="gateway,relay")
    parser.add_argument("--env", action="append", default=[], help="K=V for the gateway")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    levels.append(levels[-1])  # the largest wave again: does RSS grow from one to the next?
    names = args.targets.split(",")
    run.OUT.mkdir(exist_ok=True)
    GC_LOG.unlink(missing_ok=True)
    os.sched_setaffinity(0, {run.LOAD_CORE})
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the clients cost less
    running = start_targets(names, dict(pair.split("=", 1) for pair in args.env))
    results: dict[str, list[dict[str, Any]]] = {}
    idle: dict[str, float] = {}  # RSS after the last wave, idle
    try:
        for name in names:
            for count in levels:
                m = measure(running[name], count, args.seconds)
                results.setdefault(name, []).append(m)
                run.log(
                    f"{name} {count:5} streams: {m['tokens_per_second']:7.0f} tokens/s, "
                    f"cpu {m['cpu_share']:.0%}, {m['cpu_us_per_token']:.0f} us/token, "
                    f"probe max {m['probe_max_ms']} ms, RSS {m['loaded_rss_mib']:.1f} MiB, "
                    f"errors {m['errors']}"
                )
            idle[name] = running[name].rss_bytes() / 2**20
    finally:
        for server in running.values():
            server.stop()
    (run.OUT / "sweep.json").write_text(json.dumps({"levels": results, "idle_at_end": idle}))
    sys.stdout.write(render(results) + "\n")
    for name, levels in results.items():
        waves = ", ".join(f"{m['idle_rss_mib']:.1f}" for m in levels)
        after = idle[name]
        sys.stdout.write(
            f"\n{name}: idle RSS before each wave {waves}; after the last {after:.1f} MiB"
        )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
