"""Completions through the gateway, from curl-like HTTP, the openai SDK and InferenceClient."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from huggingface_hub import AsyncInferenceClient

from llm_gateway.upstream.client import stream_frames
from tests.helpers import EMBEDDING_MODEL, KINDS, MODEL, NEMO, Gateway, either_kind, sse_payloads


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    """Each test on both upstream kinds."""
    return either_kind(request, hf_gateway, gateway)


def test_generate_returns_text_finish_reason_and_usage(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/generate", json={"prompt": "Tell me about Kubernetes", "max_new_tokens": 8}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == MODEL
    assert body["generated_text"]
    assert body["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 8
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 8
    assert body["id"] == response.headers["x-request-id"]


def test_generate_is_deterministic_for_a_seed(gateway: Gateway) -> None:
    payload = {"prompt": "Same prompt", "max_new_tokens": 6, "seed": 42}
    first = httpx.post(f"{gateway.url}/generate", json=payload).json()
    second = httpx.post(f"{gateway.url}/generate", json=payload).json()

    assert first["generated_text"] == second["generated_text"]


def test_generate_streams_events_closed_by_done(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/generate",
        json={"prompt": "Stream please", "max_new_tokens": 5, "stream": True, "model": "nemo"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    events = [json.loads(p) for p in payloads[:-1]]
    assert {event["model"] for event in events} == {NEMO}
    assert events[-1]["usage"]["completion_tokens"] == 5
    assert any(event.get("finish_reason") == "length" for event in events)
    assert "".join(event["text"] for event in events).strip()


def test_models_lists_every_alias_and_names_the_upstream(gateway: Gateway) -> None:
    body = httpx.get(f"{gateway.url}/v1/models").json()

    assert {card["id"]: (card["root"], card["kind"]) for card in body["data"]} == {
        MODEL: (MODEL, "chat"),
        "mistral": (MODEL, "chat"),
        # Each model id of LLM_GATEWAY_MODELS is a model of the table, its alias a name more.
        NEMO: (NEMO, "chat"),
        "nemo": (NEMO, "chat"),
        EMBEDDING_MODEL: (EMBEDDING_MODEL, "embedding"),
        "e5": (EMBEDDING_MODEL, "embedding"),
    }
    assert {card["owned_by"] for card in body["data"]} == {"mistralai", "intfloat"}
    assert all(isinstance(card["created"], int) for card in body["data"])
    url = gateway.settings.upstream_endpoints[0]
    assert body["upstream"] == f"simulator at {url} ({gateway.settings.upstream_api.value} kind)"


async def test_openai_sdk_gets_a_chat_completion(gateway: Gateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused") as client:
        completion = await client.chat.completions.create(
            model="mistral",
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=7,
        )

    assert completion.model == MODEL
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7


async def test_openai_sdk_streams_a_chat_completion_with_usage(gateway: Gateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused") as client:
        stream = await client.chat.completions.create(
            model="mistral",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


async def test_stream_without_include_usage_sends_no_usage_frame(gateway: Gateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused") as client:
        stream = await client.chat.completions.create(
            model="mistral", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]

    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


async def test_inference_client_chats_through_the_gateway(gateway: Gateway) -> None:
    async with AsyncInferenceClient(base_url=gateway.url) as client:
        output = await client.chat_completion(
            [{"role": "user", "content": "Hello"}], model="nemo", max_tokens=4
        )
        stream = await client.chat_completion(
            [{"role": "user", "content": "Hello"}], model="nemo", max_tokens=4, stream=True
        )
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    assert output.model == NEMO
    assert output.usage.completion_tokens == 4
    assert output.choices[0].message.content
    assert streamed


@pytest.mark.parametrize("stream", [False, True])
def test_completions_are_recorded_in_llm_metrics(gateway: Gateway, stream: bool) -> None:
    labels = {"model": NEMO, "api": "generate", "stream": str(stream).lower()}
    before = gateway.sample("llm_gateway_requests_total", **labels, outcome="success")
    tokens_before = gateway.sample(
        "llm_gateway_completion_tokens_total", model=NEMO, api="generate"
    )

    response = httpx.post(
        f"{gateway.url}/generate",
        json={"prompt": "count me", "model": "nemo", "max_new_tokens": 3, "stream": stream},
    )

    assert response.status_code == 200
    assert gateway.sample("llm_gateway_requests_total", **labels, outcome="success") == before + 1
    assert (
        gateway.sample("llm_gateway_completion_tokens_total", model=NEMO, api="generate")
        == tokens_before + 3
    )
    assert gateway.sample("llm_gateway_upstream_requests_in_flight", model=NEMO) == 0


async def test_chat_streams_are_read_from_their_lines_with_this_huggingface_hub(
    simulator_url: str,
) -> None:
    async with AsyncInferenceClient(base_url=simulator_url) as client:
        outputs = await client.chat_completion(
            [{"role": "user", "content": "Hello"}], max_tokens=3, stream=True
        )
        frames = stream_frames(outputs)  # type: ignore[arg-type]
        texts = [frame["choices"][0]["delta"].get("content") async for frame in frames]

    assert frames is not outputs  # not the slower fallback over parsed outputs
    assert "".join(text or "" for text in texts)


def test_a_legacy_completion_at_openai_s_bounds_is_served(gateway: Gateway) -> None:
    before = gateway.core_requests("completions")
    # Each value asks for nothing the generate route lacks: null, one, zero or empty.
    body = {
        "model": "mistral",
        "prompt": ["One", "Two"],
        "max_tokens": None,  # OpenAI's default, 16
        "echo": None,
        "n": 1,
        "best_of": 1,
        "presence_penalty": 0,
        "logit_bias": {},
        "suffix": "",
        "stream": None,
        "stream_options": None,
        "user": "u",
    }

    response = httpx.post(f"{gateway.url}/v1/completions", json=body, timeout=10)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert [choice["index"] for choice in answer["choices"]] == [0, 1]
    assert answer["usage"]["completion_tokens"] == 2 * 16
    assert gateway.core_requests("completions") == before + 2  # one core request per prompt


# What OpenAI's request schema allows and the gateway cannot serve: the field named.
REFUSED = {
    "token ids": ({"prompt": [1, 2]}, "prompt", "token ids"),
    "lists of token ids": ({"prompt": [[1], [2, 3]]}, "prompt", "token ids"),
    "an empty prompt": ({"prompt": ""}, "prompt", "empty prompt"),
    "a null prompt": ({"prompt": None}, "prompt", "empty prompt"),
    "an empty list of prompts": ({"prompt": []}, "prompt", "empty prompt"),
    "an empty prompt in a list": ({"prompt": ["x", ""]}, "prompt", "empty prompt"),
    "seventeen prompts": ({"prompt": ["x"] * 17}, "prompt", "more than 16 prompts"),
    "max_tokens 0": ({"max_tokens": 0}, "max_tokens", "at least one token"),
    "two choices": ({"n": 2}, "n", "list the prompt several times"),
    "best of three": ({"best_of": 3}, "best_of", "one generation per prompt"),
    "a presence penalty": ({"presence_penalty": 0.5}, "presence_penalty", "frequency_penalty"),
    "a logit bias": ({"logit_bias": {"50256": -100}}, "logit_bias", "has none"),
    "a suffix": ({"suffix": "The end."}, "suffix", "only continues a prompt"),
    "an unknown field": ({"top_k": 5}, "top_k", "no such parameter"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_legacy_completion_the_gateway_cannot_serve_is_a_400_naming_the_field(
    gateway: Gateway, case: str
) -> None:
    fields, param, why = REFUSED[case]
    before = gateway.core_requests("completions")

    response = httpx.post(f"{gateway.url}/v1/completions", json={"prompt": "x", **fields})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == ("unsupported_feature", param)
    assert error["message"].startswith("The gateway does not support ") and why in error["message"]
    assert gateway.core_requests("completions") == before  # refused before the core
