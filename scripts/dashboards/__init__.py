"""The Grafana dashboards of dashboards/, as code, with Grafana's grafana-foundation-sdk.

    .venv/bin/python -m scripts.dashboards           # rewrite dashboards/*.json
    .venv/bin/python -m scripts.dashboards --check   # exit 1 when a committed file is stale

The JSON is committed: Grafana's UI import and the chart's sidecar ConfigMaps read
it as is. The SDK's typed builders produce current-schema dashboards; the modules
here keep their many panels consistent:

    selectors   PromQL: every selector starts with the job, instance and namespace variables
    variables   the dashboard variables: data source, scope, filters, SLO objectives
    panels      time series, stat and table panels on the $datasource, with units
    board       a dashboard from rows of panels: ids, tags, time, annotations; JSON
    slo         the SLO row, mirroring the alert rules' SLIs and windows
    overview    "LLM Gateway / Overview" (resilience: its capacity rows)
    usage       "LLM gateway — usage by client"
"""
