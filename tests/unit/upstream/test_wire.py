"""huggingface_hub's parsed outputs become the core's types, absent fields left out."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ChatCompletionOutput, ChatCompletionStreamOutput

from llm_gateway.core.types import (
    Chunk,
    CompletionTask,
    Endpoint,
    Origin,
    TokenUsage,
    ToolCallPiece,
)
from llm_gateway.errors import UpstreamBadResponse
from llm_gateway.upstream import wire

LATER_DELTA = json.dumps(
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1'}}]},
                "finish_reason": None,
            }
        ],
    }
)


def test_a_later_tool_call_delta_has_no_id_or_name_though_hf_fills_them_with_null() -> None:
    output = ChatCompletionStreamOutput.parse_obj_as_instance(LATER_DELTA)
    assert output.choices[0].delta.tool_calls[0]["id"] is None  # what would be relayed

    (chunk,) = wire.chat_chunks(output)

    assert chunk.tool_calls == (ToolCallPiece(0, arguments='{"a": 1'),)


def test_an_older_tgi_tool_call_object_and_a_usage_frame_are_read() -> None:
    tgi = (
        '{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant",'
        '"tool_calls":{"index":0,"id":"call_1","type":"function","function":{"name":"f",'
        '"arguments":"{"}}},"finish_reason":null}],'
        '"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}'
    )

    chunks = wire.chat_chunks(ChatCompletionStreamOutput.parse_obj_as_instance(tgi))

    assert chunks == [
        Chunk(tool_calls=(ToolCallPiece(0, id="call_1", name="f", arguments="{"),)),
        Chunk(usage=TokenUsage(3, 4)),
    ]


def test_tool_call_arguments_sent_as_an_object_become_json_text() -> None:
    body = (
        '{"id":"c","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls",'
        '"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1",'
        '"type":"function","function":{"name":"f","arguments":{"a":1}}}]},'
        '"logprobs":{"content":[{"token":"x","logprob":-1.0,"top_logprobs":[]}]}}],'
        '"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )

    choice = wire.chat_choice(ChatCompletionOutput.parse_obj_as_instance(body).choices[0])

    assert choice.tool_calls[0].arguments == '{"a": 1}'
    assert choice.text is None
    # huggingface_hub's parsed answer drops the bytes: they are the token's UTF-8 again.
    assert choice.logprobs == {
        "content": [{"token": "x", "logprob": -1.0, "top_logprobs": [], "bytes": [120]}],
        "refusal": None,
    }


def test_chat_logprobs_keep_the_upstreams_bytes_or_compute_them() -> None:
    sent = {
        "content": [
            {
                "token": "é",
                "logprob": -1.0,
                "bytes": [195, 169],
                "top_logprobs": [{"token": "✓", "logprob": -2.0}],
            }
        ]
    }

    chunks = wire.chat_chunks(
        {"choices": [{"index": 0, "delta": {"content": "é"}, "logprobs": sent}]}
    )

    assert chunks[0].logprobs == {
        "content": [
            {
                "token": "é",
                "logprob": -1.0,
                "bytes": [195, 169],
                "top_logprobs": [{"token": "✓", "logprob": -2.0, "bytes": [226, 156, 147]}],
            }
        ],
        "refusal": None,
    }


CHAT = CompletionTask(Origin("r"), Endpoint.CHAT_COMPLETIONS, None, messages=[])


def test_generation_arguments_stay_within_tgi_bounds() -> None:
    request = CompletionTask(
        Origin("r"), Endpoint.COMPLETIONS, None, prompt="x", temperature=0.0, top_p=1.0
    )

    arguments = wire.generation_arguments(request)

    assert arguments["do_sample"] is False
    assert arguments["temperature"] is None
    assert arguments["top_p"] is None


def test_unknown_fields_ride_in_extra_body() -> None:
    request = CompletionTask(
        Origin("r"), Endpoint.CHAT_COMPLETIONS, None, messages=[], extra={"top_k": 5}
    )

    assert wire.chat_arguments(request, "m")["extra_body"] == {"top_k": 5}


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"choices": "none", "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"choices": [{"message": 5}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"choices": [{"message": {"content": 5}}], "usage": {"prompt_tokens": 1}},
        {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"choices": [{"message": {}}], "usage": {"prompt_tokens": -1, "completion_tokens": 1}},
        {"choices": [{"message": {}}], "usage": {"prompt_tokens": 1, "completion_tokens": "1"}},
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_bad_response(answer: object) -> None:
    with pytest.raises(UpstreamBadResponse):
        wire.chat_completion(answer, CHAT, "m")


@pytest.mark.parametrize(
    "frame",
    [
        {"choices": [{"delta": {"content": [1]}}]},
        {"choices": {"delta": {"content": "a"}}},
        {"choices": ["a"]},
        {"choices": [{"delta": "a"}]},
        {"choices": [{"delta": {"content": "a"}, "finish_reason": 1}]},
        {"choices": [{"delta": {"content": "a"}, "index": -1}]},
        {"choices": [{"delta": {"content": "a"}, "index": True}]},
        {"choices": [{"delta": {"tool_calls": [{"index": "first"}]}}]},
        {"choices": [], "usage": {"prompt_tokens": "3", "completion_tokens": 1}},
    ],
)
def test_a_stream_frame_of_the_wrong_shape_is_a_bad_response(frame: dict[str, object]) -> None:
    with pytest.raises(UpstreamBadResponse):
        wire.chat_chunks(frame)
