"""What the openai kind sends where, and what the stream check makes of what comes back."""

from __future__ import annotations

from typing import Any

import pytest

from llm_gateway.core.types import (
    Chunk,
    CompletionTask,
    EmbeddingTask,
    Endpoint,
    Origin,
    TokenUsage,
    ToolCallPiece,
)
from llm_gateway.errors import UpstreamBadResponse, UpstreamServerError
from llm_gateway.upstream import openai_wire
from llm_gateway.upstream.stream_check import StreamCheck

CHAT = CompletionTask(
    origin=Origin("r"),
    endpoint=Endpoint.CHAT_COMPLETIONS,
    model="alias",
    messages=[{"role": "user", "content": "Hi"}],
)
LEGACY = CompletionTask(
    origin=Origin("r"), endpoint=Endpoint.COMPLETIONS, model="alias", prompt="Hi"
)


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://vllm:8000", "http://vllm:8000/v1"),
        ("http://vllm:8000/", "http://vllm:8000/v1"),
        ("https://router.huggingface.co/v1", "https://router.huggingface.co/v1"),
        ("https://router.huggingface.co/v1/", "https://router.huggingface.co/v1"),
        ("http://proxy/llm", "http://proxy/llm/v1"),
    ],
)
def test_routes_go_under_v1_unless_the_url_already_ends_in_it(base_url: str, root: str) -> None:
    assert openai_wire.api_root(base_url) == root


def test_a_chat_body_is_the_clients_with_the_upstream_model_and_usage_asked_for() -> None:
    request = CompletionTask(
        origin=Origin("r"),
        endpoint=Endpoint.CHAT_COMPLETIONS,
        model="alias",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=100_000,
        temperature=0.0,
        extra={"top_k": 5, "chat_template_kwargs": {"enable_thinking": False}},
        stream=True,
    )

    assert openai_wire.chat_body(request, "org/model") == {
        "model": "org/model",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 100_000,
        "temperature": 0.0,
        "top_k": 5,
        "chat_template_kwargs": {"enable_thinking": False},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_usage_not_reported_is_estimated_at_four_characters_a_token() -> None:
    assert TokenUsage.settled(None, 9, 0) == TokenUsage(3, 0, prompt_estimated=True)
    assert TokenUsage.settled(None, 4, 1, pieces=3) == TokenUsage(1, 3, True, True)
    assert TokenUsage.settled(TokenUsage(7, 0), 4, 8) == TokenUsage(7, 2, completion_estimated=True)
    assert TokenUsage.settled(TokenUsage(7, 5), 4, 8) == TokenUsage(7, 5)
    assert TokenUsage.settled(None, 0, 0) == TokenUsage(0, 0)


def test_a_tool_call_named_in_every_delta_is_named_once() -> None:
    check = StreamCheck(prompt_chars=5)
    delta = ToolCallPiece(0, id="call_1", name="f", arguments='{"a":')
    again = ToolCallPiece(0, id="call_1", name="f", arguments=" 1}")

    chunks = check.checked([Chunk(tool_calls=(delta,)), Chunk(tool_calls=(again,))])
    chunks += check.checked([Chunk(finish_reason="tool_calls")])

    assert [chunk.tool_calls for chunk in chunks] == [
        (delta,),
        (ToolCallPiece(0, arguments=" 1}"),),
        (),
    ]
    assert check.end() == Chunk(usage=TokenUsage(2, 2, True, True))


def test_a_stream_that_never_finishes_is_an_upstream_error() -> None:
    check = StreamCheck(prompt_chars=5)
    check.checked([Chunk(text="half an answer")])

    with pytest.raises(UpstreamServerError) as raised:
        check.end()

    assert raised.value.code == "upstream_stream_incomplete"


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        (CHAT, {"choices": []}),
        (CHAT, {"choices": [{"message": "Hi"}]}),
        (CHAT, {"choices": [{"message": {"content": 7}}]}),
        (LEGACY, {"choices": [{"text": ["Hi"]}]}),
        (LEGACY, {"choices": [{"text": "Hi", "index": -1}]}),
        (LEGACY, {"choices": [{"text": "Hi"}], "usage": {"prompt_tokens": "2"}}),
        (LEGACY, ["not", "an", "object"]),
    ],
)
def test_an_answer_of_another_shape_is_a_bad_response(
    request_: CompletionTask, answer: Any
) -> None:
    with pytest.raises(UpstreamBadResponse):
        openai_wire.completion(answer, request_, "org/model")


@pytest.mark.parametrize(
    "answer",
    [
        {"data": [{"index": 0, "embedding": ["x"]}]},
        {"data": [{"index": 0, "embedding": [1e300]}]},
        {"data": [{"embedding": [0.5]}]},
        {"data": []},
        {"data": {"index": 0}},
    ],
)
def test_embeddings_of_another_shape_are_a_bad_response(answer: Any) -> None:
    request = EmbeddingTask(origin=Origin("r"), model="e5", input="Hi")

    with pytest.raises(UpstreamBadResponse):
        openai_wire.embeddings(answer, request, "org/e5")


def test_an_answer_without_usage_is_estimated_and_says_so() -> None:
    answer = {"choices": [{"index": 0, "text": "Hello there", "finish_reason": "stop"}]}

    completion = openai_wire.completion(answer, LEGACY, "org/model")

    assert completion.text == "Hello there"
    assert completion.usage == TokenUsage(1, 3, prompt_estimated=True, completion_estimated=True)
