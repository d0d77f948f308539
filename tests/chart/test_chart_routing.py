"""The routing table in the chart: values.yaml's upstreams, models and failover policy
become the file the gateway reads, mounted from a ConfigMap, with each key from its Secret;
without a table, gateway.resilience becomes LLM_GATEWAY_RESILIENCE."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_gateway.app import gateway_config
from llm_gateway.core.continuation import Prefill
from llm_gateway.core.retry import ErrorClass, Policy
from llm_gateway.core.routing import ModelRoute
from llm_gateway.routing import (
    ModelEntry,
    ResilienceEntry,
    RoutingTable,
    UpstreamEntry,
    routing_table,
)
from llm_gateway.settings import Settings
from tests.chart.conftest import CHART, RELEASE, Chart, Rendered

VALUES = CHART / "ci" / "routing-values.yaml"
FAILOVER = CHART / "ci" / "failover-values.yaml"
FAILOVER_SHORTHAND = CHART / "ci" / "failover-shorthand-values.yaml"
CONFIG = f"{RELEASE}-llm-monitor"
SHORTHAND = {
    "LLM_GATEWAY_DEFAULT_MODEL",
    "LLM_GATEWAY_MODELS",
    "LLM_GATEWAY_PROVIDER",
    "LLM_GATEWAY_UPSTREAM_URL",
    "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR",
    "LLM_GATEWAY_UPSTREAM_KIND",
    "LLM_GATEWAY_FALLBACK_MODELS",
    "LLM_GATEWAY_RESILIENCE",
}


def gateway_container(rendered: Rendered) -> dict[str, Any]:
    pod = rendered.one("Deployment", CONFIG)["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "gateway")


def table_file(rendered: Rendered) -> str:
    data: str = rendered.one("ConfigMap", f"{CONFIG}-routing")["data"]["routing.yaml"]
    return data


def started(
    rendered: Rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[ModelRoute]:
    """The models the core gets from a gateway started with the rendered ConfigMaps, each
    Secret the pod reads a variable from holding a key."""
    config = rendered.one("ConfigMap", CONFIG)["data"]
    for name, value in config.items():
        monkeypatch.setenv(name, value)
    for env in gateway_container(rendered)["env"]:
        if "secretKeyRef" in env.get("valueFrom", {}):
            monkeypatch.setenv(env["name"], "from-the-secret")
    if "LLM_GATEWAY_CONFIG" in config:
        path = tmp_path / "routing.yaml"
        path.write_text(table_file(rendered))
        monkeypatch.setenv("LLM_GATEWAY_CONFIG", str(path))
    settings = Settings()
    return gateway_config(settings, routing_table(settings)).models


def test_the_table_is_mounted_where_the_gateway_looks_for_it(render) -> None:
    rendered = render(VALUES)
    config = rendered.one("ConfigMap", CONFIG)["data"]
    pod = rendered.one("Deployment", CONFIG)["spec"]["template"]["spec"]
    [mount] = [m for m in gateway_container(rendered)["volumeMounts"] if m["name"] == "routing"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "routing"]

    assert config["LLM_GATEWAY_CONFIG"] == f"{mount['mountPath']}/routing.yaml"
    assert mount["readOnly"] is True
    assert volume["configMap"]["name"] == f"{CONFIG}-routing"
    # The gateway refuses the shorthand settings beside a table: a kind set is dropped too.
    kind = render(VALUES, sets=("gateway.upstreamKind=huggingface",)).one("ConfigMap", CONFIG)
    assert not SHORTHAND & (config.keys() | kind["data"].keys())


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
    routes = started(render(VALUES), tmp_path, monkeypatch)

    assert [(m.name, m.upstream, m.kind) for m in routes] == [
        ("mistral-small", "vllm", "chat"),
        ("mistral-hf", "hf", "chat"),
        ("e5", "tei", "embedding"),
    ]
    assert routes[0].max_tokens == 4096


def test_the_failover_policies_reach_the_core_a_models_own_over_the_tables(
    render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large, hf = started(render(FAILOVER), tmp_path, monkeypatch)
    # The table's policy, over the gateway's (gateway.retryAttempts: 4).
    table = Policy(
        attempts=4, first_token_timeout_seconds=20, circuit_failures=3, circuit_cooldown_seconds=60
    )

    assert large.policy == hf.policy == table
    assert small.policy == dataclasses.replace(
        table,
        attempts=2,
        retry_statuses=frozenset({429, 503}),
        stall_timeout_seconds=3,
        retry_timeouts=True,
    )
    assert small.fallbacks == ("mistral-large",)
    assert small.class_fallbacks == {
        ErrorClass.CONTEXT_WINDOW: ("mistral-large",),
        ErrorClass.CONTENT_POLICY: ("mistral-hf",),
    }
    assert (small.prefill, large.prefill, hf.prefill) == (
        Prefill.CONTINUE_FINAL_MESSAGE,
        Prefill.PREFIX,
        Prefill.NONE,
    )


def test_without_a_table_gateway_resilience_is_every_models_policy(
    render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = render(FAILOVER_SHORTHAND)
    config = rendered.one("ConfigMap", CONFIG)["data"]

    routes = started(rendered, tmp_path, monkeypatch)

    assert json.loads(config["LLM_GATEWAY_RESILIENCE"]) == {
        "attempts": 2,
        "first_token_timeout_seconds": 20,
        "retry_statuses": [429, 500, 503],
        "retry_timeouts": True,
    }
    assert "LLM_GATEWAY_CONFIG" not in config
    assert [(m.name, m.fallbacks) for m in routes if m.kind == "chat"] == [
        ("mistralai/Mistral-7B-Instruct-v0.3", ("mistralai/Mistral-Nemo-Instruct-2407",)),
        ("mistralai/Mistral-Nemo-Instruct-2407", ()),
    ]
    assert {m.policy for m in routes} == {
        Policy(
            attempts=2,
            first_token_timeout_seconds=20,
            retry_statuses=frozenset({429, 500, 503}),
            retry_timeouts=True,
        )
    }


def test_beside_a_table_gateway_resilience_is_not_passed(
    render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = render(VALUES, sets=("gateway.resilience.attempts=2",))

    # The gateway refuses LLM_GATEWAY_RESILIENCE beside a table: it starts, with its defaults.
    routes = started(rendered, tmp_path, monkeypatch)

    assert "LLM_GATEWAY_RESILIENCE" not in rendered.one("ConfigMap", CONFIG)["data"]
    assert {m.policy for m in routes} == {Policy()}


def test_by_default_no_failover_policy_is_rendered(render) -> None:
    assert "LLM_GATEWAY_RESILIENCE" not in render().one("ConfigMap", CONFIG)["data"]
    assert "resilience" not in yaml.safe_load(table_file(render(VALUES)))


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


def test_the_install_notes_describe_the_table_not_the_one_upstream_settings(
    chart: Chart,
) -> None:
    def notes(*values: Path) -> str:
        args = ["install", RELEASE, str(chart.path), "--dry-run", "-n", "llm"]
        for path in values:
            args += ["--values", str(path)]
        out = chart.run(*args).stdout
        return out[out.index("NOTES:") : out.index("Monitoring:")]

    table = notes(VALUES)
    shorthand = notes()

    assert f"ConfigMap {CONFIG}-routing, read from /etc/llm-gateway/routing/routing.yaml" in table
    assert (
        "vllm: openai, http://vllm-0:8000 http://vllm-1:8000, key from $VLLM_API_KEY "
        "(Secret vllm-key)" in table
    )
    assert "hf: huggingface, provider auto" in table
    assert (
        "mistral-small -> vllm as mistralai/Mistral-Small-3.2-24B-Instruct-2506; "
        "falls back to mistral-hf" in table
    )
    assert "e5 -> tei as intfloat/multilingual-e5-large, embeddings" in table
    # The one-upstream settings the gateway ignores beside a table are not shown as in use.
    assert "Upstream:" not in table
    assert "Upstream:" in shorthand and "set routing.upstreams and\nrouting.models" in shorthand


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


def test_the_schema_knows_exactly_the_fields_the_gateway_reads() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    routing = schema["properties"]["routing"]["properties"]

    assert routing.keys() == RoutingTable.model_fields.keys()
    # apiKeySecret is the chart's: it fills the variable api_key_env names.
    assert routing["upstreams"]["items"]["properties"].keys() - {"apiKeySecret"} == (
        UpstreamEntry.model_fields.keys()
    )
    assert routing["models"]["items"]["properties"].keys() == ModelEntry.model_fields.keys()
    assert schema["definitions"]["resilience"]["properties"].keys() == (
        ResilienceEntry.model_fields.keys()
    )


@pytest.mark.parametrize("major", ["v3", "v4"])
@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("routing.models[0].prefill=assistant", "routing.models.0.prefill"),
        (
            "routing.models[0].context_window_fallbacks[0]=",
            "routing.models.0.context_window_fallbacks.0",
        ),
        (
            "routing.models[0].content_policy_fallbacks=e5",
            "routing.models.0.content_policy_fallbacks",
        ),
        ("routing.models[0].resilience.attempts=0", "routing.models.0.resilience.attempts"),
        ("routing.resilience.retry_statuses[0]=200", "routing.resilience.retry_statuses.0"),
        ("routing.resilience.stall_timeout_seconds=0", "routing.resilience.stall_timeout_seconds"),
        ("routing.resilience.backoff_seconds=-1", "routing.resilience.backoff_seconds"),
        ("routing.resilience.retries=2", "routing.resilience"),
        ("gateway.resilience.attempts=11", "gateway.resilience.attempts"),
        ("gateway.resilience.retry_timeouts=maybe", "gateway.resilience.retry_timeouts"),
    ],
)
def test_the_schema_refuses_a_bad_failover_setting_with_helm_v3_and_v4(
    helms: dict[str, Chart], major: str, setting: str, where: str
) -> None:
    model = ("routing.models[0].name=small", "routing.models[0].upstream=vllm")
    error = helms[major].render_fails(*model, setting)

    # Each names the value's place its own way: helm v3 with dots, v4 as a JSON pointer.
    assert (where if major == "v3" else f"'/{where.replace('.', '/')}'") in error
