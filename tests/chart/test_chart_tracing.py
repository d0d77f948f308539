"""Traces in the chart: the OTEL_* variables from `tracing`, and Grafana's tracing datasource."""

from __future__ import annotations

import re
import textwrap

import yaml

from tests.chart.conftest import CHART, NAMESPACE, RELEASE, Chart

TRACING = CHART / "ci" / "tracing-values.yaml"
FULLNAME = f"{RELEASE}-llm-monitor"


def test_traces_are_off_by_default_with_no_otel_variable_and_no_datasource(render) -> None:
    rendered = render()
    config = rendered.one("ConfigMap", FULLNAME)["data"]
    assert not [name for name in config if name.startswith("OTEL_")]
    names = [o["metadata"]["name"] for o in rendered.kind("ConfigMap")]
    assert f"{FULLNAME}-tracing-datasource" not in names


def test_an_otlp_endpoint_turns_traces_on_through_the_standard_variables(render) -> None:
    config = render(TRACING).one("ConfigMap", FULLNAME)["data"]
    otel = {name: value for name, value in config.items() if name.startswith("OTEL_")}
    assert otel == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo.monitoring:4318",
        "OTEL_SERVICE_NAME": FULLNAME,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": (
            f"k8s.namespace.name={NAMESPACE},deployment.environment.name=staging"
        ),
    }


def test_a_tracing_url_gives_grafana_a_datasource_the_exemplars_link_to(render) -> None:
    datasource = render(TRACING).one("ConfigMap", f"{FULLNAME}-tracing-datasource")
    assert datasource["metadata"]["labels"]["grafana_datasource"] == "1"
    provisioned = yaml.safe_load(datasource["data"]["llm-monitor-tracing.yaml"])
    assert provisioned["datasources"] == [
        {
            "name": "Tempo (llm-monitor)",
            "uid": "llm-monitor-traces",
            "type": "tempo",
            "access": "proxy",
            "url": "http://tempo.monitoring:3200",
            "editable": False,
        }
    ]
    # The uid the values file points the Prometheus datasource's exemplar link at.
    links = yaml.safe_load(TRACING.read_text())["kube-prometheus-stack"]["grafana"]["sidecar"]
    assert links["datasources"]["exemplarTraceIdDestinations"] == {
        "datasourceUid": "llm-monitor-traces",
        "traceIdLabelName": "trace_id",
    }


def test_the_readme_links_exemplars_to_traces_as_the_ci_values_do() -> None:
    # What a reader copies: the subchart value kube-prometheus-stack turns into the
    # Prometheus datasource's exemplarTraceIdDestinations [{datasourceUid, name}].
    readme = (CHART / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    [block] = [block for block in blocks if "exemplarTraceIdDestinations" in block]
    documented = yaml.safe_load(textwrap.dedent(block))
    values = yaml.safe_load(TRACING.read_text())
    assert documented["kube-prometheus-stack"] == values["kube-prometheus-stack"]


def test_the_schema_rejects_a_sampler_the_sdk_does_not_know(chart: Chart) -> None:
    assert "sampler" in chart.render_fails("tracing.sampler=sometimes")
    assert "samplerArg" in chart.render_fails("tracing.samplerArg=1.5")
