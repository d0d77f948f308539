#!/usr/bin/env python3
"""Write the metrics reference (docs/metrics.md) from the metric definitions themselves.

``scripts/metrics_reference.py`` rewrites it; ``--check`` fails when it is stale (a test
runs that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llm_gateway.core.types import Endpoint, Outcome
from llm_gateway.errors import AuthFailure, ErrorReason, RateLimit, ShedReason
from llm_gateway.metrics.definitions import LLM_METRICS
from llm_gateway.metrics.families.http import HTTP_METRICS
from llm_gateway.metrics.spec import TARGET_LABELS, MetricSpec

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"

LABEL_VALUES = {
    "model": "the routing table's model names (`/v1/models` shows them as `id`, the id "
    "sent upstream as `root`); with the `LLM_GATEWAY_*` shorthand, the configured model ids. "
    "A model is bound to exactly one upstream, so `model` determines the upstream: the "
    "per-model metrics carry no `upstream` label",
    "api": "the door a request came in by: " + ", ".join(f"`{e.value}`" for e in Endpoint),
    "stream": "`true`, `false`",
    "outcome": ", ".join(f"`{o.value}`" for o in Outcome),
    "reason": "upstream errors and retries: "
    + ", ".join(f"`{r.value}`" for r in ErrorReason)
    + "; shed requests: "
    + ", ".join(f"`{r.value}`" for r in ShedReason)
    + "; auth failures: "
    + ", ".join(f"`{r.value}`" for r in AuthFailure),
    "limit": ", ".join(f"`{r.value}`" for r in RateLimit),
    "client": "the configured API key aliases (never a key)",
    "status_code": "an HTTP status code; for upstream errors, empty when no response arrived",
    "type": "`prompt`, `completion`",
    "handler": "a route template such as `/generate`; `__unknown__` for any unknown path",
    "path": "the same route template as `handler` (starlette-exporter's own label)",
    "method": "the HTTP method",
    "app_name": "`llm-gateway`",
    "version": "the gateway's version",
    "default_model": "the name of the default chat model (the table's first)",
    "upstream_kind": "`simulator`, `endpoint`, `providers`; with several upstreams, those "
    "of all of them, sorted and joined by commas (`endpoint,providers`)",
    "upstream": "the routing table's upstream names (each entry's `name` under "
    "`upstreams`); `default` with the `LLM_GATEWAY_*` shorthand",
    "upstream_url": "an upstream pool endpoint: one of the configured base URLs "
    "(`LLM_GATEWAY_UPSTREAM_URL` or the routing table's `urls`), without user or password; "
    "two upstreams may list the same URL, each with its own pool and series",
}


def render() -> str:
    lines = [
        "# Metrics reference",
        "",
        "Generated from `src/llm_gateway/metrics/definitions.py` by "
        "`scripts/metrics_reference.py`; do not edit by hand.",
        "",
        "Names, labels and units are a public interface: they change only with a major "
        "version. Every label takes its values from a small fixed set, and none is named "
        "like a label the scrape sets on the target ("
        + ", ".join(f"`{label}`" for label in sorted(TARGET_LABELS))
        + "): under a Prometheus Operator ServiceMonitor, such a label would be renamed "
        "`exported_<name>`.",
        "",
        "## LLM metrics",
        "",
        "Recorded by the gateway core for both `/generate` and `/v1/chat/completions`, "
        "streamed or not, through one code path.",
        "",
    ]
    for spec in LLM_METRICS.values():
        lines += _section(spec)
    lines += [
        "## HTTP metrics",
        "",
        "From starlette-exporter. `/healthz`, `/readyz` and `/metrics` are not counted.",
        "",
    ]
    for spec in HTTP_METRICS:
        lines += _section(spec)
    lines += ["## Label values", "", "| label | values |", "|---|---|"]
    lines += [f"| `{label}` | {values} |" for label, values in LABEL_VALUES.items()]
    return "\n".join(lines) + "\n"


def _section(spec: MetricSpec) -> list[str]:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "none"
    lines = [
        f"### `{spec.name}`",
        "",
        spec.documentation,
        "",
        f"- type: {spec.type}",
        f"- unit: {spec.unit}",
        f"- labels: {labels}",
    ]
    if spec.buckets is not None:
        lines.append("- buckets: " + ", ".join(f"{b:g}" for b in spec.buckets))
    lines += ["", "```promql", spec.example, "```", ""]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/metrics.md is stale")
    if parser.parse_args().check:
        if REFERENCE.read_text() != render():
            sys.stderr.write(f"{REFERENCE} is stale: run scripts/metrics_reference.py\n")
            return 1
        return 0
    REFERENCE.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
