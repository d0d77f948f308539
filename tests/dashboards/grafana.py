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


def substitute(
    expr: str,
    dashboard: dict[str, Any],
    *,
    rate_interval: str = "1m",
    range_: str = "1h",
    overrides: dict[str, str] | None = None,
) -> str:
    """`expr` as Grafana would send it: built-in intervals and variables filled in.

    Query variables with "All" selected become their allValue (".*"); custom
    variables take their current value.
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
            values[name] = variable["current"]["value"]
    values.update(overrides or {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, expr)
