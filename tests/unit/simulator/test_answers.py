"""The simulated model calls a tool when it should, and which one, as tool_choice says."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from llm_gateway.simulator.answers import logprobs, write_answer
from llm_gateway.simulator.protocol import ChatCompletionRequest
from llm_gateway.simulator.tei_api import is_embedding, vector
from llm_gateway.simulator.textmodel import TextModel

TEXT = TextModel()
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {
                "type": "object",
                "properties": {"x": {"type": "integer"}},
                "required": ["x"],
            },
        },
    }
    for name in ("first", "second")
]


def request(**fields: Any) -> ChatCompletionRequest:
    messages = fields.pop("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate({"messages": messages, **fields})


@pytest.mark.parametrize(
    ("fields", "called"),
    [
        ({}, None),
        ({"tools": TOOLS, "tool_choice": "none"}, None),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "second"}}},
            "second",
        ),
        ({"tools": TOOLS[:1]}, "first"),
        ({"tools": TOOLS[:1], "tool_choice": "required"}, "first"),
        (
            {
                "tools": TOOLS[:1],
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "tool", "content": "42", "tool_call_id": "call_1"},
                ],
            },
            None,
        ),
    ],
)
def test_tool_choice_decides_whether_and_which_tool_is_called(
    fields: dict[str, Any], called: str | None
) -> None:
    answer = write_answer(TEXT, request(**fields), 0, 64)

    if called is None:
        assert answer.tool_call is None and answer.text
        assert answer.finish_reason in ("stop", "length")
    else:
        assert answer.tool_call is not None and answer.tool_call.name == called
        assert answer.finish_reason == "tool_calls"
        arguments = json.loads(answer.tool_call.arguments)
        jsonschema.validate(arguments, TOOLS[0]["function"]["parameters"])
        assert "".join(answer.tool_call.pieces()) == answer.tool_call.arguments


def test_json_output_follows_the_schema_and_max_tokens_cuts_it() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    body = request(response_format={"type": "json_schema", "json_schema": {"schema": schema}})

    whole = write_answer(TEXT, body, 0, 64)
    cut = write_answer(TEXT, body, 0, 2)

    jsonschema.validate(json.loads(whole.text), schema)
    assert whole.completion_tokens == len(whole.tokens)
    assert cut.finish_reason == "length" and len(cut.tokens) == 2


def test_logprobs_list_the_chosen_token_first_among_its_alternatives() -> None:
    answer = write_answer(TEXT, request(), 0, 5)

    entries = logprobs(answer.tokens, 3)

    assert [e["token"] for e in entries] == [t.text for t in answer.tokens]
    assert all(e["top_logprobs"][0]["token"] == e["token"] for e in entries)
    assert all(len(e["top_logprobs"]) == 3 for e in entries)


def test_choices_of_one_request_differ_and_repeat() -> None:
    body = request(n=2)

    first = [write_answer(TEXT, body, i, 20).text for i in range(2)]
    again = [write_answer(TEXT, body, i, 20).text for i in range(2)]

    assert first == again and first[0] != first[1]


def prefilled(prefill: str, form: str, **fields: Any) -> ChatCompletionRequest:
    if form == "prefix":
        final = {"role": "assistant", "content": prefill, "prefix": True}
        return request(messages=[{"role": "user", "content": "Hi"}, final], **fields)
    flags = {"continue_final_message": True, "add_generation_prompt": False}
    final = {"role": "assistant", "content": prefill}
    return request(messages=[{"role": "user", "content": "Hi"}, final], **flags, **fields)


@pytest.mark.parametrize("form", ["continue_final_message", "prefix"])
@pytest.mark.parametrize("seed", range(8))
def test_a_prefill_of_k_tokens_and_its_continuation_make_the_answer(form: str, seed: int) -> None:
    answer = write_answer(TEXT, request(seed=seed), 0, 60)

    for k in range(len(answer.tokens) + 1):
        prefill = "".join(token.text for token in answer.tokens[:k])
        rest = write_answer(TEXT, prefilled(prefill, form, seed=seed), 0, 60 - k)

        assert prefill + rest.text == answer.text
        assert rest.tokens == answer.tokens[k:]
        assert rest.finish_reason == answer.finish_reason


def test_a_prefill_that_ends_inside_a_token_is_continued_from_its_rest() -> None:
    answer = write_answer(TEXT, request(seed=1), 0, 10)
    cut = len(answer.tokens[0].text) + 3  # three characters into the second token

    rest = write_answer(TEXT, prefilled(answer.text[:cut], "prefix", seed=1), 0, 9)

    assert answer.text[:cut] + rest.text == answer.text
    assert len(rest.tokens) == 9 and rest.finish_reason == "length"


def test_a_prefill_the_answer_does_not_start_with_is_continued_as_a_new_sentence() -> None:
    body = prefilled("Something else", "prefix", seed=1)

    rest = write_answer(TEXT, body, 0, 8)

    assert rest.text.startswith(" ") and rest.text[1].isupper()
    assert len(rest.tokens) == 8 and rest.finish_reason == "length"
    assert write_answer(TEXT, body, 0, 8) == rest


def test_a_prefilled_answer_calls_no_tool() -> None:
    answer = write_answer(TEXT, prefilled("The", "prefix", tools=TOOLS), 0, 5)

    assert answer.tool_call is None and len(answer.tokens) == 5


def test_embeddings_are_unit_vectors_whose_prefix_is_a_shorter_one() -> None:
    full = vector("a cat", 64)
    short = vector("a cat", 8)

    assert vector("a cat", 64) == full and vector("a dog", 64) != full
    assert sum(v * v for v in full) == pytest.approx(1.0)
    scale = sum(v * v for v in full[:8]) ** 0.5
    assert short == pytest.approx([v / scale for v in full[:8]])


@pytest.mark.parametrize(
    ("body", "embedding"),
    [
        (b'{"inputs": "x"}', True),
        (b'{"inputs": ["x"], "normalize": true}', True),
        (b'{"inputs": "x", "parameters": {}}', False),
        (b'{"inputs": "x", "stream": true}', False),
        (b"not json", False),
    ],
)
def test_the_base_url_route_tells_embeddings_from_generation(body: bytes, embedding: bool) -> None:
    assert is_embedding(body) is embedding
