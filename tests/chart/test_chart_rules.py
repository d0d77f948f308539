"""The chart's PrometheusRule: the rule templates rendered from the chart's values.

Helm renders charts/llm-monitor/rules/*.yaml in templates/prometheusrule.yaml;
scripts/render_rules.py renders the same templates into the plain files of rules/.
Here the two are held equal, for the defaults and for another job name, and the
chart's own output, rendered for another job, goes through promtool: it checks the
rules and runs every unit test on that job's series.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.utils import floatToGoString
from scripts import render_rules
from scripts.render_rules import RuleValues

from llm_gateway.metrics.spec import OPERATION_DURATION_BUCKETS
from tests.chart.conftest import CHART, NAMESPACE, Rendered
from tests.rules.promtool import retarget, run_unit_test

DEFAULTS = RuleValues.from_chart()
OTHER_JOB = "ai-gateway-prod"
UNIT_TESTS = sorted((Path(__file__).resolve().parents[1] / "rules").glob("*_test.yaml"))


def groups(rendered: Rendered) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = rendered.one("PrometheusRule")["spec"]["groups"]
    return groups


def rendered_by_the_script(values: RuleValues) -> list[dict[str, Any]]:
    return [
        g for text in render_rules.render(values).values() for g in yaml.safe_load(text)["groups"]
    ]


def test_prometheusrule_holds_the_rules_of_rules_dir_with_the_default_values(render) -> None:
    expected = [
        g for p in sorted(Path(CHART.parents[1], "rules").glob("*.yaml"))
        for g in yaml.safe_load(p.read_text())["groups"]
    ]  # fmt: skip
    assert expected and groups(render()) == expected


@pytest.mark.parametrize(
    ("sets", "values"),
    [
        (
            (f"serviceMonitor.jobLabel={OTHER_JOB}",),
            replace(DEFAULTS, selector=f'job="{OTHER_JOB}"'),
        ),
        (
            (f"serviceMonitor.jobLabel={OTHER_JOB}", "prometheusRule.scopeToNamespace=true"),
            replace(DEFAULTS, selector=f'job="{OTHER_JOB}", namespace="{NAMESPACE}"'),
        ),
        (
            ('prometheusRule.selector=job=~"llm-gateway|llm-canary"',),
            replace(DEFAULTS, selector='job=~"llm-gateway|llm-canary"'),
        ),
        (
            (
                "prometheusRule.availabilityObjective=0.999",
                "prometheusRule.latencyObjective=0.95",
                "prometheusRule.latencyThresholdSeconds=5.12",
                "prometheusRule.runbookBaseUrl=https://runbooks.example.org/llm",
            ),
            replace(
                DEFAULTS,
                availability_objective="0.999",
                latency_objective="0.95",
                latency_threshold_seconds="5.12",
                runbook_base_url="https://runbooks.example.org/llm",
            ),
        ),
    ],
    ids=["job", "job-and-namespace", "selector", "objectives"],
)
def test_chart_and_render_rules_render_the_same_rules(render, sets, values: RuleValues) -> None:
    assert groups(render(sets=sets)) == rendered_by_the_script(values)


def test_chart_rendered_for_another_job_passes_promtool_and_every_unit_test(
    render, promtool: str, tmp_path: Path
) -> None:
    rendered = render(sets=(f"serviceMonitor.jobLabel={OTHER_JOB}",))
    rules = {"chart-rules.yaml": yaml.safe_dump({"groups": groups(rendered)})}
    check = tmp_path / "chart-rules.yaml"
    check.write_text(rules["chart-rules.yaml"])
    result = subprocess.run(
        [promtool, "check", "rules", str(check)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in UNIT_TESTS:
        test = {**retarget(path, OTHER_JOB), "rule_files": ["chart-rules.yaml"]}
        result = run_unit_test(promtool, test, rules, tmp_path / path.stem)
        assert result.returncode == 0, f"{path.name}:\n{result.stdout}{result.stderr}"


def test_chart_rejects_a_selector_on_labels_recording_rules_drop(chart) -> None:
    assert "selector" in chart.render_fails('prometheusRule.selector=instance="10.0.0.1:8000"')


def test_latency_threshold_choices_are_the_boundaries_of_the_sli_histogram() -> None:
    # The latency SLI reads llm_gateway_request_duration_seconds; a threshold that is not
    # one of its `le` values, as prometheus-client writes them, selects no series.
    buckets = [floatToGoString(b) for b in OPERATION_DURATION_BUCKETS]
    schema = json.loads((CHART / "values.schema.json").read_text())
    rule = schema["properties"]["prometheusRule"]["properties"]["latencyThresholdSeconds"]
    assert rule["enum"] == buckets
    assert DEFAULTS.latency_threshold_seconds in buckets
    template = (CHART / "rules" / "latency-slo.yaml").read_text()
    assert 'le="{{ .latencyThresholdSeconds }}"' in template
    assert "llm_gateway_request_duration_seconds_bucket" in template


def test_each_objective_lands_in_its_own_rule_file(render) -> None:
    # An availability objective equal to the latency default must not be taken for it.
    rendered = render(
        sets=(
            "prometheusRule.availabilityObjective=0.99",
            "prometheusRule.latencyObjective=0.95",
        )
    )
    texts = {g["name"]: yaml.safe_dump(g) for g in groups(rendered)}
    availability = "".join(text for name, text in texts.items() if "availability" in name)
    latency = "".join(text for name, text in texts.items() if "latency" in name)
    assert "(1 - 0.99)" in availability and "(1 - 0.95)" not in availability
    assert "(1 - 0.95)" in latency and "(1 - 0.99)" not in latency
