"""A dashboard from rows of panels, and its committed JSON.

Every dashboard gets the same frame: a stable uid, the shared tags, the last hour
refreshed every 30 s, a shared crosshair, Grafana's built-in annotations, and panel
ids in reading order (the SDK lays the grid out from each panel's width and height).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Panel,
    VariableModel,
)

TAGS = ["llm-monitor", "llm-gateway"]


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Builder[Panel]]


def dashboard(
    uid: str,
    title: str,
    description: str,
    rows: Sequence[Row],
    variables: Sequence[Builder[VariableModel]],
) -> dict[str, Any]:
    board = (
        grafana.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .annotation(
            grafana.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
        )
        .variables(list(variables))
    )
    panel_id = 1
    for row in rows:
        board.with_row(grafana.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            board.with_panel(panel.id(panel_id))  # type: ignore[attr-defined]
        panel_id += 1
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
