"""The committed Grafana dashboards, their panels, targets and variables.

Shared by the lint tests beside this module and the Prometheus contract test,
which runs every target's expression with the Grafana variables filled in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
# Grafana's built-in time ranges, as dashboard-linter replaces them before parsing:
# durations no dashboard writes by hand, so that a range can be told to be one.
MAGIC_SECONDS = {"__rate_interval": 11277964, "__interval": 11277965, "__range": 11277966}
# $name or ${name}, and whether a double quote comes right before it (a matcher value).
VARIABLE = re.compile(r'(")?\$(?:\{(\w+)\}|(\w+))')


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else str(query)


def _current(variable: dict[str, Any]) -> str:
    value = variable.get("current", {}).get("value", "")
    return value[0] if isinstance(value, list) else str(value)


def substitute(
    expr: str,
    dashboard: dict[str, Any],
    *,
    rate_interval: str = "1m",
    range_: str = "1h",
    overrides: dict[str, str] | None = None,
) -> str:
    """`expr` as Grafana would send it: built-in intervals and variables filled in.

    Query variables with "All" selected become their allValue; custom variables
    take their current value; `overrides` set any variable, as a user's choice would.
    """
    values: dict[str, str] = {
        "__rate_interval": rate_interval,
        "__interval": rate_interval,
        "__range": range_,
    }
    for name, variable in variables(dashboard).items():
        if variable["type"] == "query" and variable.get("includeAll"):
            values[name] = variable.get("allValue") or ".*"
        elif variable["type"] == "custom":
            values[name] = _current(variable)
    values.update(overrides or {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return (match.group(1) or "") + values[name]

    return VARIABLE.sub(fill, expr)


def lint_form(expr: str, dashboard: dict[str, Any]) -> str:
    """`expr` as dashboard-linter parses it (lint/variables.go, `expandVariables`).

    A variable right after a double quote is a matcher value and stays as written
    (`job=~"$job"`), so that rules can check it; built-in time ranges become the
    MAGIC_SECONDS durations; other variables their current value, or a name when
    that value is not a number.
    """
    current = {name: _current(v) for name, v in variables(dashboard).items()}

    def expand(match: re.Match[str]) -> str:
        quote, name = match.group(1), match.group(2) or match.group(3)
        if quote:
            return match.group(0)
        if name in MAGIC_SECONDS:
            return f"{MAGIC_SECONDS[name]}s"
        value = current.get(name, "")
        return value if re.fullmatch(r"[0-9.]+", value) else f"bgludgvy_{name}"

    return VARIABLE.sub(expand, expr)
