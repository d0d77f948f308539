"""Lint for dashboards/*.json: what Grafana's dashboard-linter checks, and more.

dashboard-linter rules covered: template-datasource-rule, template-label-promql-rule,
template-on-time-change-reload-rule, panel-datasource-rule, panel-title-description-rule,
panel-units-rule, panel-no-targets-rule, target-promql-rule (through promtool),
target-rate-interval-rule, target-counter-agg-rule and target-job-rule (as a fixed
job="llm-gateway" matcher rather than a $job variable: the chart always sets that
job). Not covered: template-instance-rule and target-instance-rule (the dashboard
aggregates over instances on purpose).

Beyond the linter: the files import anywhere (no `__inputs`, `"id": null`, a stable
uid), carry the shared tag, sit on a grid without overlaps, and are what
scripts/generate_dashboards.py produces.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards import grafana, linter, promql

DASHBOARDS = {p.name: grafana.load(p) for p in grafana.DASHBOARD_FILES}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_KEYS = {
    "annotations", "description", "editable", "id", "panels", "refresh", "schemaVersion",
    "tags", "templating", "time", "timezone", "title", "uid", "version",
}  # fmt: skip
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}
# Grafana unit ids the dashboards may use; custom units ("suffix:x") are allowed too.
UNITS = {
    "short", "none", "percent", "percentunit", "reqps", "ops", "s", "ms", "bytes", "decbytes",
    "Bps", "binBps",
}  # fmt: skip

by_dashboard = pytest.mark.parametrize("name", sorted(DASHBOARDS))


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name, d in DASHBOARDS.items() for p in grafana.panels(d)]


def _targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, p, t) for name, d in DASHBOARDS.items() for p, t in grafana.targets(d)]


def _panel_id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("title") or value.get("refId") or "")
    return str(value)


by_panel = pytest.mark.parametrize("name,panel", _panels(), ids=_panel_id)
by_target = pytest.mark.parametrize(
    "name,panel,target",
    _targets(),
    ids=lambda v: _panel_id(v) if isinstance(v, dict) else v,
)


def test_there_is_an_overview_dashboard() -> None:
    assert "llm-gateway-overview.json" in DASHBOARDS


def test_committed_dashboards_are_what_the_generator_produces() -> None:
    script = grafana.ROOT / "scripts" / "generate_dashboards.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@by_dashboard
def test_dashboard_has_the_expected_top_level_fields(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert REQUIRED_KEYS <= set(dashboard), REQUIRED_KEYS - set(dashboard)
    assert dashboard["id"] is None
    assert dashboard["schemaVersion"] >= 39
    assert "llm-monitor" in dashboard["tags"]
    assert dashboard["title"] and dashboard["description"]


@by_dashboard
def test_dashboard_uid_is_stable_and_valid(name: str) -> None:
    uid = DASHBOARDS[name]["uid"]
    assert re.fullmatch(r"[a-z0-9-]{1,40}", uid), uid
    assert uid == Path(name).stem, "uid must be the file name, so it never drifts"


def test_uids_and_titles_are_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    titles = [d["title"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)


@by_dashboard
def test_dashboard_does_not_depend_on_import_inputs(name: str) -> None:
    text = (grafana.DASHBOARDS_DIR / name).read_text()
    assert "__inputs" not in DASHBOARDS[name] and "__requires" not in DASHBOARDS[name]
    assert "${DS_" not in text, "use the $datasource variable, not an import-time input"


@by_dashboard
def test_datasource_variable_is_a_prometheus_datasource_variable(name: str) -> None:
    variable = grafana.variables(DASHBOARDS[name]).get("datasource")
    assert variable is not None, "a variable named `datasource` is required"
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    first = DASHBOARDS[name]["templating"]["list"][0]
    assert first["name"] == "datasource", "the datasource variable comes first"


@by_dashboard
def test_model_and_handler_variables_are_label_queries(name: str) -> None:
    variables = grafana.variables(DASHBOARDS[name])
    for var_name, label in (("model", "model"), ("handler", "handler")):
        variable = variables[var_name]
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        assert variable["refresh"] == 2, "reload on time range change"
        assert variable["includeAll"] and variable["allValue"] == ".*"
        query = grafana.variable_query(variable)
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
        assert match and match.group(2) == label, query
        (selector,) = promql.selectors(match.group(1))
        assert selector.matchers["job"] == ("=", "llm-gateway")


@by_dashboard
def test_every_variable_is_used(name: str) -> None:
    dashboard = DASHBOARDS[name]
    exprs = " ".join(t["expr"] for _, t in grafana.targets(dashboard))
    for var_name in grafana.variables(dashboard):
        if var_name != "datasource":
            assert f"${var_name}" in exprs, f"${var_name} is never used"


@by_dashboard
def test_panels_have_unique_ids_and_fit_the_grid_without_overlap(name: str) -> None:
    cells: dict[tuple[int, int], int] = {}
    ids = []
    for panel in DASHBOARDS[name]["panels"]:
        ids.append(panel["id"])
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]
    assert len(set(ids)) == len(ids)


@by_panel
def test_panel_uses_the_datasource_variable(name: str, panel: dict[str, Any]) -> None:
    assert panel["datasource"] == DATASOURCE
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE, target["refId"]


@by_panel
def test_panel_has_a_title_a_description_and_targets(name: str, panel: dict[str, Any]) -> None:
    assert panel["title"].strip() and panel["description"].strip()
    assert panel["targets"], "a panel without targets shows nothing"
    ref_ids = [t["refId"] for t in panel["targets"]]
    assert len(set(ref_ids)) == len(ref_ids)


@by_panel
def test_panel_has_a_unit(name: str, panel: dict[str, Any]) -> None:
    unit = panel["fieldConfig"]["defaults"].get("unit", "")
    assert unit in UNITS or re.fullmatch(r"suffix:.+", unit), f"unit {unit!r}"


@by_dashboard
@pytest.mark.parametrize("rule", ["target-rate-interval-rule", "target-counter-agg-rule"])
def test_target_rates_use_rate_interval_and_counters_only_go_through_rate(
    name: str, rule: str
) -> None:
    assert list(linter.RULES[rule](DASHBOARDS[name])) == []


@by_target
def test_target_histogram_quantiles_keep_le(
    name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    expr = target["expr"]
    for _ in re.finditer(r"histogram_quantile\(", expr):
        assert re.search(r"histogram_quantile\([\d.]+, sum by \(le[,)]", expr), expr


@by_target
def test_target_uses_only_defined_variables(
    name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    defined = set(grafana.variables(DASHBOARDS[name])) | BUILTIN_VARIABLES
    used = set(re.findall(r"\$\{?(\w+)\}?", target["expr"]))
    assert used <= defined, used - defined
    assert target["legendFormat"], "name the series"


@by_dashboard
def test_every_expression_parses(promtool: str, name: str, tmp_path: Path) -> None:
    """promtool parses each target, variables filled in, as a recording rule."""
    dashboard = DASHBOARDS[name]
    rules = [
        {"record": f"dashboard_target_{i}", "expr": grafana.substitute(t["expr"], dashboard)}
        for i, (_, t) in enumerate(grafana.targets(dashboard))
    ]
    path = tmp_path / "dashboard-exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": name, "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
