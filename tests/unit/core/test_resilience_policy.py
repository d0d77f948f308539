"""A model's resilience policy, its circuit and the request that continues a broken stream."""

from __future__ import annotations

import random

import pytest

from llm_gateway.core.circuit import Circuit, State
from llm_gateway.core.continuation import Prefill, prefilled
from llm_gateway.core.retry import ErrorClass, Next, Policy, error_class
from llm_gateway.core.types import CompletionTask, Endpoint, Origin
from llm_gateway.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)


def server_error(status: int) -> UpstreamServerError:
    return UpstreamServerError("failed", code="upstream_server_error", upstream_status=status)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (server_error(500), Next.RETRY),
        (server_error(503), Next.RETRY),
        (server_error(501), Next.FAIL_OVER),
        (UpstreamRateLimited("slow down", retry_after=None), Next.RETRY),
        (UpstreamUnreachable("reset", code="upstream_unreachable"), Next.RETRY),
        (UpstreamBadResponse("garbled", code="upstream_bad_response"), Next.RETRY),
        (UpstreamTimeout("silent", code="upstream_header_timeout"), Next.FAIL_OVER),
        (UpstreamRefused("no", code="upstream_refused", upstream_status=404), Next.FAIL_OVER),
        (UpstreamRejected("too long", code="context_length_exceeded"), Next.STOP),
    ],
)
def test_the_default_policy_retries_transient_failures_and_fails_over_on_silence(
    error: UpstreamError, expected: Next
) -> None:
    assert Policy().decision(error) is expected


def test_a_policy_may_retry_a_silent_route_and_narrow_its_statuses() -> None:
    policy = Policy(retry_timeouts=True, retry_statuses=frozenset({503}))

    assert policy.decision(UpstreamTimeout("silent", code="upstream_timeout")) is Next.RETRY
    assert policy.decision(server_error(500)) is Next.FAIL_OVER


def test_backoff_has_a_minimum_first_gap_and_a_ceiling() -> None:
    policy = Policy(
        attempts=5,
        backoff_seconds=0.2,
        min_backoff_seconds=0.1,
        max_backoff_seconds=0.5,
        rng=random.Random(7),
    )
    error = server_error(502)

    firsts = [policy.delay(1, error) for _ in range(200)]
    later = [policy.delay(4, error) for _ in range(200)]

    assert all(d is not None and 0.1 <= d <= 0.2 for d in firsts)
    assert all(d is not None and 0.1 <= d <= 0.5 for d in later)
    assert policy.delay(5, error) is None  # the attempts are spent


def test_a_retry_after_is_waited_when_short_and_fails_over_when_long() -> None:
    policy = Policy(max_backoff_seconds=2.0)

    assert policy.delay(1, UpstreamRateLimited("wait", retry_after=1.0)) == 1.0
    assert policy.delay(1, UpstreamRateLimited("wait", retry_after=30.0)) is None


def test_error_classes_are_read_from_the_rejections_code() -> None:
    assert error_class(UpstreamRejected("x", code="context_length_exceeded")) is (
        ErrorClass.CONTEXT_WINDOW
    )
    assert error_class(UpstreamRejected("x", code="content_filter")) is ErrorClass.CONTENT_POLICY
    assert error_class(UpstreamRejected("x", code="invalid_value")) is None
    assert error_class(server_error(500)) is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_circuit_opens_after_failures_in_a_row_and_a_probe_closes_it() -> None:
    clock = Clock()
    circuit = Circuit(failures=3, cooldown_seconds=10.0, clock=clock)

    assert [circuit.failed() for _ in range(3)] == [False, False, True]
    assert circuit.state is State.OPEN
    assert not circuit.allows()

    clock.now += 10.0
    assert circuit.allows()  # the probe
    assert circuit.state is State.HALF_OPEN
    assert not circuit.allows()  # one probe at a time
    assert circuit.succeeded()
    assert circuit.state is State.CLOSED
    assert circuit.allows()


def test_a_failed_probe_opens_the_circuit_for_another_cool_down() -> None:
    clock = Clock()
    circuit = Circuit(failures=1, cooldown_seconds=5.0, clock=clock)
    circuit.failed()
    clock.now += 5.0
    assert circuit.allows()

    assert circuit.failed()

    assert circuit.state is State.OPEN
    assert not circuit.allows()
    clock.now += 5.0
    assert circuit.allows()


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    circuit = Circuit(failures=2, cooldown_seconds=5.0, clock=Clock())

    circuit.failed()
    assert not circuit.succeeded()  # it was closed
    circuit.failed()

    assert circuit.state is State.CLOSED


def test_a_probe_that_ends_neither_way_lets_the_next_request_probe() -> None:
    clock = Clock()
    circuit = Circuit(failures=1, cooldown_seconds=1.0, clock=clock)
    circuit.failed()
    clock.now += 1.0
    assert circuit.allows()

    circuit.released()

    assert circuit.allows()


CHAT = CompletionTask(
    origin=Origin("r-1"),
    endpoint=Endpoint.CHAT_COMPLETIONS,
    model="m",
    messages=[{"role": "user", "content": "Hello"}],
    max_tokens=60,
    extra={"top_k": 5},
)


def test_vllms_form_continues_the_final_assistant_message() -> None:
    task = prefilled(CHAT, Prefill.CONTINUE_FINAL_MESSAGE, "The gateway", 2)

    assert task is not None
    assert task.messages[-1] == {"role": "assistant", "content": "The gateway"}
    assert task.extra == {
        "top_k": 5,
        "continue_final_message": True,
        "add_generation_prompt": False,
    }
    assert task.max_tokens == 58
    assert CHAT.messages == [{"role": "user", "content": "Hello"}]  # left as it was


def test_mistrals_form_marks_the_final_message_a_prefix() -> None:
    task = prefilled(CHAT, Prefill.PREFIX, "The gateway", 2)

    assert task is not None
    assert task.messages[-1] == {"role": "assistant", "content": "The gateway", "prefix": True}
    assert task.extra == {"top_k": 5}


@pytest.mark.parametrize(
    ("form", "partial", "tokens", "prompt"),
    [
        (Prefill.NONE, "The", 1, None),
        (Prefill.PREFIX, "", 0, None),
        (Prefill.PREFIX, "The", 60, None),
        (Prefill.PREFIX, "The", 1, "legacy prompt"),
    ],
)
def test_nothing_is_continued_without_a_form_text_tokens_left_or_messages(
    form: Prefill, partial: str, tokens: int, prompt: str | None
) -> None:
    request = (
        CHAT
        if prompt is None
        else CompletionTask(
            origin=Origin("r-2"), endpoint=Endpoint.COMPLETIONS, model="m", prompt=prompt
        )
    )

    assert prefilled(request, form, partial, tokens) is None
