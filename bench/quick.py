"""A quick look at the gateway alone, for iterating on one change: about a minute.

    python bench/quick.py [--rounds 3] [--duration 4] [--profile c64|streams] [--env K=V ...]
    python bench/quick.py --scrape     # /metrics at 10,000 series instead

The same pinning and CPU accounting as ``run.py``, but only the gateway (and the
simulator behind it): CPU ms per request at c=1 and c=64, CPU per 32-token stream at
c=8, and medians over rounds. Not a substitute for ``run.py``: no ceiling, no ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import run
import scrape
import spy
import streams

import servers
from llm_gateway.ports import free_port


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--profile", choices=("c64", "streams"), default=None)
    parser.add_argument("--env", action="append", default=[], help="K=V for the gateway")
    parser.add_argument("--scrape", action="store_true", help="time /metrics at 10,000 series")
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    body = run.OUT / "chat.json"
    body.write_text(json.dumps(run.CHAT_BODY))
    python = sys.executable
    sim_port, gw_port = free_port(), free_port()
    sim = run.start_simulator(sim_port)
    env = {
        "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "true",
        "LLM_GATEWAY_UPSTREAM_URL": sim.url,
        # run.py's gateway target; --env LLM_GATEWAY_UPSTREAM_KIND=openai for the other kind.
        "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
        "LLM_GATEWAY_LOG_LEVEL": "warning",
        "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(run.ALIASES)),
        **dict(pair.split("=", 1) for pair in args.env),
    }
    gateway = servers.start(
        "gateway",
        [python, "-m", "llm_gateway", "serve", "--port", str(gw_port), "--upstream-url", sim.url,
         "--log-level", "warning"],
        port=gw_port, ready_path="/readyz", env=env, log_dir=run.OUT, core=run.SERVER_CORE,
    )  # fmt: skip
    try:
        if args.scrape:
            names = list(scrape.aliases(run.ALIASES))
            series = asyncio.run(scrape.fill(gateway.url, names, target=run.report.SCRAPE_SERIES))
            for accept in (None, scrape.OPENMETRICS):
                cpu = gateway.cpu_seconds()
                m = asyncio.run(scrape.time_scrapes(gateway.url, count=20, accept=accept))
                cpu_ms = (gateway.cpu_seconds() - cpu) * 1000 / m["count"]
                say(f"scrape {accept or 'text'}: {series} series, p50 {m['p50_ms']:.1f} ms, "
                    f"max {m['max_ms']:.1f} ms, cpu {cpu_ms:.1f} ms/scrape")  # fmt: skip
            return
        run.measure_wrk(gateway, body, 8, 2)  # warm-up
        rows: dict[str, list[dict]] = {"c=1": [], "c=64": [], "streams": []}
        for _ in range(args.rounds):
            rows["c=1"].append(run.measure_wrk(gateway, body, 1, args.duration))
            rows["c=64"].append(run.measure_wrk(gateway, body, 64, args.duration))
            rows["streams"].append(run.measure_streams(gateway, args.duration))
        for name, results in rows.items():
            cpu = statistics.median(r["cpu_ms"] for r in results)
            noise = statistics.median(r["noise"] for r in results)
            if name == "streams":
                ttfb = statistics.median(r["ttfb_p50_ms"] for r in results)
                rate = statistics.median(r["streams_per_second"] for r in results)
                say(f"{name:8} cpu {cpu:.3f} ms/stream  ttfb p50 {ttfb:.2f} ms  "
                      f"{rate:.0f}/s  errors {sum(r['errors'] for r in results)}  "
                      f"noise {noise:.0%}")  # fmt: skip
            else:
                p50 = statistics.median(r["p50_ms"] for r in results)
                p99 = statistics.median(r["p99_ms"] for r in results)
                rps = statistics.median(r["rps"] for r in results)
                say(f"{name:8} cpu {cpu:.3f} ms/req  p50 {p50:.2f} p99 {p99:.2f} ms  "
                      f"{rps:.0f}/s  errors {sum(r['errors'] for r in results)}  "
                      f"noise {noise:.0%}")  # fmt: skip
        if args.profile:
            target = run.OUT / f"quick-{args.profile}"
            if args.profile == "c64":
                load = subprocess.Popen(
                    ["taskset", "-c", str(run.LOAD_CORE), "wrk", "-t1", "-c64", "-d14s",
                     "-s", str(run.loadgen.SCRIPT), gateway.url + run.CHAT, "--", str(body)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1)
                spy.record(gateway.pid, target, seconds=8)
                load.wait(60)
            else:
                import threading

                recorder = threading.Thread(
                    target=spy.record, args=(gateway.pid, target), kwargs={"seconds": 8}
                )
                recorder.start()
                asyncio.run(
                    streams.run(gateway.url + run.CHAT, concurrency=8, seconds=14, tokens=32)
                )
                recorder.join(60)
            summary = spy.summarise(target.with_suffix(".txt"))
            say(spy.render({args.profile: summary}))
    finally:
        gateway.stop()
        sim.stop()


if __name__ == "__main__":
    main()
