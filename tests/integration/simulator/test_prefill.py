"""Continuing an assistant prefill, as vLLM (``continue_final_message``) and Mistral
(``prefix``) are asked to, through the openai SDK: the prefill and its continuation make
the answer an unbroken request gets."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from llm_gateway.simulator.textmodel import TOKEN_PATTERN, count_tokens
from tests.integration.simulator.sse import MESSAGES, MODEL, Seen

# vLLM's form needs both flags; Mistral's marks the message.
VLLM = {"continue_final_message": True, "add_generation_prompt": False}
FORMS = ["continue_final_message", "prefix"]


def prefilled(prefill: str, form: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages and the extra body that ask to continue ``prefill``."""
    final: dict[str, Any] = {"role": "assistant", "content": prefill}
    if form == "prefix":
        return [*MESSAGES, {**final, "prefix": True}], {}
    return [*MESSAGES, final], VLLM


async def answer(
    client: openai.AsyncOpenAI,
    max_tokens: int,
    *,
    seed: int,
    stream: bool,
    messages: list[dict[str, Any]] = MESSAGES,
    extra_body: dict[str, Any] | None = None,
    request_id: str = "",
) -> tuple[str, str, Any]:
    """The text, finish reason and usage of an answer, streamed or not."""
    fields: dict[str, Any] = {
        "model": MODEL,
        "messages": messages,
        "max_tokens": max_tokens,
        "seed": seed,
        "extra_body": extra_body,
        "extra_headers": {"X-Request-Id": request_id} if request_id else None,
        # A long timeout: a hundred completions in a row are no fault to time out on.
        "timeout": 30,
    }
    if not stream:
        completion = await client.chat.completions.create(**fields)
        choice = completion.choices[0]
        return choice.message.content or "", choice.finish_reason, completion.usage
    chunks = [
        chunk
        async for chunk in await client.chat.completions.create(
            **fields, stream=True, stream_options={"include_usage": True}
        )
    ]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = next(
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    )
    return text, finish, chunks[-1].usage


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("form", FORMS)
# Seed 3's answer is 101 tokens long: 60 cut it; seed 8's is 58: it ends first.
@pytest.mark.parametrize(("seed", "finish"), [(3, "length"), (8, "stop")])
async def test_a_prefill_of_40_tokens_and_20_more_make_the_answer_of_60(
    openai_client: openai.AsyncOpenAI,
    seen: Seen,
    request_id: str,
    form: str,
    stream: bool,
    seed: int,
    finish: str,
) -> None:
    whole, whole_finish, _ = await answer(openai_client, 60, seed=seed, stream=stream)
    prefill = _first_tokens(whole, 40)
    messages, extra_body = prefilled(prefill, form)

    rest, rest_finish, usage = await answer(
        openai_client,
        20,
        seed=seed,
        stream=stream,
        messages=messages,
        extra_body=extra_body,
        request_id=request_id,
    )

    assert count_tokens(prefill) == 40
    assert prefill + rest == whole
    assert rest_finish == whole_finish == finish
    assert usage.completion_tokens == count_tokens(rest) == count_tokens(whole) - 40
    prompt = f"user: {MESSAGES[0]['content']}\nassistant: {prefill}"
    assert usage.prompt_tokens == count_tokens(prompt)
    assert await seen(request_id) == [
        {
            "model": MODEL,
            "stream": stream,
            "prefill": len(prefill),
            "fault": "none",
            "max_tokens": 20,
        }
    ]


@pytest.mark.parametrize("form", FORMS)
async def test_a_prefill_the_answer_does_not_start_with_is_continued_the_same_each_time(
    openai_client: openai.AsyncOpenAI, form: str
) -> None:
    messages, extra_body = prefilled("Quite unexpected words", form)

    first = await answer(
        openai_client, 12, seed=3, stream=True, messages=messages, extra_body=extra_body
    )
    again = await answer(
        openai_client, 12, seed=3, stream=False, messages=messages, extra_body=extra_body
    )

    assert first[:2] == again[:2]
    text, finish, usage = first
    assert text.startswith(" ") and count_tokens(text) == usage.completion_tokens == 12
    assert finish == "length"


async def test_a_final_assistant_message_without_a_flag_is_just_a_message(
    openai_client: openai.AsyncOpenAI, seen: Seen, request_id: str
) -> None:
    whole, _, _ = await answer(openai_client, 60, seed=3, stream=False)
    messages = [*MESSAGES, {"role": "assistant", "content": whole[:40]}]

    text, finish, usage = await answer(
        openai_client, 20, seed=3, stream=False, messages=messages, request_id=request_id
    )

    assert not text.startswith(" ") and usage.completion_tokens == 20
    assert text != whole[40:][: len(text)]
    assert [attempt["prefill"] for attempt in await seen(request_id)] == [0]


@pytest.mark.parametrize(
    ("messages", "extra_body", "message"),
    [
        (
            [*MESSAGES, {"role": "assistant", "content": "Yes"}],
            {"continue_final_message": True, "add_generation_prompt": True},
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True",
        ),
        (
            [*MESSAGES, {"role": "assistant", "content": "Yes"}],
            {"continue_final_message": True},
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True",
        ),
        (MESSAGES, VLLM, "continue_final_message needs a final message from the assistant"),
        (
            [{"role": "assistant", "content": "Yes", "prefix": True}, *MESSAGES],
            None,
            "prefix is only allowed on the final message, from the assistant",
        ),
    ],
    ids=["both_flags", "generation_prompt_by_default", "final_user", "prefix_not_last"],
)
async def test_a_prefill_asked_for_wrongly_is_refused_with_a_400(
    openai_client: openai.AsyncOpenAI,
    messages: list[dict[str, Any]],
    extra_body: dict[str, Any] | None,
    message: str,
) -> None:
    with pytest.raises(openai.BadRequestError, match=message) as caught:
        await answer(
            openai_client, 5, seed=3, stream=True, messages=messages, extra_body=extra_body
        )

    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"


def _first_tokens(text: str, count: int) -> str:
    """The text of the first ``count`` tokens of ``text``, as the client received them."""
    return text[: list(TOKEN_PATTERN.finditer(text))[count - 1].end()]
