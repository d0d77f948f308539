"""The rules of Grafana's dashboard-linter, checked in Python.

dashboard-linter (github.com/grafana/dashboard-linter) is a Go tool that cannot be
installed here, so its default rule set is restated below, one function per rule,
named after the rule, from the rules' Go source: same selection of panels and
variables, same conditions. PromQL is parsed with promql-parser after Grafana's
variables are expanded the way the linter expands them (`grafana.lint_form`).

Where this is stricter than the Go tool, it says so: panel-datasource-rule also
covers stat panels, panel-units-rule accepts the linter's unit ids of the kinds a
gateway dashboard shows (not every physical unit Grafana knows), the label
warnings of template-job-rule and template-instance-rule count as findings, and
target-counter-agg-rule looks at the metric name of every selector (the Go rule
tests the selector's text, so it misses counters selected with matchers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import promql_parser

from tests.dashboards import grafana, promql

Dashboard = dict[str, Any]
Rule = Callable[[Dashboard], Iterator[str]]

DATASOURCE_UIDS = {"$datasource", "${datasource}"}
# The linter's panel types per rule (lint/rule_*.go).
QUERY_PANELS = {"singlestat", "graph", "table", "stat", "state-timeline", "timeseries"}
DESCRIBED_PANELS = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
# lint/rule_panel_units.go's list, for the categories these dashboards draw from:
# misc, short, data, data rate, time, throughput and currency.
UNITS = {
    "none", "string", "short", "percent", "percentunit", "locale", "sci",
    "bytes", "decbytes", "bits", "decbits", "kbytes", "deckbytes", "mbytes", "decmbytes",
    "pps", "binBps", "Bps", "binbps", "bps", "KiBs", "KBs", "MiBs", "MBs",
    "hertz", "ns", "µs", "ms", "s", "m", "h", "d", "dtdurationms", "dtdurations",
    "cps", "ops", "reqps", "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm",
    "currencyUSD", "currencyEUR", "currencyGBP",
}  # fmt: skip
LABEL_FUNCTIONS = {"label_names", "label_values", "metrics", "query_result"}


def _datasource_uid(value: Any) -> str:
    return str(value.get("uid", "")) if isinstance(value, dict) else str(value or "")


def _prometheus_datasource(dashboard: Dashboard) -> bool:
    """The Go rules only look at dashboards whose datasource variable is Prometheus'."""
    return any(
        v["type"] == "datasource" and v.get("query") == "prometheus"
        for v in grafana.variables(dashboard).values()
    )


def _parsed(expr: str, dashboard: Dashboard) -> promql_parser.Expr | None:
    try:
        return promql.parse(grafana.lint_form(expr, dashboard))
    except ValueError:
        return None  # target-promql-rule reports it


def _where(panel: dict[str, Any], index: int | None = None) -> str:
    target = "" if index is None else f", target {index}"
    return f"panel {panel.get('title', '')!r}{target}"


def _targets(dashboard: Dashboard) -> Iterator[tuple[dict[str, Any], int, str]]:
    for panel in grafana.panels(dashboard):
        if panel.get("type") in QUERY_PANELS:
            for index, target in enumerate(panel.get("targets", [])):
                yield panel, index, target.get("expr", "")


def template_datasource_rule(dashboard: Dashboard) -> Iterator[str]:
    datasources = [v for v in grafana.variables(dashboard).values() if v["type"] == "datasource"]
    if not datasources:
        yield "no templated data source"
    for variable in datasources:
        query = str(variable.get("query", ""))
        names = {f"{query.lower()}_datasource"} | (
            {"datasource"} if len(datasources) == 1 else set()
        )
        labels = {f"{query.title()} data source"} | (
            {"Data source"} if len(datasources) == 1 else set()
        )
        if variable["name"] not in names:
            yield f"data source variable named {variable['name']!r}, not one of {sorted(names)}"
        if variable.get("label") not in labels:
            yield f"data source variable labelled {variable.get('label')!r}, not {sorted(labels)}"


def _check_template(dashboard: Dashboard, name: str) -> Iterator[str]:
    if not _prometheus_datasource(dashboard):
        return
    variable = grafana.variables(dashboard).get(name)
    if variable is None:
        yield f"no {name} variable"
        return
    if _datasource_uid(variable.get("datasource")) not in DATASOURCE_UIDS:
        yield f"{name} variable does not use $datasource"
    if variable["type"] != "query":
        yield f"{name} variable is a {variable['type']}, not a query"
    if variable.get("label") != name.title():
        yield f"{name} variable labelled {variable.get('label')!r}, not {name.title()!r}"
    if not variable.get("multi"):
        yield f"{name} variable is not multi-valued"
    if variable.get("allValue") != ".+":
        yield f"{name} variable's allValue is {variable.get('allValue')!r}, not '.+'"


def template_label_promql_rule(dashboard: Dashboard) -> Iterator[str]:
    if not _prometheus_datasource(dashboard):
        return
    for variable in grafana.variables(dashboard).values():
        if variable["type"] != "query":
            continue
        query = grafana.variable_query(variable)
        match = re.fullmatch(r"([a-z_]+)\((.+)\)", query)
        if match is None or match.group(1) not in LABEL_FUNCTIONS:
            yield f"{variable['name']}: {query!r} is not a label_values/query_result query"
            continue
        function, argument = match.groups()
        if function == "label_values":
            argument = argument.rpartition(",")[0] or argument
        if function != "metrics" and _parsed(argument, dashboard) is None:
            yield f"{variable['name']}: {argument!r} does not parse"


def template_on_time_change_reload_rule(dashboard: Dashboard) -> Iterator[str]:
    for variable in grafana.variables(dashboard).values():
        if variable["type"] == "query" and variable.get("refresh") != 2:
            yield f"{variable['name']} is not refreshed on time range change (refresh: 2)"


def panel_datasource_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel in grafana.panels(dashboard):
        if panel.get("type") in QUERY_PANELS:
            if _datasource_uid(panel.get("datasource")) not in DATASOURCE_UIDS:
                yield f"{_where(panel)} does not use the templated data source"


def panel_title_description_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel in grafana.panels(dashboard):
        if panel.get("type") in DESCRIBED_PANELS:
            if not panel.get("title") or not panel.get("description"):
                yield f"{_where(panel)} has no title or no description"


def panel_units_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel in grafana.panels(dashboard):
        if panel.get("type") in DESCRIBED_PANELS:
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
            if unit not in UNITS:
                yield f"{_where(panel)} has no or an invalid unit: {unit!r}"


def panel_no_targets_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel in grafana.panels(dashboard):
        if panel.get("type") in QUERY_PANELS and not panel.get("targets"):
            yield f"{_where(panel)} has no targets"


def target_promql_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel, index, expr in _targets(dashboard):
        try:
            promql.parse(grafana.lint_form(expr, dashboard))
        except ValueError as exc:
            yield f"{_where(panel, index)}: {exc}: {expr!r}"


def target_rate_interval_rule(dashboard: Dashboard) -> Iterator[str]:
    rate_interval = timedelta(seconds=grafana.MAGIC_SECONDS["__rate_interval"])
    for panel, index, expr in _targets(dashboard):
        if _parsed(expr, dashboard) is None:
            continue
        for node, parents in promql.walk(grafana.lint_form(expr, dashboard)):
            if not isinstance(node, promql_parser.MatrixSelector) or not parents:
                continue
            if node.range == rate_interval:
                continue
            parent = parents[-1]
            if not isinstance(parent, promql_parser.Call):
                yield f"{_where(panel, index)}: a range outside a function call: {expr!r}"
            elif parent.func.name in ("rate", "irate"):
                yield f"{_where(panel, index)}: {parent.func.name}() without $__rate_interval"


def _required_matcher(dashboard: Dashboard, label: str) -> Iterator[str]:
    if not _prometheus_datasource(dashboard):
        return
    for panel, index, expr in _targets(dashboard):
        if _parsed(expr, dashboard) is None:
            continue
        for selector in promql.selectors(grafana.lint_form(expr, dashboard)):
            if selector.matchers.get(label) != ("=~", f"${label}"):
                found = selector.matchers.get(label)
                yield f"{_where(panel, index)}: {selector.metric} has {label} matcher {found}"


def target_counter_agg_rule(dashboard: Dashboard) -> Iterator[str]:
    for panel, index, expr in _targets(dashboard):
        if _parsed(expr, dashboard) is None:
            continue
        for node, parents in promql.walk(grafana.lint_form(expr, dashboard)):
            if not isinstance(node, promql_parser.VectorSelector):
                continue
            if not (node.name or "").endswith("_total"):
                continue
            ranged = len(parents) >= 2 and isinstance(parents[-1], promql_parser.MatrixSelector)
            call = parents[-2] if ranged else None
            if not isinstance(call, promql_parser.Call) or call.func.name not in (
                promql.RATE_FUNCTIONS
            ):
                yield f"{_where(panel, index)}: counter {node.name} outside rate/irate/increase"


RULES: dict[str, Rule] = {
    "template-datasource-rule": template_datasource_rule,
    "template-job-rule": partial(_check_template, name="job"),
    "template-instance-rule": partial(_check_template, name="instance"),
    "template-label-promql-rule": template_label_promql_rule,
    "template-on-time-change-reload-rule": template_on_time_change_reload_rule,
    "panel-datasource-rule": panel_datasource_rule,
    "panel-title-description-rule": panel_title_description_rule,
    "panel-units-rule": panel_units_rule,
    "panel-no-targets-rule": panel_no_targets_rule,
    "target-promql-rule": target_promql_rule,
    "target-rate-interval-rule": target_rate_interval_rule,
    "target-job-rule": partial(_required_matcher, label="job"),
    "target-instance-rule": partial(_required_matcher, label="instance"),
    "target-counter-agg-rule": target_counter_agg_rule,
}


def lint(dashboard: Dashboard) -> dict[str, list[str]]:
    """Findings by rule name; empty lists when the dashboard passes."""
    return {name: list(rule(dashboard)) for name, rule in RULES.items()}
