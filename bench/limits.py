"""What the global rate limiter costs per request: the gateway with per-key limits held in
its own memory, or in Redis, against the same gateway with API keys and no limits.

    python bench/limits.py [--rounds 3] [--duration 4]

The same pinning and CPU accounting as ``run.py`` (the gateway alone on core 0; the
simulator, redis-server and wrk on core 1). Every request carries an API key; the limits
are far above what the run sends, so nothing is refused and every admission runs the
limiter. With a tokens budget, a request costs Redis two round trips (take at admission,
give when it settles); with a requests budget only, one. Needs ``redis-server`` on PATH
(scripts/install-redis.sh).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import run
import scrape

import servers
from llm_gateway.ports import free_port

KEY = "sk-bench-0123456789"
UNLIMITED = str(10**9)  # per minute: a budget the run never spends
VARIANTS: dict[str, dict[str, str]] = {
    "keys, no limits": {},
    "local buckets (requests + tokens)": {
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": UNLIMITED,
        "LLM_GATEWAY_RATE_LIMIT_TOKENS_PER_MINUTE": UNLIMITED,
    },
    "redis (requests: 1 round trip)": {
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": UNLIMITED,
        "LLM_GATEWAY_REDIS_URL": "",
    },
    "redis (requests + tokens: 2 round trips)": {
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": UNLIMITED,
        "LLM_GATEWAY_RATE_LIMIT_TOKENS_PER_MINUTE": UNLIMITED,
        "LLM_GATEWAY_REDIS_URL": "",
    },
}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: run scripts/install-redis.sh")
    process = subprocess.Popen(
        ["taskset", "-c", str(run.LOAD_CORE), binary, "--bind", "127.0.0.1",
         "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(run.OUT)],
        stdout=(run.OUT / "redis.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + servers.READY_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(7) == b"+PONG\r\n":
                    return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start; see bench/out/redis.log")


def store_round_trips(gateway: servers.Server) -> tuple[float, float]:
    """(count, total seconds) of the gateway's Redis round trips so far, from /metrics."""
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    total = {"count": 0.0, "sum": 0.0}
    for kind in total:
        for value in re.findall(
            rf"^llm_gateway_rate_limit_store_duration_seconds_{kind}\{{[^}}]*\}} (\S+)$",
            text,
            flags=re.MULTILINE,
        ):
            total[kind] += float(value)
    return total["count"], total["sum"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4)
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    body = run.OUT / "chat.json"
    body.write_text(json.dumps(run.CHAT_BODY))
    python = sys.executable
    sim_port, redis_port = free_port(), free_port()
    sim = run.start_simulator(sim_port)
    redis = start_redis(redis_port)
    redis_cpu = servers.Server("redis", f"redis://127.0.0.1:{redis_port}/0", redis)
    rows: dict[str, dict[str, list[dict]]] = {name: {"c=1": [], "c=64": []} for name in VARIANTS}
    try:
        for _ in range(args.rounds):
            for name, variant in VARIANTS.items():
                env = {
                    "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "true",
                    "LLM_GATEWAY_LOG_LEVEL": "warning",
                    "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(run.ALIASES)),
                    "LLM_GATEWAY_API_KEYS": json.dumps({"bench": KEY}),
                    **{k: v or redis_cpu.url for k, v in variant.items()},
                }
                gw_port = free_port()
                gateway = servers.start(
                    "gateway",
                    [python, "-m", "llm_gateway", "serve", "--port", str(gw_port),
                     "--upstream-url", sim.url, "--log-level", "warning"],
                    port=gw_port, ready_path="/readyz", env=env, log_dir=run.OUT,
                    core=run.SERVER_CORE,
                )  # fmt: skip
                try:
                    run.measure_wrk(gateway, body, 8, 2, api_key=KEY)  # warm-up
                    for c in (1, 64):
                        trips, seconds = store_round_trips(gateway)
                        redis_before = redis_cpu.cpu_seconds()
                        result = run.measure_wrk(gateway, body, c, args.duration, api_key=KEY)
                        trips_after, seconds_after = store_round_trips(gateway)
                        done = max(result["requests"], 1)
                        result["redis_cpu_ms"] = (
                            (redis_cpu.cpu_seconds() - redis_before) * 1000 / done
                        )
                        result["trips_per_request"] = (trips_after - trips) / done
                        result["trip_ms"] = (
                            (seconds_after - seconds) * 1000 / max(trips_after - trips, 1)
                        )
                        rows[name][f"c={c}"].append(result)
                finally:
                    gateway.stop()
        say("| gateway | c | CPU ms/req | p50 ms | p99 ms | req/s | Redis trips/req | "
            "trip ms (mean) | Redis CPU ms/req | errors |")  # fmt: skip
        say("|---|---|---|---|---|---|---|---|---|---|")
        for name, by_c in rows.items():
            for c, results in by_c.items():

                def median(key: str, results: list[dict] = results) -> float:
                    return statistics.median(r[key] for r in results)

                errors = sum(r["errors"] for r in results)
                say(f"| {name} | {c.removeprefix('c=')} | {median('cpu_ms'):.3f} | "
                    f"{median('p50_ms'):.2f} | {median('p99_ms'):.2f} | {median('rps'):.0f} | "
                    f"{median('trips_per_request'):.2f} | {median('trip_ms'):.3f} | "
                    f"{median('redis_cpu_ms'):.3f} | {errors} |")  # fmt: skip
    finally:
        sim.stop()
        redis_cpu.stop()


if __name__ == "__main__":
    main()
