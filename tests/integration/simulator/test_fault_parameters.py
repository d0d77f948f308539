"""The fault header's parameters: which requests a fault strikes (``model=``, ``until=``,
``period=``, with ``X-Simulator-Fault-Times``), refusals of bad ones, and what
``GET /simulator/requests/{request_id}`` reports."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from llm_gateway.simulator.attempts import MAX_ATTEMPTS_PER_REQUEST
from tests.integration.simulator.sse import CHAT_STREAM, MESSAGES, MODEL, Seen

CHAT = "/v1/chat/completions"
CHAT_BODY = {**CHAT_STREAM, "stream": False}
FALLBACK = "mistralai/Mistral-Nemo-Instruct-2407"


async def ask(
    client: openai.AsyncOpenAI, model: str, headers: dict[str, str]
) -> openai.types.chat.ChatCompletion | Exception:
    try:
        return await client.chat.completions.create(
            model=model,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=5,
            extra_headers=headers,
        )
    except openai.APIError as exc:
        return exc


async def test_a_fault_for_one_model_spares_the_other_and_counts_only_its_own_attempts(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str
) -> None:
    headers = {
        "X-Simulator-Fault": f"server_error; model={MODEL}",
        "X-Simulator-Fault-Times": "1",
        "X-Request-Id": request_id,
    }

    answers = [await ask(openai_client, model, headers) for model in (FALLBACK, MODEL, MODEL)]

    assert not isinstance(answers[0], Exception) and answers[0].model == FALLBACK
    assert type(answers[1]) is openai.InternalServerError
    assert not isinstance(answers[2], Exception) and answers[2].model == MODEL
    assert [(a["model"], a["fault"]) for a in await seen(request_id)] == [
        (FALLBACK, "none"),
        (MODEL, "server_error"),
        (MODEL, "none"),
    ]


@pytest.mark.parametrize(("offset", "strikes"), [(60.0, True), (-1.0, False)])
async def test_until_strikes_only_before_its_time(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str, offset: float, strikes: bool
) -> None:
    headers = {"X-Simulator-Fault": f"unavailable; until={time.time() + offset}"}

    answer = await ask(openai_client, MODEL, {**headers, "X-Request-Id": request_id})

    assert isinstance(answer, openai.InternalServerError) is strikes
    assert [a["fault"] for a in await seen(request_id)] == ["unavailable" if strikes else "none"]


@pytest.mark.parametrize("strikes", [True, False], ids=["first_half", "second_half"])
async def test_period_strikes_in_the_first_half_of_each_period_only(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str, strikes: bool
) -> None:
    now = time.time()
    # Now is in the first half of a period ten times as long as it, or three quarters into
    # a period a third longer than it: and stays there for the test's few milliseconds.
    period = now * 10 if strikes else now / 0.75
    headers = {"X-Simulator-Fault": f"server_error; period={period}", "X-Request-Id": request_id}

    answer = await ask(openai_client, MODEL, headers)

    assert isinstance(answer, openai.InternalServerError) is strikes
    assert [a["fault"] for a in await seen(request_id)] == ["server_error" if strikes else "none"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("drop; after=soon", "after=soon is not a whole number of token frames."),
        ("drop; seconds=1", "drop takes no 'seconds'; it takes: model, until, period, after."),
        ("rate_limit; retry_after", "'retry_after' is not key=value."),
    ],
)
async def test_bad_parameters_are_a_400_naming_the_header_in_each_dialect(
    http: httpx.AsyncClient, seen: Seen, request_id: str, value: str, problem: str
) -> None:
    headers = {"X-Simulator-Fault": value, "X-Request-Id": request_id}

    chat = await http.post(CHAT, json=CHAT_BODY, headers=headers)
    tgi = await http.post("/generate", json={"inputs": "Hi"}, headers=headers)

    message = f"Bad X-Simulator-Fault {value!r}: {problem}"
    assert chat.status_code == tgi.status_code == 400
    assert chat.json()["error"] == {
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": "unknown_fault",
    }
    assert tgi.json() == {"error": message, "error_type": "validation"}
    assert await seen(request_id) == []


async def test_requests_reports_each_attempt_of_a_request_id_in_order(
    http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    headers = {"X-Request-Id": request_id}
    prefilled = [*MESSAGES, {"role": "assistant", "content": "Fine.", "prefix": True}]

    await http.post(
        CHAT, json={**CHAT_BODY, "max_tokens": 7, "messages": prefilled}, headers=headers
    )
    await http.post(
        CHAT,
        json={"model": FALLBACK, "messages": MESSAGES, "stream": True},
        headers={**headers, "X-Simulator-Fault": "no_done"},
    )
    await http.post("/generate", json={"inputs": "Hi"}, headers=headers)
    await http.post("/v1/embeddings", json={"model": "e5", "input": "Hi"}, headers=headers)
    await http.post("/v1/completions", json={"model": "c", "prompt": "Hi"}, headers=headers)

    assert await seen(request_id) == [
        {"model": MODEL, "stream": False, "prefill": 5, "fault": "none", "max_tokens": 7},
        {"model": FALLBACK, "stream": True, "prefill": 0, "fault": "no_done", "max_tokens": None},
        # A TGI server serves its one model, whatever the request.
        {"model": MODEL, "stream": False, "prefill": 0, "fault": "none", "max_tokens": None},
        {"model": "e5", "stream": False, "prefill": 0, "fault": "none", "max_tokens": None},
        {"model": "c", "stream": False, "prefill": 0, "fault": "none", "max_tokens": None},
    ]
    assert await seen(f"{request_id}-never-sent") == []


async def test_requests_keeps_the_latest_attempts_of_a_request_id(
    http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    sent = MAX_ATTEMPTS_PER_REQUEST + 2
    for max_tokens in range(1, sent + 1):
        body = {**CHAT_BODY, "max_tokens": max_tokens}
        response = await http.post(CHAT, json=body, headers={"X-Request-Id": request_id})
        assert response.status_code == 200

    kept = [attempt["max_tokens"] for attempt in await seen(request_id)]

    assert kept == list(range(3, sent + 1))
