"""What a token of a stream costs in instructions, and what a stream costs besides.

    python bench/per_token.py [--before /tmp/before] [--streams 20] [--env K=V ...]

bench/sweep.py's streams send a token every 50 ms, so each arrives alone: every token is a
read from the upstream, a trip through the gateway's stream and a write to the client,
and CPU per token there is what that trip costs. bench/instructions.py's streams come
from the zero-latency simulator, many tokens to a read. This counts, under callgrind as
instructions.py does, ``--streams`` streams of 8 and then of 64 tokens from paced.py,
a token every 4 ms (callgrind slows the gateway some fifty times; each token still
arrives alone), through the gateway (the openai kind), bench/run.py's relay, and the
relay reading each frame as any gateway must (relay.py's ``--reads``: the floor of a
gateway's token on this stack). The difference of the two, over 56 tokens, is the
instructions of one token; what is left of a stream of 8 is the stream's own (request,
routing, opening, closing). About five minutes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import instructions
import run

import servers
from llm_gateway.ports import free_port

LENGTHS = (8, 64)
TOKEN_SECONDS = 0.004
# bench/run.py's relay, and the relay reading each frame as any gateway must.
REFERENCES = ("relay", "reader")


def paced(tokens: int) -> servers.Server:
    port = free_port()
    return servers.start(
        f"paced-{tokens}",
        [sys.executable, str(run.HERE / "paced.py"), "--port", str(port), "--tokens",
         str(tokens), "--token-seconds", str(TOKEN_SECONDS), "--jitter", "0"],
        port=port, ready_path="/health", log_dir=run.OUT, core=run.LOAD_CORE,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another source tree (has src/)")
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--env", action="append", default=[], help="K=V for the gateways")
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    # paced.py is no simulator: no fault headers, and its stream answers every POST.
    settings = {
        "LLM_GATEWAY_UPSTREAM_KIND": "openai",
        "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR": "false",
        **dict(pair.split("=", 1) for pair in args.env),
    }
    trees = {"before": args.before, "after": run.ROOT} if args.before else {"gateway": run.ROOT}
    counted: dict[str, dict[int, float]] = {name: {} for name in [*trees, *REFERENCES]}
    for tokens in LENGTHS:
        upstream = paced(tokens)
        try:
            for name in counted:
                if name in REFERENCES:
                    argv, env = instructions.reference(name, upstream.url)
                else:
                    argv, env = instructions.gateway(trees[name], upstream.url, settings)
                streams = instructions.count(f"{name}-{tokens}", argv, env, 0, args.streams)
                counted[name][tokens] = streams["streams"]
                run.log(f"{name}, {tokens} tokens: {counted[name][tokens] / 1e6:.3f} M a stream")
        finally:
            upstream.stop()
    sys.stdout.write(render(counted) + "\n")


def render(counted: dict[str, dict[int, float]]) -> str:
    short, long = LENGTHS
    lines = [
        "| server | k instructions per token | M per stream besides | M per 64-token stream |",
        "|---|--:|--:|--:|",
    ]
    per_token = {}
    for name, each in counted.items():
        per_token[name] = (each[long] - each[short]) / (long - short)
        besides = each[short] - short * per_token[name]
        whole = each[long] / 1e6
        lines.append(
            f"| {name} | {per_token[name] / 1e3:.1f} | {besides / 1e6:.3f} | {whole:.3f} |"
        )
    relay = counted["relay"][long]
    ratios = [
        f"| {name} / relay | {per_token[name] / per_token['relay']:.2f} | | "
        f"{counted[name][long] / relay:.2f} |"
        for name in counted
        if name != "relay"
    ]
    return "\n".join([*lines, *ratios])


if __name__ == "__main__":
    main()
