"""The routing table in the chart: values.yaml's upstreams and models become the file the
gateway reads, mounted from a ConfigMap, with each key from its Secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_gateway.routing import routing_table
from llm_gateway.settings import Settings
from tests.chart.conftest import CHART, RELEASE, Chart, Rendered

VALUES = CHART / "ci" / "routing-values.yaml"
CONFIG = f"{RELEASE}-llm-monitor"
SHORTHAND = {
    "LLM_GATEWAY_DEFAULT_MODEL",
    "LLM_GATEWAY_MODELS",
    "LLM_GATEWAY_PROVIDER",
    "LLM_GATEWAY_UPSTREAM_URL",
    "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR",
    "LLM_GATEWAY_FALLBACK_MODELS",
}


def gateway_container(rendered: Rendered) -> dict[str, Any]:
    pod = rendered.one("Deployment", CONFIG)["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "gateway")


def table_file(rendered: Rendered) -> str:
    data: str = rendered.one("ConfigMap", f"{CONFIG}-routing")["data"]["routing.yaml"]
    return data


def test_the_table_is_mounted_where_the_gateway_looks_for_it(render) -> None:
    rendered = render(VALUES)
    config = rendered.one("ConfigMap", CONFIG)["data"]
    pod = rendered.one("Deployment", CONFIG)["spec"]["template"]["spec"]
    [mount] = [m for m in gateway_container(rendered)["volumeMounts"] if m["name"] == "routing"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "routing"]

    assert config["LLM_GATEWAY_CONFIG"] == f"{mount['mountPath']}/routing.yaml"
    assert mount["readOnly"] is True
    assert volume["configMap"]["name"] == f"{CONFIG}-routing"
    # The gateway refuses the shorthand settings beside a table.
    assert not SHORTHAND & config.keys()


def test_each_key_comes_from_its_secret_and_stays_out_of_the_file(render) -> None:
    rendered = render(VALUES)
    env = {e["name"]: e for e in gateway_container(rendered)["env"]}
    upstreams = yaml.safe_load(table_file(rendered))["upstreams"]

    assert env["VLLM_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "vllm-key", "key": "api-key"}
    }
    assert upstreams[0]["api_key_env"] == "VLLM_API_KEY"
    assert all("apiKeySecret" not in upstream for upstream in upstreams)


def test_the_rendered_table_is_one_the_gateway_starts_with(
    render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = render(VALUES)
    path = tmp_path / "routing.yaml"
    path.write_text(table_file(rendered))
    for name, value in rendered.one("ConfigMap", CONFIG)["data"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LLM_GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("VLLM_API_KEY", "from-the-secret")

    table = routing_table(Settings())

    assert [(m.name, m.upstream, m.kind) for m in table.routes()] == [
        ("mistral-small", "vllm", "chat"),
        ("mistral-hf", "hf", "chat"),
        ("e5", "tei", "embedding"),
    ]
    assert table.routes()[0].max_tokens == 4096


def test_a_table_change_rolls_the_pods(render) -> None:
    def checksum(rendered: Rendered) -> str:
        annotations = rendered.one("Deployment", CONFIG)["spec"]["template"]["metadata"]
        return str(annotations["annotations"]["checksum/routing"])

    changed = render(VALUES, sets=("routing.models[2].name=e5-large",))
    assert checksum(render(VALUES)) != checksum(changed)


def test_without_models_no_table_is_rendered(render) -> None:
    rendered = render()

    assert [c["metadata"]["name"] for c in rendered.kind("ConfigMap")].count(
        f"{CONFIG}-routing"
    ) == 0
    assert "LLM_GATEWAY_CONFIG" not in rendered.one("ConfigMap", CONFIG)["data"]


@pytest.mark.parametrize(
    "sets",
    [
        # A key written inline: the schema knows no such field.
        (
            "routing.upstreams[0].name=vllm",
            "routing.upstreams[0].kind=openai",
            "routing.upstreams[0].api_key=sk-inline-secret",
        ),
        # A URL with credentials.
        (
            "routing.upstreams[0].name=vllm",
            "routing.upstreams[0].kind=openai",
            "routing.upstreams[0].urls[0]=http://user:sk-inline-secret@vllm:8000",
        ),
        # A Secret without the variable it is to fill.
        (
            "routing.upstreams[0].name=vllm",
            "routing.upstreams[0].kind=openai",
            "routing.upstreams[0].apiKeySecret.name=vllm-key",
            "routing.upstreams[0].apiKeySecret.key=api-key",
        ),
        (
            "routing.models[0].name=small",
            "routing.models[0].upstream=vllm",
            "routing.models[0].kind=rerank",
        ),
    ],
)
def test_the_schema_refuses_a_bad_table(chart: Chart, sets: tuple[str, ...]) -> None:
    assert "routing" in chart.render_fails(*sets)
