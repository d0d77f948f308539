"""The alert and recording rule files, checked and unit-tested by promtool.

`promtool check rules` validates every file; `promtool test rules` runs the unit
tests beside this module (``*_test.yaml``). The rest of this module holds the rules
to the house shape (severity, fixed summary, templated description, runbook link)
and checks that every alert's unit tests show it not firing too early, firing with
its labels and annotations, and resolving, and that the chart's substitution of
the configurable values (documented at the top of each rule file) keeps the files
valid.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "charts" / "llm-monitor" / "rules"
TESTS_DIR = Path(__file__).resolve().parent
RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
UNIT_TEST_FILES = sorted(TESTS_DIR.glob("*_test.yaml"))

RUNBOOK_BASE = "https://github.com/llm-monitor/llm-monitor/blob/main/docs/runbooks.md"
SEVERITIES = {"critical", "warning", "info"}
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
ALERT_NAME = re.compile(r"^LlmGateway[A-Z][A-Za-z0-9]*$")

# The values the chart may configure, per rule file: token in the committed file ->
# what a chart install with non-default values would put there. This is the
# contract with charts/llm-monitor/templates/prometheusrule.yaml, which applies
# the same literal `replace`s.
CHART_SUBSTITUTIONS: dict[str, dict[str, str]] = {
    "availability-slo.yaml": {
        "(1 - 0.995)": "(1 - 0.999)",
        RUNBOOK_BASE: "https://runbooks.example.com/llm-gateway",
    },
    "latency-slo.yaml": {
        "(1 - 0.99)": "(1 - 0.95)",
        'le="10.24"': 'le="5.12"',
        RUNBOOK_BASE: "https://runbooks.example.com/llm-gateway",
    },
    "upstream.yaml": {
        RUNBOOK_BASE: "https://runbooks.example.com/llm-gateway",
    },
    "capacity.yaml": {
        RUNBOOK_BASE: "https://runbooks.example.com/llm-gateway",
    },
}
# Bare default values that must not occur in rule content outside their tokens,
# or a chart substitution would leave a stale copy behind.
DEFAULT_VALUES = {"(1 - 0.995)": "0.995", "(1 - 0.99)": "0.99", 'le="10.24"': "10.24"}


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a YAML mapping"
    return data


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in _load(path)["groups"] for rule in group["rules"]]


def _alerts() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, r) for p in RULE_FILES for r in _rules(p) if "alert" in r]


def _content(path: Path) -> str:
    """The rule file without its comment lines (where the tokens are documented)."""
    return "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
    )


def _seconds(duration: str) -> int:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_the_rule_files_and_their_unit_tests_exist() -> None:
    assert {p.name for p in RULE_FILES} == set(CHART_SUBSTITUTIONS)
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


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_configurable_defaults_occur_only_as_their_tokens(path: Path) -> None:
    content = _content(path)
    for token in CHART_SUBSTITUTIONS[path.name]:
        assert token in content, f"{path.name}: {token!r} not found"
        bare = DEFAULT_VALUES.get(token)
        if bare is not None:
            assert content.count(bare) == content.count(token), (
                f"{path.name}: {bare!r} occurs outside {token!r}; a chart override would miss it"
            )


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_chart_substitution_keeps_the_file_valid(promtool: str, path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    for token, value in CHART_SUBSTITUTIONS[path.name].items():
        text = text.replace(token, value)
    rendered = tmp_path / path.name
    rendered.write_text(text)
    result = _run(promtool, "check", "rules", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    content = _content(rendered)
    for token, value in CHART_SUBSTITUTIONS[path.name].items():
        assert token not in content and value in content
    for rule in _rules(rendered):
        if "alert" in rule:
            url = rule["annotations"]["runbook_url"]
            assert url == f"https://runbooks.example.com/llm-gateway#{rule['alert'].lower()}"


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
