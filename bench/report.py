"""Turn the measurements (results.json) into the Markdown tables of RESULTS.md."""

from __future__ import annotations

import statistics
from typing import Any

import spy

LABELS = {
    "ceiling": "ceiling (bare FastAPI)",
    "ceiling_exporter": "ceiling + HTTP metrics",
    "relay": "aiohttp relay (bytes passed through)",
    "direct": "direct to simulator",
    "gateway": "gateway (all metrics)",
    "gateway_metrics_off": "gateway, metrics off",
    "gateway_traced": "gateway, traced (100 % sampled, OTLP/HTTP)",
    "gateway_openai": "gateway, openai kind (all metrics)",
}
# Limits from issue 14 (p99 at c=64 from issue 7).
CPU_RATIO_LIMIT = 6.0
ADDED_P50_C1_MS = 1.5
ADDED_P99_C64_MS = 100.0
STREAM_CPU_RELAY_RATIO = 2.0
# Issue 22: what OpenTelemetry traces may cost, every request sampled and exported.
TRACING_CPU_MS = 0.1
STREAM_TTFB_ADDED_MS = 10.0
METRICS_CPU_MS = 0.15
SCRAPE_MS = 20.0
SCRAPE_SERIES = 10_000
RSS_FLAT_BYTES = 5 * 2**20


def median(runs: list[dict[str, Any]], key: str) -> float:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Medians over rounds, added latency against direct, ratios to the ceiling."""
    out: dict[str, Any] = {"wrk": {}, "streams": {}}
    for target, by_c in results["wrk"].items():
        for c, runs in by_c.items():
            out["wrk"].setdefault(target, {})[c] = {
                key: median(runs, key)
                for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "cpu_ms", "errors", "noise")
            }
    for target, runs in results["streams"].items():
        out["streams"][target] = {
            key: median(runs, key)
            for key in (
                "streams_per_second",
                "ttfb_p50_ms",
                "ttfb_p90_ms",
                "tokens_per_second",
                "tokens_per_stream",
                "cpu_ms",
                "errors",
                "noise",
            )
        }
    return out


def _f(value: float, digits: int = 2) -> str:
    return "–" if value != value else f"{value:,.{digits}f}"


def wrk_table(s: dict[str, Any]) -> str:
    rows = [
        "| target | conc. | req/s | p50 ms | p90 ms | p99 ms | added p50 / p90 / p99 ms "
        "| CPU ms/req | CPU × ceiling | errors | noise |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    wrk, direct, ceiling = s["wrk"], s["wrk"].get("direct", {}), s["wrk"].get("ceiling", {})
    for target in LABELS:
        for c, m in wrk.get(target, {}).items():
            added = "–"
            if target.startswith("gateway") and c in direct:
                d = direct[c]
                added = " / ".join(_f(m[k] - d[k]) for k in ("p50_ms", "p90_ms", "p99_ms"))
            ratio = m["cpu_ms"] / ceiling[c]["cpu_ms"] if c in ceiling else float("nan")
            cpu = "(simulator, shared core) " + _f(m["cpu_ms"], 3) if target == "direct" else None
            rows.append(
                f"| {LABELS[target]} | {c} | {_f(m['rps'], 0)} | {_f(m['p50_ms'])} "
                f"| {_f(m['p90_ms'])} | {_f(m['p99_ms'])} | {added} "
                f"| {cpu or _f(m['cpu_ms'], 3)} | {'–' if target == 'direct' else _f(ratio, 1)} "
                f"| {m['errors']:.0f} | {_noise(target, m)} |"
            )
    return "\n".join(rows)


def _noise(target: str, m: dict[str, Any]) -> str:
    return "–" if target == "direct" else f"{m['noise']:.0%}"


def stream_table(s: dict[str, Any], tokens: int, concurrency: int) -> str:
    rows = [
        f"| target ({tokens}-token streams, concurrency {concurrency}) | streams/s "
        "| TTFB p50 ms | TTFB p90 ms | TTFB added p50 ms | tokens/s relayed | tokens/stream "
        "| CPU ms/stream | errors | noise |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    direct = s["streams"].get("direct")
    for target, m in s["streams"].items():
        added = "–"
        if direct and target != "direct":
            added = _f(m["ttfb_p50_ms"] - direct["ttfb_p50_ms"])
        cpu = "(simulator) " + _f(m["cpu_ms"], 3) if target == "direct" else _f(m["cpu_ms"], 3)
        rows.append(
            f"| {LABELS[target]} | {_f(m['streams_per_second'], 0)} | {_f(m['ttfb_p50_ms'])} "
            f"| {_f(m['ttfb_p90_ms'])} | {added} | {_f(m['tokens_per_second'], 0)} "
            f"| {_f(m['tokens_per_stream'], 1)} | {cpu} | {m['errors']:.0f} | {_noise(target, m)} |"
        )
    return "\n".join(rows)


def scrape_table(results: dict[str, Any]) -> str:
    rows = [
        "| format | series | bytes | p50 ms | max ms | gateway CPU ms/scrape |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, m in results.get("scrape", {}).items():
        if not isinstance(m, dict):
            continue
        rows.append(
            f"| {name} | {m['series']:,} | {m['bytes']:,} | {_f(m['p50_ms'])} "
            f"| {_f(m['max_ms'])} | {_f(m['cpu_ms'])} |"
        )
    return "\n".join(rows)


def rss_table(results: dict[str, Any]) -> str:
    rows = ["| gateway RSS at | MiB |", "|---|--:|"]
    rows += [f"| {when} | {rss / 2**20:.1f} |" for when, rss in results["rss"]]
    return "\n".join(rows)


def _cpu_added(
    more: dict[str, Any], less: dict[str, Any], what: str, limit: float, how: str
) -> tuple[str, str, bool | None] | None:
    """The target row for the CPU one gateway adds over another, judged at c=64."""
    if "64" not in more or "64" not in less:
        return None
    cost = more["64"]["cpu_ms"] - less["64"]["cpu_ms"]
    per_c = ", ".join(
        f"c={c}: {more[c]['cpu_ms'] - less[c]['cpu_ms']:.3f}" for c in more if c in less
    )
    return (
        f"{what} add ≤ {limit} ms CPU per request",
        f"{cost:.3f} ms at c=64 ({per_c}; {how})",
        cost <= limit,
    )


def targets(s: dict[str, Any], results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target of issue 14."""
    wrk, streams = s["wrk"], s["streams"]
    out: list[tuple[str, str, bool | None]] = []
    gw, ceil, direct = wrk.get("gateway", {}), wrk.get("ceiling", {}), wrk.get("direct", {})
    if "64" in gw and "64" in ceil:
        ratio = gw["64"]["cpu_ms"] / ceil["64"]["cpu_ms"]
        out.append(
            (
                f"CPU per request at c=64 ≤ {CPU_RATIO_LIMIT:g}× the ceiling",
                f"{gw['64']['cpu_ms']:.3f} / {ceil['64']['cpu_ms']:.3f} ms = {ratio:.1f}×",
                ratio <= CPU_RATIO_LIMIT,
            )
        )
    if "1" in gw and "1" in direct:
        added = gw["1"]["p50_ms"] - direct["1"]["p50_ms"]
        limit = ADDED_P50_C1_MS
        out.append((f"added p50 at c=1 ≤ {limit} ms", f"{added:.2f} ms", added <= limit))
    if "64" in gw and "64" in direct:
        added = gw["64"]["p99_ms"] - direct["64"]["p99_ms"]
        out.append(
            (
                f"added p99 at c=64 ≤ {ADDED_P99_C64_MS:g} ms",
                f"{added:.1f} ms",
                added <= ADDED_P99_C64_MS,
            )
        )
    if "gateway" in streams:
        cpu = streams["gateway"]["cpu_ms"]
        if "relay" in streams:
            ratio = cpu / streams["relay"]["cpu_ms"]
            out.append(
                (
                    f"CPU per stream ≤ {STREAM_CPU_RELAY_RATIO:g}× the aiohttp relay's",
                    f"{cpu:.2f} / {streams['relay']['cpu_ms']:.2f} ms = {ratio:.1f}×",
                    ratio <= STREAM_CPU_RELAY_RATIO,
                )
            )
        if "direct" in streams:
            added = streams["gateway"]["ttfb_p50_ms"] - streams["direct"]["ttfb_p50_ms"]
            out.append(
                (
                    f"first byte added ≤ {STREAM_TTFB_ADDED_MS:g} ms p50 at c=8",
                    f"{added:.2f} ms",
                    added <= STREAM_TTFB_ADDED_MS,
                )
            )
    for more, less, what, limit, how in (
        (
            "gateway",
            "gateway_metrics_off",
            "all metrics",
            METRICS_CPU_MS,
            "gateway minus metrics off",
        ),
        (
            "gateway_traced",
            "gateway",
            "traces at 100 % sampling",
            TRACING_CPU_MS,
            "traced minus gateway",
        ),
    ):
        row = _cpu_added(wrk.get(more, {}), wrk.get(less, {}), what, limit, how)
        if row is not None:
            out.append(row)
    text = results.get("scrape", {}).get("text")
    if text:
        enough = text["series"] >= SCRAPE_SERIES
        out.append(
            (
                f"/metrics scrape < {SCRAPE_MS:g} ms with {SCRAPE_SERIES:,} series",
                f"{text['p50_ms']:.1f} ms p50 at {text['series']:,} series",
                (text["p50_ms"] < SCRAPE_MS) if enough else None,
            )
        )
    rounds = [rss for when, rss in results["rss"] if when.startswith("after round")]
    if len(rounds) >= 2:
        growth = rounds[-1] - rounds[0]
        out.append(
            (
                "RSS flat across repeated runs",
                f"{growth / 2**20:+.1f} MiB from the first round's end to the last's",
                abs(growth) <= RSS_FLAT_BYTES,
            )
        )
    return out


def render(results: dict[str, Any]) -> str:
    s = summary(results)
    meta = results["meta"]
    verdict = {True: "met", False: "**not met**", None: "not measured"}
    lines = [
        f"Run of {meta['date']}, {meta['seconds']:.0f} s in all; gateway at "
        f"`{meta['commit']}`. Medians of {meta['rounds']} interleaved rounds of "
        f"{meta['duration']:g} s each. *noise*: CPU time other processes took on the "
        "server core during a run, as a share of its wall time (the machine is shared; "
        f"load average at the end: {' '.join(meta.get('loadavg_end', []))}).",
        "",
        f"- machine: {meta['nproc']} cores, {meta['cpu']}, Linux {meta['kernel']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- command: `{meta['command']}`",
        "",
        "### Targets (issue 14)",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {verdict[ok]} |" for t, m, ok in targets(s, results)]
    lines += ["", "### Non-streamed (`POST /v1/chat/completions`, 32 tokens, wrk)", ""]
    lines += [wrk_table(s), ""]
    lines += ["### Streams", "", stream_table(s, meta["stream_tokens"], meta["stream_c"]), ""]
    lines += ["### /metrics scrape", "", scrape_table(results), ""]
    lines += ["### Memory", "", rss_table(results), ""]
    if results.get("profiles"):
        lines += ["### Profiles (py-spy, gateway process)", "", spy.render(results["profiles"])]
    return "\n".join(lines)
