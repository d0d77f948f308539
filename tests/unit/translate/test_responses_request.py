"""A Responses API request becomes the fields of a chat request, or a 400 naming what a
stateless gateway cannot do."""

from __future__ import annotations

from typing import Any

import pytest

from llm_gateway.errors import InvalidRequest
from llm_gateway.protocol.responses import ResponsesRequest
from llm_gateway.translate.responses_request import completion_fields


def fields(**body: Any) -> dict[str, Any]:
    return completion_fields(ResponsesRequest.model_validate(body))


def test_instructions_and_developer_messages_go_upstream_as_one_system_message() -> None:
    sent = fields(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Use metric units."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Hi "},
                    {"type": "input_text", "text": "there"},
                ],
            },
        ],
    )

    assert sent["messages"] == [
        {"role": "system", "content": "Be brief.\n\nUse metric units."},
        {"role": "user", "content": "Hi there"},
    ]


def test_images_keep_the_parts_and_detail_chat_takes() -> None:
    sent = fields(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,AA",
                        "detail": "original",
                    },
                    {"type": "input_image", "image_url": "https://x/y.png", "detail": "low"},
                ],
            }
        ]
    )

    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
    ]


def test_a_run_of_calls_joins_the_assistant_turn_and_outputs_become_tool_messages() -> None:
    replayed = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "Let me look.", "annotations": [], "logprobs": []}
        ],
    }
    sent = fields(
        input=[
            {"role": "user", "content": "Prices?"},
            replayed,
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "c1",
                "name": "f",
                "arguments": "{}",
                "status": "completed",
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": '{"a": 1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "1"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "2"}],
            },
        ],
    )

    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "g", "arguments": '{"a": 1}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
        {"role": "tool", "tool_call_id": "c2", "content": "2"},
    ]


def test_tools_choice_format_and_logprobs_take_their_chat_shapes() -> None:
    sent = fields(
        input="Hi",
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        tool_choice={"type": "function", "name": "f"},
        parallel_tool_calls=False,
        text={
            "format": {
                "type": "json_schema",
                "name": "P",
                "schema": {"type": "object"},
                "strict": True,
            }
        },
        include=["message.output_text.logprobs", "reasoning.encrypted_content"],
        top_logprobs=3,
        max_output_tokens=7,
        top_k=40,
    )

    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "strict": True},
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "P", "schema": {"type": "object"}, "strict": True},
    }
    assert (sent["logprobs"], sent["top_logprobs"], sent["max_tokens"]) == (True, 3, 7)
    assert sent["extra"] == {"top_k": 40, "parallel_tool_calls": False}


def test_without_the_logprobs_include_none_are_asked_for() -> None:
    sent = fields(input="Hi", top_logprobs=3, text={"format": {"type": "json_object"}})

    assert (sent["logprobs"], sent["top_logprobs"]) == (None, None)
    assert sent["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": {"id": "conv_1"}}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs"]}]}, "tools[0]"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        (
            {"input": [{"role": "user", "content": "a"}, {"type": "computer_call", "id": "c"}]},
            "input[1].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].image_url",
        ),
    ],
)
def test_what_needs_state_or_built_in_tools_is_refused_by_name(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        fields(**{"input": "Hi", **body})

    assert refused.value.param == param
    assert refused.value.status == 400


def test_a_message_after_a_turn_of_calls_only_is_its_own() -> None:
    sent = fields(
        input=[
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"role": "developer", "content": "Now answer."},
        ]
    )

    assert [message["role"] for message in sent["messages"]] == ["assistant", "system"]
