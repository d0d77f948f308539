"""Both upstream kinds against an OpenAI-compatible server that gets the API wrong:
abandoned and cut-off streams, no usage, tool calls named in every delta, errors with
their own message and code, and the key the gateway sends kept out of what it answers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.helpers import KINDS, MODEL, Gateway, sse_payloads, start_gateway
from tests.hostile import ECHOED_KEY_PREFIX, SEPARATED, TOOL_NAME, HostileUpstream, asking

KEY_VARIABLE = "LLM_GATEWAY_TEST_UPSTREAM_KEY"
KEY = "upstream-key-0123456789-abcdef"
HELLO = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
CHAT = {"model": MODEL, "api": "chat_completions"}


@pytest.fixture(scope="module", params=KINDS)
def relay(request: pytest.FixtureRequest, hostile: HostileUpstream) -> Iterator[Gateway]:
    """A gateway of either kind (what is shared, the huggingface kind does too), sending
    the key: the openai kind's from the variable it names, the huggingface kind's as its
    token."""
    key = {"upstream_api_key_env": KEY_VARIABLE} if request.param == "openai" else {"hf_token": KEY}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, KEY)
        yield from start_gateway(
            hostile.url,
            upstream_api=request.param,
            upstream_is_simulator=False,
            upstream_timeout_seconds=5.0,
            **key,
        )


def chat(gateway: Gateway, behaviour: str, **body: object) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={**HELLO, **body},
        headers=asking(behaviour),
        timeout=10,
    )


def requests(gateway: Gateway, outcome: str, stream: str = "true") -> float:
    return gateway.sample("llm_gateway_requests_total", **CHAT, stream=stream, outcome=outcome)


def upstream_errors(gateway: Gateway, reason: str, status: str = "") -> float:
    return gateway.sample(
        "llm_gateway_upstream_errors_total", model=MODEL, reason=reason, status_code=status
    )


def estimated(gateway: Gateway, kind: str) -> float:
    return gateway.sample("llm_gateway_estimated_tokens_total", model=MODEL, type=kind)


def test_chat_goes_to_openais_chat_route_under_v1(relay: Gateway, hostile: HostileUpstream) -> None:
    response = chat(relay, "no_usage_answer")

    assert response.status_code == 200
    assert hostile.paths["no_usage_answer"] == "/v1/chat/completions"


def test_a_stream_abandoned_before_any_frame_is_a_502_and_never_a_success(
    relay: Gateway,
) -> None:
    errors, successes = upstream_errors(relay, "server_error"), requests(relay, "success")

    response = chat(relay, "abandoned", stream=True)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_stream_incomplete"
    assert upstream_errors(relay, "server_error") == errors + 1
    assert requests(relay, "success") == successes


def test_a_stream_cut_off_without_a_finish_reason_ends_with_an_error_frame(
    relay: Gateway,
) -> None:
    errors, failed = upstream_errors(relay, "server_error"), requests(relay, "error")

    response = chat(relay, "cut_off", stream=True)

    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["code"] == "upstream_stream_incomplete"
    assert [json.loads(p)["choices"][0]["delta"].get("content") for p in payloads[1:3]] == [
        "tok",
        "tok",
    ]
    assert upstream_errors(relay, "server_error") == errors + 1
    assert requests(relay, "error") == failed + 1


def test_a_stream_without_usage_is_counted_by_estimate(relay: Gateway) -> None:
    prompt, completion = estimated(relay, "prompt"), estimated(relay, "completion")

    response = chat(relay, "no_usage", stream=True, stream_options={"include_usage": True})

    assert response.status_code == 200
    usage = json.loads(sse_payloads(response.text)[-2])["usage"]
    # "Hello": 5 characters, 2 tokens; "toktoktok" in 3 frames: 3 tokens.
    assert usage == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert estimated(relay, "prompt") == prompt + 2
    assert estimated(relay, "completion") == completion + 3


def test_a_token_holding_a_line_separator_is_relayed_whole(relay: Gateway) -> None:
    if relay.settings.upstream_api.value == "huggingface":
        # huggingface_hub reads a stream's lines with httpx2, as str.splitlines cuts them.
        pytest.skip("the huggingface kind's stream lines are huggingface_hub's")
    successes = requests(relay, "success")

    response = chat(relay, "line_separator", stream=True)

    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert json.loads(payloads[1])["choices"][0]["delta"]["content"] == SEPARATED
    assert payloads[-1] == "[DONE]"
    assert requests(relay, "success") == successes + 1


def test_an_answer_without_usage_is_counted_by_estimate(relay: Gateway) -> None:
    prompt_tokens = relay.sample("llm_gateway_prompt_tokens_total", **CHAT)
    completion = estimated(relay, "completion")

    response = chat(relay, "no_usage_answer")

    assert response.status_code == 200
    assert response.json()["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 10,
        "total_tokens": 12,
    }
    assert relay.sample("llm_gateway_prompt_tokens_total", **CHAT) == prompt_tokens + 2
    assert estimated(relay, "completion") == completion + 10


async def test_a_tool_call_named_in_every_delta_is_one_call(relay: Gateway) -> None:
    before = relay.sample("llm_gateway_tool_calls_total", model=MODEL)
    estimated_before = estimated(relay, "completion")

    async with openai.AsyncOpenAI(
        base_url=f"{relay.url}/v1", api_key="unused", max_retries=0
    ) as client:
        async with client.chat.completions.stream(
            model=MODEL,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            extra_headers=asking("repeated_tool_call"),
        ) as stream:
            final = await stream.get_final_completion()

    calls = final.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].id == "call_1"
    assert calls[0].function.name == TOOL_NAME
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert relay.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1
    # The server reported its usage: nothing estimated.
    assert estimated(relay, "completion") == estimated_before


def test_an_upstream_500_keeps_its_message(relay: Gateway) -> None:
    before = upstream_errors(relay, "server_error", "500")

    response = chat(relay, "server_error_message")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_server_error"
    assert "CUDA out of memory on device 0" in error["message"]
    assert upstream_errors(relay, "server_error", "500") == before + 1


def test_a_context_length_error_reaches_the_client_with_its_code_and_not_the_key(
    relay: Gateway,
) -> None:
    before = upstream_errors(relay, "client_error", "400")

    response = chat(relay, "context_length")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "maximum context length is 4096 tokens" in error["message"]
    # The upstream saw the key (it echoes it), the client does not.
    assert f"{ECHOED_KEY_PREFIX}[redacted]" in error["message"]
    assert KEY not in response.text
    assert upstream_errors(relay, "client_error", "400") == before + 1
