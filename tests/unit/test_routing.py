"""The routing table: read from its file or made from the shorthand settings, and refused,
naming the entry, when it is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_gateway.core.continuation import Prefill
from llm_gateway.core.retry import ErrorClass, Policy
from llm_gateway.core.routing import ModelRoute
from llm_gateway.core.types import ModelKind, Price
from llm_gateway.routing import RoutingError, load, routing_table, shorthand
from llm_gateway.settings import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, Settings

SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
NEMO = "mistralai/Mistral-Nemo-Instruct-2407"


def table(**changes: Any) -> dict[str, Any]:
    """The README's example: vLLM, TEI, and Hugging Face as the fallback."""
    data: dict[str, Any] = {
        "upstreams": [
            {
                "name": "vllm",
                "kind": "openai",
                "urls": ["http://vllm-0:8000", "http://vllm-1:8000"],
            },
            {"name": "tei", "kind": "openai", "urls": ["http://tei:8080"]},
            {"name": "hf", "kind": "huggingface", "provider": "auto"},
        ],
        "models": [
            {"name": "mistral-small", "upstream": "vllm", "id": SMALL, "fallbacks": ["mistral-hf"]},
            {"name": "mistral-hf", "upstream": "hf", "id": DEFAULT_MODEL},
            {"name": "e5", "upstream": "tei", "id": DEFAULT_EMBEDDING_MODEL, "kind": "embedding"},
        ],
    }
    return {**data, **changes}


def written(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def refusal(tmp_path: Path, data: object) -> str:
    with pytest.raises(RoutingError) as refused:
        load(written(tmp_path, data))
    return str(refused.value)


def test_the_file_gives_each_model_its_upstream_id_kind_and_fallbacks(tmp_path: Path) -> None:
    data = table()
    data["models"][0]["price"] = {"prompt": 0.1, "completion": 0.3}
    data["models"][0]["max_tokens"] = 512

    routes = load(written(tmp_path, data)).routes()

    assert routes == [
        ModelRoute(
            "mistral-small",
            "vllm",
            SMALL,
            ModelKind.CHAT,
            ("mistral-hf",),
            price=Price(0.1, 0.3),
            max_tokens=512,
        ),
        ModelRoute("mistral-hf", "hf", DEFAULT_MODEL),
        ModelRoute("e5", "tei", DEFAULT_EMBEDDING_MODEL, ModelKind.EMBEDDING),
    ]


def test_each_upstream_gets_the_gateway_settings_with_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "sk-vllm")
    data = table()
    data["upstreams"][0] |= {"api_key_env": "VLLM_API_KEY", "max_connections": 64}
    data["upstreams"][1] |= {"health_path": "/v1/models", "simulator": True}
    gateway = Settings(upstream_timeout_seconds=7)

    upstreams = dict(load(written(tmp_path, data)).upstream_settings(gateway))

    vllm, tei, hf = upstreams["vllm"], upstreams["tei"], upstreams["hf"]
    assert vllm.describe_upstream() == (
        "endpoint at http://vllm-0:8000, http://vllm-1:8000 (openai kind)"
    )
    assert (vllm.upstream_api_key_env, vllm.upstream_max_connections) == ("VLLM_API_KEY", 64)
    assert (vllm.upstream_health_path, vllm.upstream_timeout_seconds) == ("/health", 7)
    assert tei.describe_upstream() == "simulator at http://tei:8080 (openai kind)"
    assert (tei.upstream_health_path, tei.upstream_api_key_env) == ("/v1/models", None)
    assert hf.describe_upstream() == "Hugging Face Inference Providers (provider=auto)"


def test_the_shorthand_settings_make_a_table_of_one_upstream() -> None:
    settings = Settings(
        upstream_url="http://tgi:8080",
        models={"mistral": DEFAULT_MODEL, "nemo": NEMO},
        embedding_models={"e5": DEFAULT_EMBEDDING_MODEL},
        fallback_models=["nemo"],
        prices={"nemo": Price(1, 2)},
        upstream_health_path="/v1/models",
    )

    shorthand = routing_table(settings)

    assert shorthand.routes() == [
        ModelRoute(
            DEFAULT_MODEL, "default", DEFAULT_MODEL, fallbacks=(NEMO,), aliases=("mistral",)
        ),
        ModelRoute(NEMO, "default", NEMO, aliases=("nemo",), price=Price(1, 2)),
        ModelRoute(
            DEFAULT_EMBEDDING_MODEL,
            "default",
            DEFAULT_EMBEDDING_MODEL,
            ModelKind.EMBEDDING,
            aliases=("e5",),
        ),
    ]
    [(name, upstream)] = shorthand.upstream_settings(settings)
    assert name == "default"
    assert upstream.describe_upstream() == "endpoint at http://tgi:8080 (openai kind)"
    assert upstream.upstream_health_path == "/v1/models"


@pytest.mark.parametrize(
    ("given", "upstream"),
    [
        ({"upstream_url": "http://vllm:8000"}, {"kind": "openai", "urls": ["http://vllm:8000"]}),
        (
            {"upstream_url": "http://tgi:8080", "upstream_api": "huggingface"},
            {"kind": "huggingface", "urls": ["http://tgi:8080"]},
        ),
        ({"provider": "together"}, {"kind": "huggingface", "urls": [], "provider": "together"}),
    ],
)
def test_the_shorthands_upstream_kind_follows_its_url_unless_given(
    given: dict[str, Any], upstream: dict[str, Any]
) -> None:
    settings = Settings(**given)

    [entry] = shorthand(settings)["upstreams"]

    assert entry == {"name": "default", "simulator": False, "api_key_env": None, **upstream}
    [(_, adapter_settings)] = routing_table(settings).upstream_settings(settings)
    assert adapter_settings.upstream_api == upstream["kind"]


def test_a_shorthand_fallback_list_is_a_chain() -> None:
    settings = Settings(models={"a": "org/a", "b": "org/b"}, fallback_models=["a", "b"])

    fallbacks = {route.name: route.fallbacks for route in routing_table(settings).routes()}

    assert fallbacks[DEFAULT_MODEL] == ("org/a", "org/b")
    assert fallbacks["org/a"] == ("org/b",)
    assert fallbacks["org/b"] == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["models"][1].update(upstream="tgi"),
            "model 'mistral-hf': upstream 'tgi' is not in upstreams",
        ),
        (
            lambda t: t["models"].append({"name": "e5", "upstream": "tei", "kind": "embedding"}),
            "model name or alias 'e5' is given twice",
        ),
        (
            lambda t: t["upstreams"].append({"name": "tei", "kind": "huggingface"}),
            "upstream 'tei' is given twice",
        ),
        (
            lambda t: t["models"][0].update(fallbacks=["mistral-large"]),
            "model 'mistral-small': fallback 'mistral-large' is not a model of the table",
        ),
        (
            lambda t: t["models"][0].update(fallbacks=["e5"]),
            "model 'mistral-small': fallback 'e5' is of kind embedding, not chat",
        ),
        (
            lambda t: t["models"][1].update(fallbacks=["mistral-small"]),
            "its fallbacks form a cycle (mistral-small -> mistral-hf -> mistral-small)",
        ),
        (
            lambda t: t["models"][2].update(temperature=0.2),
            "models[2] 'e5'.temperature: Extra inputs are not permitted",
        ),
        (
            lambda t: t["upstreams"][0].update(api_key="sk-inline-secret"),
            "upstreams[0] 'vllm': api_key: a secret is not written in the routing table",
        ),
        (
            lambda t: t["upstreams"][1].update(urls=["http://user:sk-inline-secret@tei:8080"]),
            "upstreams[1] 'tei'.urls: a URL carries credentials",
        ),
        (
            lambda t: t["upstreams"][0].update(api_key_env="LLM_ROUTING_TEST_UNSET"),
            "upstreams[0] 'vllm': api_key_env names LLM_ROUTING_TEST_UNSET, which is not set",
        ),
        (
            lambda t: t["upstreams"][1].update(urls=[]),
            "upstreams[1] 'tei': an openai upstream needs urls",
        ),
        (
            lambda t: t["upstreams"][0].update(kind="vllm"),
            "upstreams[0] 'vllm'.kind: Input should be 'openai' or 'huggingface'",
        ),
        (
            lambda t: t["models"][0].update(context_window_fallbacks=["e5"]),
            "model 'mistral-small': context_window_fallbacks 'e5' is of kind embedding",
        ),
        (
            lambda t: t["models"][0].update(content_policy_fallbacks=["mistral-small"]),
            "model 'mistral-small': content_policy_fallbacks names the model itself",
        ),
        (
            lambda t: t["models"][0].update(prefill="assistant"),
            "models[0] 'mistral-small'.prefill: Input should be 'none', 'continue_final_message'",
        ),
        (
            lambda t: t.update(resilience={"stall_timeout_seconds": 0}),
            "resilience.stall_timeout_seconds: Input should be greater than 0",
        ),
        (
            lambda t: t["models"][1].update(resilience={"retry_statuses": [200]}),
            "models[1] 'mistral-hf'.resilience.retry_statuses: retry_statuses are HTTP error",
        ),
        (lambda t: t.update(routes=[]), "routes: Extra inputs are not permitted"),
        (lambda t: t.update(models=[]), "models: List should have at least 1 item"),
    ],
)
def test_a_bad_table_is_refused_with_a_message_naming_the_entry(
    tmp_path: Path, change: Any, message: str
) -> None:
    data = table()
    change(data)

    refused = refusal(tmp_path, data)

    assert message in refused
    assert refused.startswith(f"routing table {tmp_path / 'routing.yaml'}: ")
    assert "sk-inline-secret" not in refused


def test_a_file_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    assert "expected a mapping of upstreams and models" in refusal(tmp_path, ["vllm"])
    assert "cannot be read" in str(pytest.raises(RoutingError, load, tmp_path / "missing").value)


def test_a_table_and_the_shorthand_model_settings_together_are_refused(tmp_path: Path) -> None:
    settings = Settings(config=written(tmp_path, table()), models={"nemo": NEMO})

    with pytest.raises(RoutingError, match="LLM_GATEWAY_MODELS would be ignored beside it"):
        routing_table(settings)


def test_a_table_is_refused_beside_a_kind_given_but_not_beside_the_default_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = written(tmp_path, table())

    served = routing_table(Settings(config=path))

    assert [upstream.name for upstream in served.upstreams] == ["vllm", "tei", "hf"]
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_KIND", "huggingface")
    with pytest.raises(RoutingError, match="LLM_GATEWAY_UPSTREAM_KIND would be ignored beside"):
        routing_table(Settings(config=path))


def test_a_models_policy_is_its_own_over_the_tables_over_the_defaults(tmp_path: Path) -> None:
    data = table(resilience={"stall_timeout_seconds": 2, "attempts": 2})
    data["models"][0].update(
        resilience={"attempts": 4, "retry_statuses": [503]},
        prefill="continue_final_message",
        context_window_fallbacks=["mistral-hf"],
    )

    small, hf, _ = load(written(tmp_path, data)).routes()

    assert (small.policy.attempts, small.policy.stall_timeout_seconds) == (4, 2)
    assert small.policy.retry_statuses == frozenset({503})
    assert small.policy.first_token_timeout_seconds == Policy().first_token_timeout_seconds
    assert (hf.policy.attempts, hf.policy.retry_statuses) == (2, Policy().retry_statuses)
    assert small.prefill is Prefill.CONTINUE_FINAL_MESSAGE
    assert hf.prefill is Prefill.NONE
    assert small.class_fallbacks == {ErrorClass.CONTEXT_WINDOW: ("mistral-hf",)}


def test_the_shorthand_resilience_setting_is_the_tables() -> None:
    settings = Settings(resilience={"circuit_failures": 9}, fallback_models=[])

    routes = routing_table(settings).routes()

    assert {route.policy.circuit_failures for route in routes} == {9}
