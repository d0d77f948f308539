"""Hostile input: schemathesis fuzzes every operation of the gateway's own OpenAPI schema.

No input may produce a 5xx, and every response must match the schema it documents.
Bounded: a fixed number of examples per operation, no deadline per example. (Driven
through hypothesis directly: schemathesis' pytest plugin does not support pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from llm_gateway.protocol.embeddings import MAX_DIMENSIONS
from llm_gateway.settings import Settings
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import Gateway, start_gateway
from tests.servers import run_server

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """A gateway whose upstream accepts all the gateway does and injects no fault (the fault
    headers are not forwarded): any 5xx or refused valid request is the gateway's own."""
    upstream = SimulatorSettings(
        time_to_first_token_seconds=0.0,
        time_per_token_seconds=0.0,
        # The gateway caps no max_tokens: nor does this upstream (within JSON).
        max_tokens_limit=2**53 - 1,
        embedding_dimensions=MAX_DIMENSIONS,
    )
    with run_server(create_simulator_app(upstream)) as url:
        # A long timeout: a 504 here would be the simulator's slowness, not the gateway's.
        # No prompt-length policy below the body limit: the schemas cannot say that the
        # texts of all messages together stay under it, and a drawn request over it would be
        # refused (400 prompt_too_long) though valid; test_bad_input tests that refusal.
        yield from start_gateway(
            url,
            upstream_is_simulator=False,
            upstream_timeout_seconds=30,
            max_prompt_chars=Settings().max_body_bytes,
        )


def operations(gateway: Gateway) -> dict[str, schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
    # A valid chat request may ask for what no Hugging Face upstream serves (an audio
    # part, a custom tool): a documented 400 unsupported_feature, never a 422. Which
    # codes are refused is pinned by test_openai_requests.py.
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "400"]
    return {op.ok().label: op.ok() for op in schema.get_all_operations()}


@pytest.mark.parametrize(
    "label",
    [
        "POST /generate",
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/embeddings",
        "POST /v1/messages",
        "POST /v1/messages/count_tokens",
        "POST /v1/responses",
        "GET /v1/models",
        "GET /v1/models/{model}",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ],
)
def test_no_input_makes_the_gateway_fail_or_break_its_schema(gateway: Gateway, label: str) -> None:
    operation = operations(gateway)[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()


def test_every_operation_is_fuzzed(gateway: Gateway) -> None:
    fuzzed = test_no_input_makes_the_gateway_fail_or_break_its_schema.pytestmark[0].args[1]  # type: ignore[attr-defined]

    assert sorted(operations(gateway)) == sorted(fuzzed)
