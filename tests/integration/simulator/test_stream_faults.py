"""Faults that spoil a stream after its headers: cut, stalled, slow to start, a frame that
is not JSON, no ``[DONE]``; through the openai SDK and over plain httpx, on each streaming
route where the fault makes sense, with what the simulator says it did."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.integration.simulator.sse import (
    CHAT_STREAM,
    MESSAGES,
    MODEL,
    Received,
    Seen,
    receive,
    stream_error,
)

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
COMPLETION_STREAM = {"model": MODEL, "prompt": "Is everything fine?", "max_tokens": 20, "seed": 3}
GENERATE_STREAM = {"inputs": "Is everything fine?", "parameters": {"max_new_tokens": 20}}
# Each streaming route: its body, and the frames it sends before its first token.
ROUTES = {
    "chat": (CHAT, CHAT_STREAM, 1),
    "completions": (COMPLETIONS, {**COMPLETION_STREAM, "stream": True}, 0),
    "tgi": ("/generate_stream", GENERATE_STREAM, 0),
}


def fault(value: str, request_id: str) -> dict[str, str]:
    return {"X-Simulator-Fault": value, "X-Request-Id": request_id}


async def sdk_stream(
    client: openai.AsyncOpenAI, value: str, request_id: str, **fields: Any
) -> tuple[list[str], Exception | None]:
    """The text pieces an openai SDK stream yields, and the error that ended it, if any."""
    pieces: list[str] = []
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=20,
        seed=3,
        stream=True,
        extra_headers=fault(value, request_id),
        **fields,
    )
    try:
        async for chunk in stream:
            pieces.extend(c.delta.content for c in chunk.choices if c.delta.content)
    except Exception as exc:
        return pieces, exc
    return pieces, None


async def unbroken(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Received:
    received = await receive(http, path, body, {})
    assert received.error is None and received.status == 200
    return received


@pytest.mark.parametrize(
    ("value", "after", "error", "name"),
    [
        ("drop; after=7", 7, httpx.RemoteProtocolError, "drop"),
        # Silent after its tokens, the connection open until the client gives up.
        ("stall; after=2", 2, httpx.ReadTimeout, "stall"),
    ],
    ids=["drop", "stall"],
)
@pytest.mark.parametrize("route", ROUTES)
async def test_drop_and_stall_break_each_stream_after_the_token_frames_they_name(
    http: httpx.AsyncClient,
    seen: Seen,
    request_id: str,
    route: str,
    value: str,
    after: int,
    error: type[Exception],
    name: str,
) -> None:
    path, body, head_frames = ROUTES[route]

    received = await receive(http, path, body, fault(value, request_id))

    assert received.status == 200
    assert isinstance(received.error, error)
    assert len(received.payloads()) == head_frames + after
    assert b"[DONE]" not in received.body and b'finish_reason":"' not in received.body
    assert [attempt["fault"] for attempt in await seen(request_id)] == [name]


async def test_drop_after_zero_sends_only_the_role_frame_to_the_openai_sdk(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str
) -> None:
    pieces, error = await sdk_stream(openai_client, "drop; after=0", request_id)

    assert pieces == []
    assert type(error) is stream_error(openai.APIConnectionError, httpx.RemoteProtocolError)
    assert await seen(request_id) == [
        {"model": MODEL, "stream": True, "prefill": 0, "fault": "drop", "max_tokens": 20}
    ]


async def test_stall_sends_tokens_then_nothing_until_the_openai_sdk_times_out(
    openai_client: openai.AsyncOpenAI, http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    whole = await unbroken(http, CHAT, CHAT_STREAM)

    pieces, error = await sdk_stream(openai_client, "stall; after=5", request_id)

    assert type(error) is stream_error(openai.APITimeoutError, httpx.ReadTimeout)
    assert len(pieces) == 5
    assert whole.text().startswith("".join(pieces))
    assert [attempt["fault"] for attempt in await seen(request_id)] == ["stall"]


@pytest.mark.parametrize("route", ["chat", "completions"])
async def test_malformed_frame_spoils_one_frame_and_the_stream_goes_on_to_done(
    http: httpx.AsyncClient, seen: Seen, request_id: str, route: str
) -> None:
    path, body, head_frames = ROUTES[route]
    whole = await unbroken(http, path, body)

    received = await receive(http, path, body, fault("malformed_frame; after=4", request_id))

    assert received.status == 200 and received.error is None
    payloads = received.payloads()
    unparseable = [i for i, p in enumerate(payloads) if p != "[DONE]" and not _is_json(p)]
    assert unparseable == [head_frames + 4]
    assert payloads[: unparseable[0]] + payloads[unparseable[0] + 1 :] == _without_ids(
        whole.payloads(), received.payloads()
    )
    assert payloads[-1] == "[DONE]"
    assert [attempt["fault"] for attempt in await seen(request_id)] == ["malformed_frame"]


async def test_malformed_frame_raises_in_the_openai_sdk_after_the_tokens_before_it(
    openai_client: openai.AsyncOpenAI, request_id: str
) -> None:
    pieces, error = await sdk_stream(openai_client, "malformed_frame; after=6", request_id)

    assert type(error) is json.JSONDecodeError
    assert len(pieces) == 6


async def test_no_done_sends_the_whole_stream_with_usage_but_no_done_frame(
    openai_client: openai.AsyncOpenAI, http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    body = {**CHAT_STREAM, "stream_options": {"include_usage": True}}
    whole = await unbroken(http, CHAT, body)

    received = await receive(http, CHAT, body, fault("no_done", request_id))
    pieces, error = await sdk_stream(
        openai_client, "no_done", request_id, stream_options={"include_usage": True}
    )

    assert received.status == 200 and received.error is None
    assert b"[DONE]" not in received.body
    assert received.payloads() == _without_ids(whole.payloads(), received.payloads())[:-1]
    last = received.frames()[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 20
    assert received.frames()[-2]["choices"][0]["finish_reason"] == "length"
    # The SDK takes the end of the connection as the end of the stream.
    assert error is None and "".join(pieces) == whole.text()
    assert [attempt["fault"] for attempt in await seen(request_id)] == ["no_done", "no_done"]


async def test_no_done_is_no_fault_where_there_is_no_done_frame(
    http: httpx.AsyncClient, seen: Seen, request_id: str
) -> None:
    whole = {**CHAT_STREAM, "stream": False}

    answer = await http.post(CHAT, json=whole, headers=fault("no_done", request_id))
    tgi = await receive(http, "/generate_stream", GENERATE_STREAM, fault("no_done", request_id))

    assert answer.status_code == 200 and answer.json()["choices"][0]["finish_reason"] == "length"
    assert tgi.error is None and len(tgi.payloads()) == 20
    assert [attempt["fault"] for attempt in await seen(request_id)] == ["none", "none"]


@pytest.mark.parametrize(
    ("value", "stream", "content_type"),
    [("slow_first_token", True, "text/event-stream"), ("stall", False, "application/json")],
    ids=["slow_first_token_stream", "stall_whole"],
)
async def test_headers_come_at_once_then_nothing_until_the_client_gives_up(
    http: httpx.AsyncClient,
    seen: Seen,
    request_id: str,
    value: str,
    stream: bool,
    content_type: str,
) -> None:
    body = {**CHAT_STREAM, "stream": stream}

    received = await receive(http, CHAT, body, fault(value, request_id))

    assert received.status == 200
    assert received.headers is not None
    assert received.headers["content-type"] == content_type
    assert isinstance(received.error, httpx.ReadTimeout)
    assert received.body == b""
    assert [attempt["fault"] for attempt in await seen(request_id)] == [value]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_slow_first_token_delays_the_answer_by_its_seconds_then_answers_it_all(
    simulator_url: str, http: httpx.AsyncClient, request_id: str, stream: bool
) -> None:
    body = {**CHAT_STREAM, "stream": stream}
    patient = httpx.AsyncClient(base_url=simulator_url, timeout=30)
    async with patient:
        whole = await receive(patient, CHAT, body, {})
        started = time.monotonic()
        slow = await receive(
            patient, CHAT, body, fault("slow_first_token; seconds=0.2", request_id)
        )
        elapsed = time.monotonic() - started

    assert slow.error is None and slow.status == 200
    assert elapsed >= 0.2
    if stream:
        assert slow.text() == whole.text() and slow.payloads()[-1] == "[DONE]"
    else:
        answer, expected = json.loads(slow.body), json.loads(whole.body)
        assert answer["choices"] == expected["choices"]


def _is_json(payload: str) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


def _without_ids(payloads: list[str], like: list[str]) -> list[str]:
    """``payloads`` with the id and creation time of the stream ``like`` comes from, so two
    answers to one request compare equal."""
    frame = json.loads(next(p for p in like if _is_json(p) and p != "[DONE]"))
    same = []
    for payload in payloads:
        if payload == "[DONE]" or not _is_json(payload):
            same.append(payload)
            continue
        parsed = json.loads(payload)
        parsed.update({k: frame[k] for k in ("id", "created") if k in parsed})
        same.append(json.dumps(parsed, separators=(",", ":")))
    return same
