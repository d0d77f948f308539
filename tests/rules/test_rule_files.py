"""The alert and recording rules: their templates, rendered files and promtool tests.

charts/llm-monitor/rules/ holds rule templates; rules/ the plain rule files that
scripts/render_rules.py renders from them with the chart's defaults. `promtool
check rules` validates every rendered file; `promtool test rules` runs the unit
tests beside this module (``*_test.yaml``), for the default job and again for the
rules rendered for another job, and the tests in scoped/ for rules scoped to a
namespace. The rest of this module holds the rules to the house shape (severity,
fixed summary, templated description, runbook link), checks that every alert's
unit tests show it not firing too early, firing with its labels and annotations,
and resolving, and that every value the chart configures reaches every rule
(the chart's own rendering is compared with this one in tests/chart).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripts.render_rules import RuleValues, render

from tests.dashboards import promql
from tests.rules.promtool import retarget, run_unit_test

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "charts" / "llm-monitor" / "rules"
RULES_DIR = ROOT / "rules"
TESTS_DIR = Path(__file__).resolve().parent
TEMPLATES = sorted(TEMPLATES_DIR.glob("*.yaml"))
RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
UNIT_TEST_FILES = sorted(TESTS_DIR.glob("*_test.yaml"))
SCOPED_TEST_FILES = sorted((TESTS_DIR / "scoped").glob("*_test.yaml"))

DEFAULTS = RuleValues.from_chart()
RUNBOOK_BASE = DEFAULTS.runbook_base_url
SEVERITIES = {"critical", "warning", "info"}
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
ALERT_NAME = re.compile(r"^LlmGateway[A-Z][A-Za-z0-9]*$")
# A job name that is not the default, and values unlike any default: rules rendered
# with them must carry them everywhere and keep nothing of the defaults.
OTHER_JOB = "ai-gateway-prod"
OTHER = RuleValues(
    selector=f'job="{OTHER_JOB}"',
    availability_objective="0.999",
    latency_objective="0.95",
    latency_threshold_seconds="5.12",
    runbook_base_url="https://runbooks.example.com/llm-gateway",
)
SCOPED = replace(DEFAULTS, selector='job="ai-gateway", namespace="team-a"')


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a YAML mapping"
    return data


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in _load(path)["groups"] for rule in group["rules"]]


def _alerts() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, r) for p in RULE_FILES for r in _rules(p) if "alert" in r]


def _seconds(duration: str) -> int:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_every_template_has_its_rendered_file_and_unit_tests() -> None:
    assert TEMPLATES and {p.name for p in RULE_FILES} == {p.name for p in TEMPLATES}
    assert {p.name.removesuffix("_test.yaml") for p in UNIT_TEST_FILES} == {
        p.stem for p in RULE_FILES
    }


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules_accepts_the_file(promtool: str, path: Path) -> None:
    result = _run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", UNIT_TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool: str, path: Path) -> None:
    result = _run(promtool, "test", "rules", path.name, cwd=TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_recording_rules_are_named_level_metric_operations(path: Path) -> None:
    for rule in _rules(path):
        if "record" in rule:
            assert RECORD_NAME.match(rule["record"]), rule["record"]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_each_group_holds_either_recording_rules_or_alerts(path: Path) -> None:
    for group in _load(path)["groups"]:
        kinds = {"alert" if "alert" in rule else "record" for rule in group["rules"]}
        suffix = ".alerts" if kinds == {"alert"} else ".rules"
        assert len(kinds) == 1 and group["name"].endswith(suffix), group["name"]
        assert group["name"].startswith("llm-gateway-"), group["name"]


@pytest.mark.parametrize("name,alert", _alerts(), ids=lambda v: v if isinstance(v, str) else "")
def test_alert_has_the_house_shape(name: str, alert: dict[str, Any]) -> None:
    alertname = alert["alert"]
    assert ALERT_NAME.match(alertname), alertname
    assert _seconds(alert["for"]) > 0, f"{alertname}: needs a `for:` duration"
    assert alert["labels"]["severity"] in SEVERITIES, alertname
    annotations = alert["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}, alertname
    assert "{{" not in annotations["summary"], f"{alertname}: summary must be fixed text"
    assert annotations["summary"].endswith("."), alertname
    assert re.search(r"\$(labels|value)", annotations["description"]), alertname
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#{alertname.lower()}", alertname


def test_alerts_sharing_a_name_differ_by_severity() -> None:
    seen: dict[str, set[str]] = {}
    for _, alert in _alerts():
        severities = seen.setdefault(alert["alert"], set())
        assert alert["labels"]["severity"] not in severities, alert["alert"]
        severities.add(alert["labels"]["severity"])


def _unit_test_evals() -> dict[str, list[tuple[str, int, list[dict[str, Any]]]]]:
    """alertname -> [(test name, eval time in seconds, expected alerts)]."""
    evals: dict[str, list[tuple[str, int, list[dict[str, Any]]]]] = {}
    for path in UNIT_TEST_FILES:
        for test in _load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                evals.setdefault(case["alertname"], []).append(
                    (
                        f"{path.name}: {test['name']}",
                        _seconds(case["eval_time"]),
                        case.get("exp_alerts") or [],
                    )
                )
    return evals


@pytest.mark.parametrize("alertname", sorted({a["alert"] for _, a in _alerts()}))
def test_alert_unit_tests_show_it_quiet_then_firing_then_resolved(alertname: str) -> None:
    evals = _unit_test_evals().get(alertname, [])
    firing_severities: set[str] = set()
    full_story = False
    for test in {t for t, _, _ in evals}:
        cases = sorted((at, exp) for t, at, exp in evals if t == test)
        firing_at = [at for at, exp in cases if exp]
        for _, expected in cases:
            for alert in expected:
                assert alert["exp_labels"]["severity"] in SEVERITIES
                assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
                firing_severities.add(alert["exp_labels"]["severity"])
        if firing_at and any(not exp and at < min(firing_at) for at, exp in cases):
            full_story = full_story or any(not exp and at > max(firing_at) for at, exp in cases)
    declared = {a["labels"]["severity"] for _, a in _alerts() if a["alert"] == alertname}
    assert firing_severities == declared, f"{alertname}: a severity is never shown firing"
    assert full_story, f"{alertname}: no unit test shows it not firing, then firing, then resolved"


def test_rendered_rule_files_are_what_the_templates_render_with_the_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/render_rules.py", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _exprs(rendered: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (f"{name}: {rule.get('alert') or rule['record']}", rule["expr"])
        for name, text in rendered.items()
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize("values", [DEFAULTS, OTHER, SCOPED], ids=["default", "other", "scoped"])
def test_every_selector_of_every_rule_starts_with_the_configured_selector(
    values: RuleValues,
) -> None:
    expected = promql.selectors(f"up{{{values.selector}}}")[0].matchers
    for where, expr in _exprs(render(values)):
        for selector in promql.selectors(expr):
            assert expected.items() <= selector.matchers.items(), f"{where}: {selector}"


def test_every_configured_value_reaches_the_rules_and_no_default_is_left() -> None:
    rendered = render(OTHER)
    content = "\n".join(
        line for text in rendered.values() for line in text.splitlines() if not line.startswith("#")
    )
    assert not re.search(r"\{\{-? \.\w", content), "a template value was left unrendered"
    assert content.count("(1 - 0.999)") == 8 and content.count("(1 - 0.95)") == 8
    assert content.count('le="5.12"') == 7 and 'le="10.24"' not in content
    for stale in ('job="llm-gateway"', "0.995", "(1 - 0.99)", RUNBOOK_BASE):
        assert stale not in content, stale
    for rule in (
        r for _, t in rendered.items() for g in yaml.safe_load(t)["groups"] for r in g["rules"]
    ):
        if "alert" in rule:
            url = rule["annotations"]["runbook_url"]
            assert url == f"{OTHER.runbook_base_url}#{rule['alert'].lower()}"


@pytest.mark.parametrize("values", [OTHER, SCOPED], ids=["other", "scoped"])
def test_promtool_accepts_the_rules_rendered_for_another_selector(
    promtool: str, values: RuleValues, tmp_path: Path
) -> None:
    for name, text in render(values).items():
        (tmp_path / name).write_text(text)
    result = _run(promtool, "check", "rules", *sorted(str(p) for p in tmp_path.iterdir()))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", UNIT_TEST_FILES, ids=lambda p: p.name)
def test_unit_tests_pass_on_another_jobs_series_with_rules_rendered_for_it(
    promtool: str, path: Path, tmp_path: Path
) -> None:
    selector = replace(DEFAULTS, selector=f'job="{OTHER_JOB}"')
    test = retarget(path, OTHER_JOB)
    result = run_unit_test(promtool, test, render(selector), tmp_path / "other")
    assert result.returncode == 0, result.stdout + result.stderr
    # The job matters: the default rules do not see that job's series.
    result = run_unit_test(promtool, test, render(DEFAULTS), tmp_path / "default")
    assert result.returncode != 0, "the retargeted tests pass against the default job's rules"


@pytest.mark.parametrize("path", SCOPED_TEST_FILES, ids=lambda p: p.name)
def test_rules_scoped_to_a_namespace_ignore_other_namespaces(
    promtool: str, path: Path, tmp_path: Path
) -> None:
    test = yaml.safe_load(path.read_text())
    result = run_unit_test(promtool, test, render(SCOPED), tmp_path / "scoped")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_unit_test(promtool, test, render(DEFAULTS), tmp_path / "unscoped")
    assert result.returncode != 0, "the scoped tests pass against unscoped rules"


def test_render_rules_refuses_a_selector_on_labels_recording_rules_drop(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "scripts/render_rules.py",
            "--selector",
            'instance="a:1"',
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "job and namespace only" in result.stderr
    assert not list(tmp_path.iterdir())


RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_PARTS = ("**What it means.**", "**Confirm.**", "**What to do.**")


def _runbook_sections() -> dict[str, str]:
    """`## Heading` -> its text, keyed by the GitHub anchor of the heading."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^## ", RUNBOOKS.read_text(), flags=re.MULTILINE)[1:]:
        heading, _, body = chunk.partition("\n")
        anchor = re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
        sections[anchor] = body
    return sections


@pytest.mark.parametrize("alertname", sorted({a["alert"] for _, a in _alerts()}))
def test_every_alert_links_to_a_runbook_section_that_says_what_to_do(alertname: str) -> None:
    section = _runbook_sections().get(alertname.lower())
    assert section is not None, f"docs/runbooks.md has no `## {alertname}` section"
    for part in RUNBOOK_PARTS:
        assert part in section, f"{alertname}: runbook section lacks {part}"


def test_runbook_links_between_sections_resolve() -> None:
    anchors = set(_runbook_sections())
    links = set(re.findall(r"\]\(#([a-z0-9_-]+)\)", RUNBOOKS.read_text()))
    assert links <= anchors, links - anchors
