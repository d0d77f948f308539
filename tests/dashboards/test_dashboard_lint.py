"""Lint for dashboards/*.json: Grafana's dashboard-linter rules, and more.

Every rule of dashboard-linter's default set (restated in linter.py) runs on every
dashboard and finds nothing; each rule is also shown to find what it looks for.

Beyond the linter: the files import anywhere (no `__inputs`, no id, a stable uid),
carry the shared tag, sit on a grid without overlaps, select `namespace` as well as
`job` and `instance`, parse in promtool, and are what `python -m scripts.dashboards`
produces.
"""

from __future__ import annotations

import json
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
    "annotations", "description", "editable", "panels", "refresh", "schemaVersion",
    "tags", "templating", "time", "timezone", "title", "uid",
}  # fmt: skip
SCOPE = {"job": ("=~", "$job"), "instance": ("=~", "$instance"), "namespace": ("=~", "$namespace")}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}

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
    result = subprocess.run(
        [sys.executable, "-m", "scripts.dashboards", "--check"],
        capture_output=True,
        text=True,
        cwd=grafana.ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@by_dashboard
@pytest.mark.parametrize("rule", sorted(linter.RULES))
def test_dashboard_passes_the_dashboard_linter_rule(name: str, rule: str) -> None:
    assert list(linter.RULES[rule](DASHBOARDS[name])) == []


def _broken(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The dashboard with one mistake per rule, as a hand-edited dashboard would have."""
    text = json.dumps(dashboard).replace("[$__rate_interval]", "[5m]")
    text = text.replace('job=~\\"$job\\"', 'job=\\"llm-gateway\\"')
    text = text.replace('instance=~\\"$instance\\", ', "")
    broken: dict[str, Any] = json.loads(text)
    variables = broken["templating"]["list"]
    variables[0]["name"] = "ds"
    broken["templating"]["list"] = [v for v in variables if v["name"] not in ("job", "instance")]
    for variable in broken["templating"]["list"]:
        if variable["type"] == "query":
            variable["refresh"] = 1
    panel, second, third = list(grafana.panels(broken))[:3]
    panel.update(description="", datasource={"uid": "prometheus"})
    panel["fieldConfig"]["defaults"]["unit"] = "suffix:x"
    panel["targets"][0]["expr"] = "sum(rate(up[5m])"
    second["targets"] = []
    third["targets"][0]["expr"] = "sum(http_requests_total)"
    broken["templating"]["list"].append(
        {"name": "bad", "type": "query", "query": "foo(up)", "refresh": 2}
    )
    return broken


def test_every_linter_rule_finds_what_it_looks_for() -> None:
    findings = linter.lint(_broken(DASHBOARDS["llm-gateway-overview.json"]))
    assert [rule for rule, found in findings.items() if not found] == []


@by_dashboard
def test_dashboard_has_the_expected_top_level_fields(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert REQUIRED_KEYS <= set(dashboard), REQUIRED_KEYS - set(dashboard)
    assert dashboard.get("id") is None
    assert dashboard["schemaVersion"] >= 41
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
def test_scope_variables_list_the_gateways_series_and_filters_follow_the_scope(name: str) -> None:
    variables = grafana.variables(DASHBOARDS[name])
    assert list(variables)[:4] == ["datasource", "job", "namespace", "instance"]
    assert variables["namespace"]["allValue"] == ".*", "series outside Kubernetes have none"
    for var_name, variable in variables.items():
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", grafana.variable_query(variable))
        assert match and match.group(2) == var_name, variable["query"]
        (selector,) = promql.selectors(grafana.lint_form(match.group(1), DASHBOARDS[name]))
        assert selector.metric.startswith(("llm_gateway_", "http_")), selector
        earlier = list(variables)[1 : list(variables).index(var_name)]
        assert {k: v for k, v in SCOPE.items() if k in earlier}.items() <= selector.matchers.items()


@by_dashboard
def test_every_selector_is_scoped_by_job_instance_and_namespace(name: str) -> None:
    dashboard = DASHBOARDS[name]
    for panel, target in grafana.targets(dashboard):
        for selector in promql.selectors(grafana.lint_form(target["expr"], dashboard)):
            assert SCOPE.items() <= selector.matchers.items(), (panel["title"], selector)


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
