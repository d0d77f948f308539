"""Panels on the $datasource: time series, stat, state timeline and table, each with a unit
and a description.

dashboard-linter wants a title, a description, a unit and the templated data
source on every panel; these helpers take them as required arguments, so no panel
can be built without them. Targets get their refIds (A, B, ...) here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import (
    common,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.models import common as models
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from scripts.dashboards.variables import DATASOURCE

# (color, lower bound) steps; the first bound is None (from minus infinity).
Steps = tuple[tuple[str, float | None], ...]
GREEN: Steps = (("green", None),)


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = "__auto"
    instant: bool = False


def _query(target: Target, ref_id: str, *, table_format: bool = False) -> prometheus.Dataquery:
    query = (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .expr(target.expr)
        .legend_format(target.legend)
        .ref_id(ref_id)
    )
    if table_format:
        query.format(PromQueryFormat.TABLE)
    return query.instant() if target.instant else query.range()


def _thresholds(steps: Steps) -> grafana.ThresholdsConfig:
    return (
        grafana.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for color, value in steps])
    )


def _common(
    panel: timeseries.Panel | stat.Panel | statetimeline.Panel | table.Panel,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Target],
    width: int,
    height: int,
    *,
    table_format: bool = False,
) -> None:
    panel.title(title).description(description).unit(unit).datasource(DATASOURCE)
    panel.span(width).height(height)
    for i, target in enumerate(targets):
        panel.with_target(_query(target, chr(ord("A") + i), table_format=table_format))


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Target],
    *,
    width: int,
    height: int = 8,
    thresholds: Steps = GREEN,
    threshold_lines: bool = False,
    min_value: float | None = None,
) -> timeseries.Panel:
    panel = timeseries.Panel()
    _common(panel, title, description, unit, targets, width, height)
    panel.color_scheme(grafana.FieldColor().mode(FieldColorModeId.PALETTE_CLASSIC))
    panel.thresholds(_thresholds(thresholds))
    panel.fill_opacity(10).line_width(1).show_points(models.VisibilityMode.NEVER)
    style = models.GraphThresholdsStyleMode.LINE if threshold_lines else None
    panel.thresholds_style(
        common.GraphThresholdsStyleConfig().mode(style or models.GraphThresholdsStyleMode.OFF)
    )
    panel.legend(
        common.VizLegendOptions()
        .display_mode(models.LegendDisplayMode.LIST)
        .placement(models.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    panel.tooltip(
        common.VizTooltipOptions()
        .mode(models.TooltipDisplayMode.MULTI)
        .sort(models.SortOrder.DESCENDING)
    )
    if min_value is not None:
        panel.min(min_value)
    return panel


def stat_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Target],
    *,
    width: int,
    height: int = 8,
    thresholds: Steps = GREEN,
    decimals: int | None = None,
    names: bool = False,
    horizontal: bool = False,
) -> stat.Panel:
    """A stat of each target's last value; `names` shows the series names too."""
    panel = stat.Panel()
    _common(panel, title, description, unit, targets, width, height)
    panel.color_scheme(grafana.FieldColor().mode(FieldColorModeId.THRESHOLDS))
    panel.thresholds(_thresholds(thresholds))
    panel.color_mode(models.BigValueColorMode.VALUE).graph_mode(models.BigValueGraphMode.NONE)
    panel.text_mode(
        models.BigValueTextMode.VALUE_AND_NAME if names else models.BigValueTextMode.AUTO
    )
    if horizontal:
        panel.orientation(models.VizOrientation.HORIZONTAL)
    panel.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    if decimals is not None:
        panel.decimals(decimals)
    return panel


def state_timeline_panel(
    title: str,
    description: str,
    targets: Sequence[Target],
    states: Sequence[tuple[float, str, str]],
    *,
    width: int,
    height: int = 8,
) -> statetimeline.Panel:
    """Each series' value over time as named, coloured states: one (value, text, color) each."""
    panel = statetimeline.Panel()
    _common(panel, title, description, "none", targets, width, height)
    panel.color_scheme(grafana.FieldColor().mode(FieldColorModeId.THRESHOLDS))
    panel.mappings(
        [
            ValueMap(
                options={
                    f"{value:g}": ValueMappingResult(text=text, color=color, index=index)
                    for index, (value, text, color) in enumerate(states)
                }
            )
        ]
    )
    panel.show_value(models.VisibilityMode.NEVER).merge_values(True)
    panel.legend(
        common.VizLegendOptions()
        .display_mode(models.LegendDisplayMode.LIST)
        .placement(models.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    return panel


def table_panel(
    title: str,
    description: str,
    columns: Sequence[tuple[Target, str, str]],
    *,
    width: int,
    height: int = 8,
) -> table.Panel:
    """A table of instant queries joined on their labels: one (target, header, unit) per column.

    The first column's unit is the panel's; the others set theirs by override.
    """
    targets = [target for target, _, _ in columns]
    panel = table.Panel()
    unit = columns[0][2]
    _common(panel, title, description, unit, targets, width, height, table_format=True)
    panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    names = {f"Value #{chr(ord('A') + i)}": header for i, (_, header, _) in enumerate(columns)}
    panel.with_transformation(
        DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": {"Time": True}, "renameByName": names},
        )
    )
    for _, header, column_unit in columns[1:]:
        panel.override_by_name(header, [DynamicConfigValue(id_val="unit", value=column_unit)])
    panel.sort_by([common.TableSortByFieldState().display_name(columns[0][1]).desc(True)])
    return panel
