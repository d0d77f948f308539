"""A gateway with a routing table: each model on its own upstream, fallbacks across them.

Three simulators stand for three deployments (two chat servers and an embedding server);
a fourth upstream has nothing listening, and a fifth, of the other kind, shares a URL with
the second. Which upstream answered shows in the pool's
``llm_gateway_upstream_endpoint_requests_total``, by ``upstream`` (its name in the table)
and ``upstream_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway import __version__
from llm_gateway.app import create_app
from llm_gateway.ports import free_port
from llm_gateway.settings import Settings
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import EMBEDDING_MODEL, MODEL, NEMO, Gateway
from tests.servers import run_server

SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
HELLO = [{"role": "user", "content": "Hello"}]
# USD per million tokens: large, so one request's cost is far from rounding.
PRICE = {"prompt": 1000.0, "completion": 2000.0}


@dataclass
class Upstreams:
    vllm: str
    vllm_b: str
    tei: str
    down: str


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    settings = SimulatorSettings(time_to_first_token_seconds=0.0, time_per_token_seconds=0.0)
    with (
        run_server(create_simulator_app(settings)) as vllm,
        run_server(create_simulator_app(settings)) as vllm_b,
        run_server(create_simulator_app(settings)) as tei,
    ):
        yield Upstreams(vllm, vllm_b, tei, f"http://127.0.0.1:{free_port()}")


def routing_file(directory: Path, upstreams: Upstreams) -> Path:
    table = {
        "upstreams": [
            # The simulator: the X-Simulator-* headers a client sends are forwarded to it.
            {"name": "vllm", "kind": "openai", "urls": [upstreams.vllm], "simulator": True},
            {"name": "vllm-b", "kind": "openai", "urls": [upstreams.vllm_b]},
            {"name": "tei", "kind": "openai", "urls": [upstreams.tei], "health_path": "/info"},
            {"name": "down", "kind": "openai", "urls": [upstreams.down]},
            {"name": "hf", "kind": "huggingface", "urls": [upstreams.vllm_b]},
        ],
        "models": [
            {
                "name": "mistral-small",
                "upstream": "vllm",
                "id": SMALL,
                "fallbacks": ["nemo"],
                "price": PRICE,
            },
            {"name": "nemo", "upstream": "vllm-b", "id": NEMO},
            {"name": "lost", "upstream": "down", "id": MODEL, "fallbacks": ["mistral-hf"]},
            {"name": "mistral-hf", "upstream": "hf", "id": MODEL},
            {"name": "short", "upstream": "vllm-b", "id": NEMO, "max_tokens": 3},
            {"name": "e5", "upstream": "tei", "id": EMBEDDING_MODEL, "kind": "embedding"},
        ],
    }
    path = directory / "routing.yaml"
    path.write_text(yaml.safe_dump(table))
    return path


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    settings = Settings(
        config=routing_file(tmp_path_factory.mktemp("routing"), upstreams),
        upstream_timeout_seconds=5.0,
        retry_attempts=1,
    )
    registry = CollectorRegistry()
    with run_server(create_app(settings, registry=registry)) as url:
        yield Gateway(url=url, registry=registry, settings=settings)


def chat(gateway: Gateway, model: str, **options: object) -> httpx.Response:
    headers = options.pop("headers", {})
    body = {"model": model, "messages": HELLO, "max_tokens": 8, **options}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=body,
        headers=headers,  # type: ignore[arg-type]
        timeout=10,
    )


def sent_to(gateway: Gateway, upstream: str, url: str, outcome: str = "success") -> float:
    return gateway.sample(
        "llm_gateway_upstream_endpoint_requests_total",
        upstream=upstream,
        upstream_url=url,
        outcome=outcome,
    )


def answered(gateway: Gateway, model: str, api: str = "chat_completions") -> float:
    return gateway.sample(
        "llm_gateway_requests_total", model=model, api=api, stream="false", outcome="success"
    )


def test_each_chat_model_is_sent_to_its_own_upstream_with_its_id(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    before = (
        sent_to(gateway, "vllm", upstreams.vllm),
        sent_to(gateway, "vllm-b", upstreams.vllm_b),
    )
    small_before, nemo_before = answered(gateway, "mistral-small"), answered(gateway, "nemo")

    small, nemo = chat(gateway, "mistral-small"), chat(gateway, "nemo")

    assert (small.status_code, nemo.status_code) == (200, 200)
    assert (small.json()["model"], nemo.json()["model"]) == (SMALL, NEMO)
    assert (
        sent_to(gateway, "vllm", upstreams.vllm),
        sent_to(gateway, "vllm-b", upstreams.vllm_b),
    ) == (
        before[0] + 1,
        before[1] + 1,
    )
    # The model label is the name clients use, not the id sent upstream.
    assert answered(gateway, "mistral-small") == small_before + 1
    assert answered(gateway, "nemo") == nemo_before + 1


def test_the_pool_series_name_each_upstream_even_where_two_share_a_url(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    before = {name: sent_to(gateway, name, upstreams.vllm_b) for name in ("vllm-b", "hf")}

    nemo, hf = chat(gateway, "nemo"), chat(gateway, "mistral-hf")
    exposition = httpx.get(f"{gateway.url}/metrics", timeout=10)

    assert (nemo.status_code, hf.status_code, exposition.status_code) == (200, 200, 200)
    assert (nemo.json()["model"], hf.json()["model"]) == (NEMO, MODEL)
    addresses = {
        (sample.labels["upstream"], sample.labels["upstream_url"]): sample.value
        for family in text_string_to_metric_families(exposition.text)
        for sample in family.samples
        if sample.name == "llm_gateway_upstream_endpoint_addresses"
    }
    assert addresses == {
        ("vllm", upstreams.vllm): 1,
        ("vllm-b", upstreams.vllm_b): 1,
        ("tei", upstreams.tei): 1,
        ("down", upstreams.down): 1,
        ("hf", upstreams.vllm_b): 1,
    }
    # One URL, two pools: each request is counted under the upstream that sent it.
    assert sent_to(gateway, "vllm-b", upstreams.vllm_b) == before["vllm-b"] + 1
    assert sent_to(gateway, "hf", upstreams.vllm_b) == before["hf"] + 1


def test_the_embedding_model_is_sent_to_its_upstream(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    before = sent_to(gateway, "tei", upstreams.tei)

    response = httpx.post(
        f"{gateway.url}/v1/embeddings", json={"model": "e5", "input": ["bonjour"]}, timeout=10
    )
    default = httpx.post(f"{gateway.url}/v1/embeddings", json={"input": "salut"}, timeout=10)

    assert (response.status_code, default.status_code) == (200, 200)
    assert response.json()["model"] == default.json()["model"] == EMBEDDING_MODEL
    assert sent_to(gateway, "tei", upstreams.tei) == before + 2
    assert answered(gateway, "e5", api="embeddings") >= 2


def test_a_chat_model_asked_for_embeddings_is_a_400(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/embeddings", json={"model": "nemo", "input": "x"}, timeout=10
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_model_kind"


def test_a_model_whose_upstream_is_down_falls_back_to_another_upstream_of_another_kind(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    fallbacks = gateway.sample("llm_gateway_fallbacks_total", model="mistral-hf", reason="error")
    refused = sent_to(gateway, "down", upstreams.down, outcome="connection")
    hf = sent_to(gateway, "hf", upstreams.vllm_b)

    response = chat(gateway, "lost")

    assert response.status_code == 200
    assert response.json()["model"] == MODEL
    assert sent_to(gateway, "down", upstreams.down, outcome="connection") == refused + 1
    assert sent_to(gateway, "hf", upstreams.vllm_b) == hf + 1
    assert (
        gateway.sample("llm_gateway_fallbacks_total", model="mistral-hf", reason="error")
        == fallbacks + 1
    )
    assert answered(gateway, "mistral-hf") >= 1


def test_a_failing_upstream_falls_back_to_the_model_on_another(
    gateway: Gateway, upstreams: Upstreams
) -> None:
    failed = sent_to(gateway, "vllm", upstreams.vllm, outcome="server_error")
    errors = gateway.sample(
        "llm_gateway_upstream_errors_total",
        model="mistral-small",
        reason="server_error",
        status_code="503",
    )
    fallbacks = gateway.sample("llm_gateway_fallbacks_total", model="nemo", reason="error")

    # Forwarded to the simulator upstream only: the fallback's upstream answers.
    response = chat(gateway, "mistral-small", headers={"X-Simulator-Fault": "unavailable"})

    assert response.status_code == 200
    assert response.json()["model"] == NEMO
    assert sent_to(gateway, "vllm", upstreams.vllm, outcome="server_error") == failed + 1
    assert (
        gateway.sample("llm_gateway_fallbacks_total", model="nemo", reason="error") == fallbacks + 1
    )
    assert (
        gateway.sample(
            "llm_gateway_upstream_errors_total",
            model="mistral-small",
            reason="server_error",
            status_code="503",
        )
        == errors + 1
    )


def test_each_model_is_priced_by_its_own_entry(gateway: Gateway) -> None:
    labels = {"client": "anonymous", "model": "mistral-small"}
    cost = gateway.sample("llm_gateway_cost_usd_total", **labels)
    unpriced = gateway.sample("llm_gateway_cost_usd_total", client="anonymous", model="nemo")

    response = chat(gateway, "mistral-small")
    chat(gateway, "nemo")

    usage = response.json()["usage"]
    expected = (usage["prompt_tokens"] * 1000 + usage["completion_tokens"] * 2000) / 1e6
    assert response.status_code == 200
    assert gateway.sample("llm_gateway_cost_usd_total", **labels) == pytest.approx(cost + expected)
    assert gateway.sample("llm_gateway_cost_usd_total", client="anonymous", model="nemo") == (
        unpriced
    )


def test_a_model_cap_bounds_the_tokens_asked_of_its_upstream(gateway: Gateway) -> None:
    capped, uncapped = chat(gateway, "short", max_tokens=50), chat(gateway, "nemo", max_tokens=50)

    assert (capped.status_code, uncapped.status_code) == (200, 200)
    assert capped.json()["usage"]["completion_tokens"] == 3
    assert capped.json()["choices"][0]["finish_reason"] == "length"
    assert uncapped.json()["usage"]["completion_tokens"] > 3
    assert gateway.sample(
        "llm_gateway_completion_tokens_total", model="short", api="chat_completions"
    ) == pytest.approx(3 * answered(gateway, "short"))


def test_models_lists_the_table_with_each_kind_and_every_upstream(gateway: Gateway) -> None:
    body = httpx.get(f"{gateway.url}/v1/models").json()

    assert {card["id"]: (card["root"], card["kind"]) for card in body["data"]} == {
        "mistral-small": (SMALL, "chat"),
        "nemo": (NEMO, "chat"),
        "lost": (MODEL, "chat"),
        "mistral-hf": (MODEL, "chat"),
        "short": (NEMO, "chat"),
        "e5": (EMBEDDING_MODEL, "embedding"),
    }
    for name in ("vllm: simulator at", "vllm-b: endpoint at", "hf: endpoint at", "down:"):
        assert name in body["upstream"]


def test_the_default_chat_model_is_the_first_of_the_table(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json={"messages": HELLO, "max_tokens": 4}, timeout=10
    )

    assert response.status_code == 200
    assert response.json()["model"] == SMALL
    info = {"version": __version__, "default_model": "mistral-small"}
    assert gateway.sample("llm_gateway_build_info", **info, upstream_kind="endpoint,simulator") == 1
