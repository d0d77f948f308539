"""Chat requests drawn from OpenAI's published request schema: served, or refused as documented.

The schema is ``tests/openai_schemas/requests.py`` (written from OpenAI's, with its
sources and the reasons it differs). Schemathesis draws request bodies from it, as it
does from the gateway's own schema in ``test_fuzz.py``; each is sent to the gateway in
front of the simulator. None may get a 422: a request the schema allows is answered, or
refused with a 400 whose code is one of the documented refusals. Bounded: a fixed
number of examples, no deadline per example.
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

from tests.helpers import MODEL, Gateway
from tests.openai_schemas.requests import CHAT_REQUEST

EXAMPLES = 150
# The gateway's own refusal of what no Hugging Face upstream serves, and the upstream's
# of what only it can judge (a tool choice naming no tool, a schema it cannot compile).
REFUSALS = {"unsupported_feature", "upstream_rejected"}


def chat_operation() -> schemathesis.APIOperation:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "OpenAI's chat request", "version": "1"},
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": CHAT_REQUEST}},
                    },
                    "responses": {"200": {"description": "A chat completion."}},
                }
            }
        },
    }
    operation: schemathesis.APIOperation = next(
        iter(schemathesis.openapi.from_dict(document).get_all_operations())
    ).ok()
    return operation


def served(gateway: Gateway) -> float:
    return gateway.sample(
        "llm_gateway_requests_total",
        model=MODEL,
        api="chat_completions",
        stream="false",
        outcome="success",
    )


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def test_every_chat_request_the_published_schema_allows_is_served_or_refused_as_documented(
    gateway: Gateway, client: httpx.Client
) -> None:
    served_before = served(gateway)
    outcomes: Counter[str] = Counter()

    @given(case=chat_operation().as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        response = client.post("/v1/chat/completions", json=case.body)
        sent = json.dumps(case.body)
        if response.status_code == 200:
            outcomes["served"] += 1
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
    # Most draws are served; audio, files, custom tools and the like are refused.
    assert outcomes["served"] >= sum(outcomes.values()) / 3, outcomes
    assert served(gateway) - served_before == outcomes["served"]
