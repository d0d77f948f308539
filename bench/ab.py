"""Before and after, on one machine at one time: the gateway of two source trees, alternated.

    git archive main | tar -x -C /tmp/before      # the tree to compare with
    python bench/ab.py --before /tmp/before [--rounds 3] [--duration 3] [--env K=V ...]

The machine is shared, so two runs minutes apart do not compare. This one starts, pinned
as ``run.py`` pins them, a gateway from the ``--before`` tree's ``src`` (first on
``PYTHONPATH``) and one from this tree, the ceiling, the relay and the reader; each round
measures every one of them, in an order rotated each round: CPU per request at c=1 and
c=64 (wrk), CPU per 32-token stream (c=8), and the ratios issue 20 sets (CPU per request
to the ceiling's, per stream to the relay's), for the reader as for the gateways: what
any gateway on this stack pays at least. Medians over rounds; bounded like ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import loadgen
import run
import scrape

import servers
from llm_gateway.ports import free_port

TARGETS = ("ceiling", "relay", "reader", "before", "after")


def start(before: Path, settings: dict[str, str]) -> dict[str, servers.Server]:
    python = sys.executable
    started: dict[str, servers.Server] = {}
    try:
        sim = started["direct"] = run.start_simulator(free_port())
        env = {
            "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "true",
            "LLM_GATEWAY_UPSTREAM_URL": sim.url,
            "LLM_GATEWAY_LOG_LEVEL": "warning",
            "LLM_GATEWAY_MODELS": json.dumps(scrape.aliases(run.ALIASES)),
            # run.py's gateway target; --env LLM_GATEWAY_UPSTREAM_KIND=openai for the other.
            "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
            **settings,
        }
        for name, tree in (("before", before), ("after", run.ROOT)):
            port = free_port()
            started[name] = servers.start(
                name,
                [python, "-m", "llm_gateway", "serve", "--port", str(port),
                 "--upstream-url", sim.url, "--log-level", "warning"],
                port=port, ready_path="/readyz", log_dir=run.OUT, core=run.SERVER_CORE,
                env={**env, "PYTHONPATH": str(tree / "src")},
            )  # fmt: skip
        started["ceiling"] = run.start_reference("ceiling", free_port(), [])
        for name in ("relay", "reader"):
            started[name] = run.start_reference(name, free_port(), ["--upstream", sim.url])
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a source tree (has src/)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--env", action="append", default=[], help="K=V for both gateways")
    args = parser.parse_args()
    if not (args.before / "src" / "llm_gateway").is_dir():
        parser.error(f"{args.before} has no src/llm_gateway")
    run.OUT.mkdir(exist_ok=True)
    loadgen.ensure_wrk()
    body = run.OUT / "chat.json"
    body.write_text(json.dumps(run.CHAT_BODY))
    running = start(args.before, dict(pair.split("=", 1) for pair in args.env))
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {t: {} for t in (*TARGETS, "direct")}
    try:
        for name in TARGETS:  # warm-up
            run.measure_wrk(running[name], body, 64, 1)
        for round_ in range(args.rounds):
            turn = round_ % len(TARGETS)
            order = TARGETS[turn:] + TARGETS[:turn]
            for name in order:
                server = running[name]
                rows[name].setdefault("c=1", []).append(
                    run.measure_wrk(server, body, 1, args.duration)
                )
                rows[name].setdefault("c=64", []).append(
                    run.measure_wrk(server, body, 64, args.duration)
                )
                if name != "ceiling":
                    rows[name].setdefault("streams", []).append(
                        run.measure_streams(server, args.duration)
                    )
            direct = run.measure_wrk(running["direct"], body, 1, args.duration)
            rows["direct"].setdefault("c=1", []).append(direct)
            run.log(f"round {round_ + 1} of {args.rounds} done")
    finally:
        for server in running.values():
            server.stop()
    sys.stdout.write(render(rows) + "\n")


def render(rows: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    def med(name: str, what: str, key: str) -> float:
        runs = rows[name].get(what, [])
        return statistics.median(r[key] for r in runs) if runs else float("nan")

    lines = [
        "| target | CPU ms/req c=1 | c=64 | CPU ms/stream | added p50 ms c=1 | errors "
        "| noise (median) |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name in TARGETS:
        errors = sum(r["errors"] for runs in rows[name].values() for r in runs)
        noise = statistics.median(r["noise"] for runs in rows[name].values() for r in runs)
        lines.append(
            f"| {name} | {med(name, 'c=1', 'cpu_ms'):.3f} | {med(name, 'c=64', 'cpu_ms'):.3f} "
            f"| {med(name, 'streams', 'cpu_ms'):.3f} "
            f"| {med(name, 'c=1', 'p50_ms') - med('direct', 'c=1', 'p50_ms'):.2f} "
            f"| {errors} | {noise:.0%} |"
        )
    ceiling, relay = med("ceiling", "c=64", "cpu_ms"), med("relay", "streams", "cpu_ms")
    for name in ("reader", "before", "after"):
        lines.append(
            f"\n{name}: CPU per request at c=64 {med(name, 'c=64', 'cpu_ms') / ceiling:.1f}x "
            f"the ceiling; per stream {med(name, 'streams', 'cpu_ms') / relay:.1f}x the relay"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
