"""What a request costs in instructions, which other load on the machine does not move.

    python bench/instructions.py [--before /tmp/before] [--references] [--requests 100]
                                 [--streams 50] [--env K=V ...]

CPU time per request is honest about the gateway's own work, but on a machine others
share it still moves with theirs (caches, memory bandwidth): the same code measured
minutes apart differed by 20 % and more. This runs the gateway under valgrind's
callgrind (apt-get install valgrind), counting its user-space instructions only while
it serves a fixed load: ``--requests`` non-streamed requests, one after another on one
keep-alive connection, then ``--streams`` 32-token streams. Counts repeat within about
0.5 %. What it does not see: time in the kernel (system calls, the socket writes among
them), waiting, and the effects of caches; so it prices the Python the gateway runs,
and bench/run.py the whole. With ``--before``, a gateway of that tree is counted too,
first (its ``src`` first on ``PYTHONPATH``); with ``--references``, the ceiling and the
relay of bench/run.py too, and the ratios issue 20 sets, in instructions, and the relay
reading what it relays as any gateway must (relay.py's ``--reads``). About a minute
per server; the simulator runs natively.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import run
import scrape
import streams

import servers
from llm_gateway.ports import free_port

# Under callgrind the gateway runs some 50 times slower.
READY_SECONDS = 300.0
TIMEOUT_SECONDS = 60.0


def gateway(
    tree: Path, simulator: str, settings: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a gateway from ``tree`` in front of ``simulator``."""
    env = {
        "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "true",
        "LLM_GATEWAY_UPSTREAM_URL": simulator,
        "LLM_GATEWAY_LOG_LEVEL": "warning",
        "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(run.ALIASES)),
        # run.py's gateway target; --env LLM_GATEWAY_UPSTREAM_KIND=openai for the other kind.
        "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
        # The checks would be counted with the requests.
        "LLM_GATEWAY_UPSTREAM_HEALTH_INTERVAL_SECONDS": "0",
        "PYTHONPATH": str(tree / "src"),
        **settings,
    }
    argv = [sys.executable, "-m", "llm_gateway", "serve", "--upstream-url", simulator,
            "--log-level", "warning"]  # fmt: skip
    return argv, env


# The references counted (bench/run.py's REFERENCES): the reader is the relay reading what
# it relays as any gateway must (relay.py's --reads).
REFERENCES = ("ceiling", "relay", "reader")


def reference(name: str, simulator: str) -> tuple[list[str], dict[str, str]]:
    """The command of a reference server, in front of ``simulator`` (but the ceiling)."""
    extra = [] if name == "ceiling" else ["--upstream", simulator]
    return [*run.reference_argv(name), *extra], {}


def count(
    name: str, argv: list[str], env: dict[str, str], requests: int, streamed: int
) -> dict[str, float]:
    """Instructions per request and per stream (none for the ceiling) of a server run by
    ``argv`` (which takes ``--port``); no request is sent with ``requests`` 0."""
    port = free_port()
    out = run.OUT / f"callgrind-{name}"
    servers.READY_SECONDS = READY_SECONDS
    server = servers.start(
        f"callgrind-{name}",
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
         *argv, "--port", str(port)],
        port=port, ready_path="/readyz" if env else "/healthz", env=env, log_dir=run.OUT,
        core=run.SERVER_CORE,
    )  # fmt: skip

    def control(*args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(server.pid)],
            check=True, capture_output=True, timeout=TIMEOUT_SECONDS,
        )  # fmt: skip

    phases = [("requests", lambda: post(port, requests))] if requests else []
    if name != "ceiling":  # it answers no stream
        phases.append(("streams", lambda: asyncio.run(stream(server.url, streamed))))
    try:
        if requests:  # warm-up: imports, caches, the first connections
            post(port, 20)
        if name != "ceiling":
            asyncio.run(stream(server.url, 10))
        for phase, load in phases:
            control("--zero")
            control("--instr=on")
            load()
            control("--instr=off")
            control(f"--dump={phase}")
    finally:
        server.stop()
    totals: dict[str, float] = {"streams": float("nan")}
    for dump in out.parent.glob(f"{out.name}.{server.pid}.*"):
        lines = dump.read_text(errors="replace").splitlines()
        phase = next(line for line in lines if line.startswith("desc: Trigger")).split()[-1]
        total = int(next(line for line in lines if line.startswith("totals:")).split()[1])
        totals[phase] = total / (requests if phase == "requests" else streamed)
    return totals


def post(port: int, times: int) -> None:
    """``times`` non-streamed requests, one after another on one connection."""
    body = json.dumps(run.CHAT_BODY).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        for _ in range(times):
            connection.request("POST", run.CHAT, body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"the gateway answered {answer.status}")
    finally:
        connection.close()


async def stream(url: str, times: int) -> None:
    payload = streams.body(run.STREAM_TOKENS)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(times):
            await streams.one(session, url + run.CHAT, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another source tree (has src/)")
    parser.add_argument("--references", action="store_true", help="the references too")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--env", action="append", default=[], help="K=V for the gateways")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    run.OUT.mkdir(exist_ok=True)
    settings = dict(pair.split("=", 1) for pair in args.env)
    trees = {"before": args.before, "after": run.ROOT} if args.before else {"gateway": run.ROOT}
    simulator = run.start_simulator(free_port())
    counted = {}
    try:
        targets = {name: gateway(tree, simulator.url, settings) for name, tree in trees.items()}
        if args.references:
            for name in REFERENCES:
                targets[name] = reference(name, simulator.url)
        for name, (argv, env) in targets.items():
            counted[name] = count(name, argv, env, args.requests, args.streams)
            run.log(f"{name}: {counted[name]}")
    finally:
        simulator.stop()
    sys.stdout.write(render(counted) + "\n")


def render(counted: dict[str, dict[str, float]]) -> str:
    lines = ["| server | M instructions per request | per 32-token stream |", "|---|--:|--:|"]
    for name, each in counted.items():
        lines.append(f"| {name} | {each['requests'] / 1e6:.3f} | {each['streams'] / 1e6:.3f} |")
    if "before" in counted:
        before, after = counted["before"], counted["after"]
        lines.append(
            f"| after / before | {after['requests'] / before['requests']:.3f} "
            f"| {after['streams'] / before['streams']:.3f} |"
        )
    if "ceiling" in counted:
        ceiling, relay = counted["ceiling"]["requests"], counted["relay"]["streams"]
        for name in compared(counted):
            each = counted[name]
            lines.append(
                f"| {name}: × the ceiling per request, × the relay per stream "
                f"| {each['requests'] / ceiling:.1f} | {each['streams'] / relay:.1f} |"
            )
    return "\n".join(lines)


def compared(counted: dict[str, dict[str, float]]) -> list[str]:
    """What is set against the ceiling and the relay: the gateways, and the reader."""
    return [name for name in counted if name not in ("ceiling", "relay")]


if __name__ == "__main__":
    main()
