"""``HF_TOKEN=hf_... llm-gateway serve``, proven offline: the real client, the real requests.

The simulator's Inference Providers app (``llm_gateway.simulator.providers``) serves the
router and the Hub over TLS, with a test CA, under their real host names; the gateway's
transport resolves every host name to it. What each request looked like is recorded on the
way in.

huggingface_hub caches the Hub's answers per model for the whole process: every test that
expects a Hub lookup uses a model no other test uses.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import trustme
from huggingface_hub import constants, get_session
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.app import create_app
from llm_gateway.settings import Settings
from llm_gateway.simulator.providers import HUB_HOST, ROUTER_HOST, provider_model_id
from llm_gateway.simulator.providers import create_app as create_providers_app
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.upstream import hub
from llm_gateway.upstream.client import HuggingFaceUpstream
from tests.helpers import MODEL, NEMO, Gateway, sse_payloads, wait_for
from tests.openai_schemas import conforming
from tests.servers import Loopback, run_server, silent_listener

TOKEN = "hf_gateway_router_token"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
SMALL = "mistralai/Mistral-Small-24B-Instruct-2501"
MINISTRAL = "mistralai/Ministral-8B-Instruct-2410"
CODESTRAL = "mistralai/Codestral-22B-v0.1"
MODELS = [MODEL, NEMO, MIXTRAL, SMALL, MINISTRAL, CODESTRAL]
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


@dataclass
class Seen:
    host: str
    method: str
    path: str
    query: str
    authorization: str | None
    body: bytearray = field(default_factory=bytearray)

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.body))


class Recorded:
    """Records each request; holds the Hub's while ``hub_open`` is clear; turns a request id
    ``fault-<name>`` into the simulator's fault header (the gateway forwards request ids)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self.hub_open = threading.Event()
        self.hub_open.set()

    def to(self, host: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.host == host]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        seen = Seen(
            host=headers.get("host", ""),
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            authorization=headers.get("authorization"),
        )
        self.seen.append(seen)
        request_id = headers.get("x-request-id", "")
        if request_id.startswith("fault-"):
            fault = request_id.removeprefix("fault-").encode()
            scope = {**scope, "headers": [*scope["headers"], (b"x-simulator-fault", fault)]}
        if seen.host == HUB_HOST:
            await asyncio.to_thread(self.hub_open.wait, 30)

        async def recording() -> Message:
            message = await receive()
            seen.body += message.get("body", b"")
            return message

        await self.app(scope, recording, send)


@dataclass
class Providers:
    recorded: Recorded
    port: int
    trust: ssl.SSLContext


@pytest.fixture(scope="module")
def providers() -> Iterator[Providers]:
    ca = trustme.CA()
    certificate = ca.issue_cert(ROUTER_HOST, HUB_HOST)
    settings = SimulatorSettings(
        models=MODELS, time_to_first_token_seconds=0.0, time_per_token_seconds=0.0, seed=7
    )
    recorded = Recorded(create_providers_app(settings, tokens=frozenset({TOKEN})))
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    with certificate.private_key_and_cert_chain_pem.tempfile() as pem:
        with run_server(recorded, tls=(pem, pem)) as url:
            port = urlparse(url).port
            assert port is not None
            yield Providers(recorded, port, trust)


@dataclass
class RoutedGateway(Gateway):
    resolver: Loopback = field(default_factory=lambda: Loopback(0))


@contextmanager
def routed_gateway(
    providers: Providers, provider: str, model: str, token: str | None = TOKEN
) -> Iterator[RoutedGateway]:
    """A gateway with no upstream URL (Inference Providers), its network aimed at ``providers``."""
    settings = Settings(
        provider=provider,
        hf_token=token,
        default_model=model,
        upstream_timeout_seconds=5.0,
        retry_attempts=1,
    )
    resolver = Loopback(providers.port)
    upstream = HuggingFaceUpstream(settings, resolver=resolver, ssl_context=providers.trust)
    registry = CollectorRegistry()
    with run_server(conforming(create_app(settings, registry, upstream=upstream))) as url:
        yield RoutedGateway(url=url, registry=registry, settings=settings, resolver=resolver)


def chat(gateway: Gateway, **extra: object) -> httpx.Response:
    body = {**CHAT, **extra}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30)


def test_provider_auto_sends_the_chat_to_the_router_with_the_configured_token(
    providers: Providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    with silent_listener() as (hub_url, hub_connections):
        # Whatever else huggingface_hub might fetch from the Hub, by any path, would land here.
        monkeypatch.setattr(constants, "ENDPOINT", hub_url)
        with routed_gateway(providers, "auto", MODEL) as gateway:
            before = len(providers.recorded.seen)
            answer = chat(gateway)
            streamed = chat(gateway, stream=True)
        assert hub_connections == []

    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"]
    assert answer.json()["usage"]["completion_tokens"] == 4
    assert streamed.status_code == 200
    assert sse_payloads(streamed.text)[-1] == "[DONE]"
    seen = providers.recorded.seen[before:]
    assert [(s.host, s.method, s.path) for s in seen] == [
        (ROUTER_HOST, "POST", "/v1/chat/completions")
    ] * 2
    assert {s.authorization for s in seen} == {f"Bearer {TOKEN}"}
    payload = seen[0].json()
    assert payload["model"] == MODEL
    assert payload["messages"] == CHAT["messages"]
    assert payload["max_tokens"] == 4
    assert seen[1].json()["stream"] is True
    # Provider auto: the router picks the provider; nothing is asked of the Hub.
    assert set(gateway.resolver.hosts) == {ROUTER_HOST}


@pytest.mark.parametrize(("provider", "model"), [("together", NEMO), ("featherless-ai", SMALL)])
def test_a_named_provider_is_looked_up_on_the_hub_once_then_called_through_the_router(
    providers: Providers, provider: str, model: str
) -> None:
    with routed_gateway(providers, provider, model) as gateway:
        before = len(providers.recorded.seen)
        assert chat(gateway).status_code == 200
        assert chat(gateway, stream=True).status_code == 200

    seen = providers.recorded.seen[before:]
    lookup, *calls = seen
    assert (lookup.host, lookup.method, lookup.path) == (HUB_HOST, "GET", f"/api/models/{model}")
    assert lookup.query == "expand=inferenceProviderMapping"
    # huggingface_hub asks the Hub with no token once its implicit token is off.
    assert lookup.authorization is None
    assert [(s.host, s.path) for s in calls] == [
        (ROUTER_HOST, f"/{provider}/v1/chat/completions")
    ] * 2
    assert {s.authorization for s in calls} == {f"Bearer {TOKEN}"}
    assert {s.json()["model"] for s in calls} == {provider_model_id(model)}
    assert set(gateway.resolver.hosts) == {HUB_HOST, ROUTER_HOST}


def test_hf_inference_checks_the_model_on_the_hub_then_calls_its_route(
    providers: Providers,
) -> None:
    with routed_gateway(providers, "hf-inference", MINISTRAL) as gateway:
        before = len(providers.recorded.seen)
        assert chat(gateway).status_code == 200

    lookup, call = providers.recorded.seen[before:]
    assert (lookup.host, lookup.path, lookup.query) == (HUB_HOST, f"/api/models/{MINISTRAL}", "")
    assert (call.host, call.path) == (
        ROUTER_HOST,
        f"/hf-inference/models/{MINISTRAL}/v1/chat/completions",
    )
    assert call.authorization == f"Bearer {TOKEN}"


# fault asked of the router → (gateway status, error code, metric reason, upstream status)
FAULTS = {
    "rate_limit": (429, "upstream_rate_limited", "rate_limited", "429"),
    "server_error": (502, "upstream_server_error", "server_error", "500"),
    "unavailable": (502, "upstream_server_error", "server_error", "503"),
}


@pytest.fixture(scope="module")
def auto_gateway(providers: Providers) -> Iterator[RoutedGateway]:
    with routed_gateway(providers, "auto", MODEL) as gateway:
        yield gateway


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", FAULTS)
def test_router_errors_map_as_any_upstream_errors(
    auto_gateway: RoutedGateway, fault: str, stream: bool
) -> None:
    status, code, reason, upstream_status = FAULTS[fault]
    labels = {"model": MODEL, "reason": reason, "status_code": upstream_status}
    before = auto_gateway.sample("llm_gateway_upstream_errors_total", **labels)

    response = httpx.post(
        f"{auto_gateway.url}/v1/chat/completions",
        json={**CHAT, "stream": stream},
        headers={"X-Request-Id": f"fault-{fault}"},
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if fault == "rate_limit":
        assert response.headers["retry-after"] == "1"
    assert auto_gateway.sample("llm_gateway_upstream_errors_total", **labels) == before + 1


def test_a_token_the_router_refuses_is_a_502_that_names_the_token(
    providers: Providers,
) -> None:
    with routed_gateway(providers, "auto", MODEL, token="hf_revoked") as gateway:
        response = chat(gateway)
        labels = {"model": MODEL, "reason": "client_error", "status_code": "401"}
        refused = gateway.sample("llm_gateway_upstream_errors_total", **labels)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_refused"
    assert "token" in error["message"]
    assert "hf_revoked" not in response.text
    assert refused == 1


def test_a_model_the_hub_does_not_know_is_a_502_and_is_asked_again_next_time(
    providers: Providers,
) -> None:
    unknown = "mistralai/not-on-the-hub"
    with routed_gateway(providers, "together", unknown) as gateway:
        before = len(providers.recorded.to(HUB_HOST))
        first, second = chat(gateway), chat(gateway)

    assert first.status_code == second.status_code == 502
    assert first.json()["error"]["code"] == "upstream_refused"
    assert len(providers.recorded.to(HUB_HOST)) == before + 2
    assert not [s for s in providers.recorded.to(ROUTER_HOST) if unknown in s.path]


def test_no_token_at_all_is_a_502_saying_so(
    providers: Providers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with routed_gateway(providers, "auto", MODEL, token=None) as gateway:
        before = len(providers.recorded.seen)
        response = chat(gateway)
        labels = {"model": MODEL, "reason": "client_error", "status_code": ""}
        counted = gateway.sample("llm_gateway_upstream_errors_total", **labels)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_refused"
    assert "api_key" in error["message"]
    assert len(providers.recorded.seen) == before
    assert counted == 1


def test_a_hub_that_does_not_answer_in_time_is_a_504(
    providers: Providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "HUB_TIMEOUT_SECONDS", 0.2)
    providers.recorded.hub_open.clear()
    try:
        with routed_gateway(providers, "together", CODESTRAL) as gateway:
            response = chat(gateway)
    finally:
        providers.recorded.hub_open.set()

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


async def test_healthz_answers_while_the_hub_is_slow_to_map_a_model(
    providers: Providers,
) -> None:
    recorded = providers.recorded
    with routed_gateway(providers, "together", MIXTRAL) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            before = len(recorded.to(HUB_HOST))
            recorded.hub_open.clear()
            try:
                completion = asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
                await asyncio.to_thread(wait_for, lambda: len(recorded.to(HUB_HOST)) > before)
                # The Hub holds its answer until this test lets it go: a gateway whose event
                # loop waited on the Hub could not answer /healthz meanwhile.
                health = await client.get("/healthz", timeout=5)
                assert health.status_code == 200
                assert not completion.done()
            finally:
                recorded.hub_open.set()
            assert (await completion).status_code == 200


def test_without_huggingface_hubs_preparation_step_routing_is_left_to_the_library(
    providers: Providers, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A huggingface_hub whose private inference._providers no longer has get_provider_helper.
    monkeypatch.setattr(hub, "providers", object())
    with routed_gateway(providers, "auto", MODEL) as gateway:
        response = chat(gateway)

    assert response.status_code == 200
    assert "provider routing is resolved on the event loop" in caplog.text


def test_other_synchronous_huggingface_hub_calls_go_out_as_without_the_gateway(
    providers: Providers, simulator_url: str
) -> None:
    with routed_gateway(providers, "auto", MODEL):
        # Not a gateway lookup: straight to the simulator, not through the gateway's resolver.
        response = get_session().get(f"{simulator_url}/health")

    assert response.status_code == 200
