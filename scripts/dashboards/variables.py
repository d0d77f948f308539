"""The dashboard variables: data source, scope, filters and SLO objectives.

dashboard-linter's conventions: a `datasource` variable of type datasource that
every panel and variable uses; `job` and `instance` query variables, multi-valued,
whose "All" is `.+`, refreshed when the time range changes. `namespace` is one
more scope variable, whose "All" is `.*`: outside Kubernetes the series carry no
namespace label, and `.+` would select none of them.

Scope variables list what the gateway's own series carry (llm_gateway_build_info),
so they offer only gateways; "All" still matches any job, which matters only for
metric names other services export too (http_requests_total, up).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from scripts.dashboards.selectors import sel

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
GATEWAY_SERIES = "llm_gateway_build_info"
ALL = VariableOption(selected=True, text="All", value="$__all")


def datasource() -> grafana.DatasourceVariable:
    return (
        grafana.DatasourceVariable("datasource")
        .label("Data source")
        .description("The Prometheus that scrapes the gateway.")
        .type("prometheus")
    )


def query(
    name: str, query: str, description: str, *, all_value: str = ".+"
) -> grafana.QueryVariable:
    """A multi-valued label query on $datasource, "All" selected, refreshed with the time range."""
    return (
        grafana.QueryVariable(name)
        .label(name.title())
        .description(description)
        .datasource(DATASOURCE)
        .query(
            {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}
        )
        .multi(True)
        .include_all(True)
        .all_value(all_value)
        .current(ALL)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def scope() -> list[grafana.QueryVariable]:
    """job, then namespace and instance among that job's gateways."""
    return [
        query(
            "job",
            f"label_values({GATEWAY_SERIES}, job)",
            'The scrape job(s) of the gateway; every query selects job=~"$job". All (.+) '
            "matches every job: pick the gateway's when other services in this Prometheus "
            "export http_requests_total too.",
        ),
        query(
            "namespace",
            f'label_values({GATEWAY_SERIES}{{job=~"$job"}}, namespace)',
            "Kubernetes namespace(s) of the gateway; All (.*) also matches series without a "
            "namespace label (a Prometheus outside Kubernetes).",
            all_value=".*",
        ),
        query(
            "instance",
            f'label_values({GATEWAY_SERIES}{{job=~"$job", namespace=~"$namespace"}}, instance)',
            "Gateway targets (host:port) of the selected jobs and namespaces.",
        ),
    ]


def label(name: str, metric: str, description: str) -> grafana.QueryVariable:
    """A filter on one label of `metric`, among the selected gateways' series."""
    return query(name, f"label_values({sel(metric)}, {name})", description)


def custom(
    name: str, label_text: str, values: list[str], default: str, description: str
) -> grafana.CustomVariable:
    """A fixed choice, e.g. an SLO objective; `default` is selected."""
    return (
        grafana.CustomVariable(name)
        .label(label_text)
        .description(description)
        .values(",".join(values))
        .current(VariableOption(selected=True, text=default, value=default))
        .options([VariableOption(selected=v == default, text=v, value=v) for v in values])
    )
