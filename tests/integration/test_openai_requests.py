"""Requests drawn from OpenAI's published request schemas: served, or refused as documented.

The schemas, of chat and of legacy completions, are ``tests/openai_schemas/requests.py``
(written from OpenAI's, with their sources and the reasons they differ). Schemathesis
draws request bodies from them, as it does from the gateway's own schema in
``test_fuzz.py``; each is sent to the gateway in front of the simulator. None may get a
422: a request the schema allows is answered, or refused with a 400 whose code is one of
the documented refusals. Bounded: a fixed number of examples, no deadline per example.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import MODEL, Gateway, start_gateway
from tests.openai_schemas.requests import (
    CHAT_REQUEST,
    COMPLETION_REQUEST,
    SERVED_COMPLETION_REQUEST,
)
from tests.openai_schemas.responses import Schema

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
# What is drawn: the door, its request schema, its `api` label, how many requests, and
# the least share of them served. Most chat requests are served (audio, files, custom
# tools and the like are refused); a legacy completion is refused for any of several
# fields (token ids, an empty prompt, `n`, `best_of`, `suffix`...), so most drawn from
# OpenAI's schema are refused; every one drawn from the part the gateway serves is served.
DRAWS: dict[str, tuple[str, Schema, str, int, float]] = {
    "chat": (CHAT, CHAT_REQUEST, "chat_completions", 150, 1 / 3),
    "legacy completions": (COMPLETIONS, COMPLETION_REQUEST, "completions", 100, 0),
    "legacy completions served": (COMPLETIONS, SERVED_COMPLETION_REQUEST, "completions", 50, 1),
}
# Far longer than the simulator takes to answer (milliseconds), even on a loaded machine.
SIMULATOR_ANSWER_SECONDS = 10.0
# The gateway's own refusal of what no Hugging Face upstream serves, and the upstream's
# of what only it can judge (a tool choice naming no tool, a schema it cannot compile).
REFUSALS = {"unsupported_feature", "upstream_rejected"}


def operation(path: str, schema: Schema) -> schemathesis.APIOperation:
    document = {
        "openapi": "3.1.0",
        "info": {"title": f"OpenAI's request to {path}", "version": "1"},
        "paths": {
            path: {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": schema}},
                    },
                    "responses": {"200": {"description": "A completion."}},
                }
            }
        },
    }
    operation: schemathesis.APIOperation = next(
        iter(schemathesis.openapi.from_dict(document).get_all_operations())
    ).ok()
    return operation


def served(gateway: Gateway, api: str) -> float:
    return gateway.sample(
        "llm_gateway_requests_total", model=MODEL, api=api, stream="false", outcome="success"
    )


@pytest.fixture(scope="module")
def gateway(simulator_url: str) -> Iterator[Gateway]:
    """The huggingface kind, whose every refusal is the gateway's own: the openai kind sends
    a field as it is, for its server to judge with its own code (the simulator, as vLLM,
    refuses a top_p of 0, which the huggingface kind sends as greedy decoding).

    Its upstream timeout is the simulator's whole answer, not the suite's half second
    (made for the hangs other tests ask for): no request here asks for one, and on a
    loaded 2-core CI machine one request once waited longer (a 504 that Hypothesis could
    not reproduce)."""
    yield from start_gateway(
        simulator_url, upstream_api="huggingface", upstream_timeout_seconds=SIMULATOR_ANSWER_SECONDS
    )


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("draw", DRAWS)
def test_every_request_the_published_schema_allows_is_served_or_refused_as_documented(
    gateway: Gateway, client: httpx.Client, draw: str
) -> None:
    path, schema, api, examples, least_served = DRAWS[draw]
    served_before = served(gateway, api)
    outcomes: Counter[str] = Counter()
    choices = 0

    @given(case=operation(path, schema).as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        nonlocal choices
        response = client.post(path, json=case.body)
        sent = json.dumps(case.body)
        if response.status_code == 200:
            outcomes["served"] += 1
            # A legacy completion is one core request per prompt.
            choices += len(response.json()["choices"]) if api == "completions" else 1
            return
        error = response.json()["error"]
        assert response.status_code == 400, f"{response.status_code} {error} for {sent}"
        assert error["code"] in REFUSALS, f"{error} for {sent}"
        assert error["message"]
        outcomes[error["code"]] += 1

    started = time.monotonic()
    check()
    elapsed = time.monotonic() - started

    print(f"{sum(outcomes.values())} requests in {elapsed:.1f} s: {dict(outcomes)}")  # noqa: T201
    assert outcomes["served"] >= sum(outcomes.values()) * least_served, outcomes
    assert served(gateway, api) - served_before == choices
