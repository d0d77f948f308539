#!/usr/bin/env python3
"""Render the gateway's alert and recording rules as plain Prometheus rule files.

    .venv/bin/python scripts/render_rules.py                 # rewrite rules/ with the defaults
    .venv/bin/python scripts/render_rules.py --check         # exit 1 when rules/ is stale
    .venv/bin/python scripts/render_rules.py --selector 'job="my-gateway"' --out my-rules/

The rule templates in charts/llm-monitor/rules/ are the one source of the rules
(the monitoring-mixin convention: one config, many outputs). The chart's
PrometheusRule renders them with Helm; this script renders the same templates
for a Prometheus outside the chart. Both fill the same values, named as in the
chart's values.yaml, where their defaults are read from:

    .selector                 job="<serviceMonitor.jobLabel>", or --selector
    .availabilityObjective    prometheusRule.availabilityObjective
    .latencyObjective         prometheusRule.latencyObjective
    .latencyThresholdSeconds  prometheusRule.latencyThresholdSeconds
    .runbookBaseUrl           prometheusRule.runbookBaseUrl

A template writes them as Go template actions, `{{ .name }}`, optionally with
Go's whitespace trimming (`{{- .name -}}`); that is all this script renders, and
a test holds its output equal to the chart's. The selector may only match on
`job` and `namespace`, the labels every recording rule keeps (the chart's schema
pattern, checked here too).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "llm-monitor"
TEMPLATES_DIR = CHART / "rules"
RULES_DIR = ROOT / "rules"
ACTION = re.compile(r"(\s*)\{\{(-?) \.(\w+) (-?)\}\}(\s*)")


def _chart_values() -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(values, dict)
    return values


def selector_pattern() -> re.Pattern[str]:
    """The chart schema's pattern for prometheusRule.selector."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    pattern = schema["properties"]["prometheusRule"]["properties"]["selector"]["pattern"]
    return re.compile(pattern)


@dataclass(frozen=True)
class RuleValues:
    """What the templates are rendered with; field names are the templates' in snake case."""

    selector: str
    availability_objective: str
    latency_objective: str
    latency_threshold_seconds: str
    runbook_base_url: str

    @classmethod
    def from_chart(cls) -> RuleValues:
        """The chart's defaults: what `helm template` renders without any values set."""
        values = _chart_values()
        rule = values["prometheusRule"]
        return cls(
            selector=f"job={json.dumps(values['serviceMonitor']['jobLabel'])}",
            availability_objective=str(rule["availabilityObjective"]),
            latency_objective=str(rule["latencyObjective"]),
            latency_threshold_seconds=str(rule["latencyThresholdSeconds"]),
            runbook_base_url=str(rule["runbookBaseUrl"]),
        )

    def by_template_name(self) -> dict[str, str]:
        return {
            re.sub(r"_(\w)", lambda m: m.group(1).upper(), f.name): getattr(self, f.name)
            for f in fields(self)
        }


def render_template(text: str, values: RuleValues) -> str:
    """The template with every `{{ .name }}` action filled in, Go's trimming applied."""
    known = values.by_template_name()

    def fill(match: re.Match[str]) -> str:
        before, trim_left, name, trim_right, after = match.groups()
        if name not in known:
            raise KeyError(f"unknown template value .{name}; known: {sorted(known)}")
        return ("" if trim_left else before) + known[name] + ("" if trim_right else after)

    return ACTION.sub(fill, text)


def render(values: RuleValues) -> dict[str, str]:
    """Rule file name -> its text, for every template."""
    if not values.selector.strip() or not selector_pattern().fullmatch(values.selector):
        raise ValueError(
            f"selector {values.selector!r}: comma-separated matchers on job and namespace only"
        )
    return {
        path.name: _header(path.name, values.selector) + render_template(path.read_text(), values)
        for path in sorted(TEMPLATES_DIR.glob("*.yaml"))
    }


def _header(name: str, selector: str) -> str:
    return (
        f"# Rendered by scripts/render_rules.py from charts/llm-monitor/rules/{name} with\n"
        f"# selector {selector}. Do not edit: change the template, then rerun the\n"
        "# script (its options render the rules for another Prometheus).\n#\n"
    )


def stale(rendered: dict[str, str], out: Path, pattern: str = "*.yaml") -> list[str]:
    """Files of `out` that differ from `rendered` (file name -> text), are missing or extra."""
    present = {p.name for p in out.glob(pattern)}
    changed = [n for n, t in rendered.items() if n not in present or (out / n).read_text() != t]
    return sorted(set(changed) | (present - set(rendered)))


def main(argv: list[str] | None = None) -> int:
    defaults = RuleValues.from_chart()
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--selector", default=defaults.selector, help="e.g. 'job=\"my-gateway\"'")
    parser.add_argument("--availability-objective", default=defaults.availability_objective)
    parser.add_argument("--latency-objective", default=defaults.latency_objective)
    parser.add_argument(
        "--latency-threshold-seconds",
        default=defaults.latency_threshold_seconds,
        help="a bucket boundary of llm_gateway_request_duration_seconds (see the chart's schema)",
    )
    parser.add_argument("--runbook-base-url", default=defaults.runbook_base_url)
    parser.add_argument("--out", type=Path, default=RULES_DIR, help="directory (default: rules/)")
    parser.add_argument("--check", action="store_true", help="fail when --out is stale")
    args = parser.parse_args(argv)
    values = replace(defaults, **{f.name: getattr(args, f.name) for f in fields(RuleValues)})
    try:
        rendered = render(values)
    except ValueError as exc:
        parser.error(str(exc))
    if args.check:
        stale_files = stale(rendered, args.out)
        if stale_files:
            print(  # noqa: T201
                f"stale: {', '.join(stale_files)}; run `.venv/bin/python scripts/render_rules.py`",
                file=sys.stderr,
            )
        return 1 if stale_files else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (args.out / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
