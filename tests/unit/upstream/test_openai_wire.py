"""What the openai kind sends where, and what the stream check makes of what comes back."""

from __future__ import annotations

import pytest

from llm_gateway.core.types import Chunk, CompletionRequest, Endpoint, ToolCallDelta, Usage
from llm_gateway.errors import UpstreamServerError
from llm_gateway.upstream import openai_wire
from llm_gateway.upstream.wire import StreamCheck


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
    request = CompletionRequest(
        "r",
        Endpoint.CHAT_COMPLETIONS,
        "alias",
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
    assert Usage.settled(None, 9, 0) == Usage(3, 0, prompt_estimated=True)
    assert Usage.settled(None, 4, 1, pieces=3) == Usage(1, 3, True, True)
    assert Usage.settled(Usage(7, 0), 4, 8) == Usage(7, 2, completion_estimated=True)
    assert Usage.settled(Usage(7, 5), 4, 8) == Usage(7, 5)
    assert Usage.settled(None, 0, 0) == Usage(0, 0)


def test_a_tool_call_named_in_every_delta_is_named_once() -> None:
    check = StreamCheck(prompt_chars=5)
    delta = ToolCallDelta(0, id="call_1", name="f", arguments='{"a":')
    again = ToolCallDelta(0, id="call_1", name="f", arguments=" 1}")

    chunks = check.checked([Chunk(tool_calls=(delta,)), Chunk(tool_calls=(again,))])
    chunks += check.checked([Chunk(finish_reason="tool_calls")])

    assert [chunk.tool_calls for chunk in chunks] == [
        (delta,),
        (ToolCallDelta(0, arguments=" 1}"),),
        (),
    ]
    assert check.end() == Chunk(usage=Usage(2, 2, True, True))


def test_a_stream_that_never_finishes_is_an_upstream_error() -> None:
    check = StreamCheck(prompt_chars=5)
    check.checked([Chunk(text="half an answer")])

    with pytest.raises(UpstreamServerError) as raised:
        check.end()

    assert raised.value.code == "upstream_stream_incomplete"
