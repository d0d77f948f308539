"""``POST /v1/completions``: OpenAI's legacy text completions, one choice per prompt.

Each prompt is its own request to the core (measured on its own); a stream of several
prompts streams them one after another, each choice with its index.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.relay import Relay
from llm_gateway.core.types import Completion, CompletionTask, Endpoint, TokenUsage
from llm_gateway.protocol import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    TextCompletion,
)
from llm_gateway.protocol.completions import DEFAULT_MAX_TOKENS
from llm_gateway.routes.completion_request import servable_prompts
from llm_gateway.routes.deps import Call, CallDep, stop_sequences
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.routes.openapi import SIMULATOR_HEADERS, completion_responses
from llm_gateway.routes.streaming import CompletionFrames, event_stream, wire_usage

router = APIRouter(tags=["completions"], route_class=DoorRoute)


@router.post(
    "/v1/completions",
    response_model=TextCompletion,
    responses=completion_responses("TextCompletion"),
    summary="Create a text completion (OpenAI's legacy completions)",
    openapi_extra=SIMULATOR_HEADERS,
)
async def completions(body: CompletionRequest, call: CallDep) -> Response:
    prompts = servable_prompts(body)
    requests = [_request(call, body, prompt) for prompt in prompts]
    echoes = prompts if body.echo else [""] * len(prompts)
    completion_id = f"cmpl-{call.origin.request_id}"
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        relays = _Relays([await call.stream(requests[0])])
        frames = _frames(call, completion_id, created, relays, requests, echoes, include_usage)
        return event_stream(frames, relays)
    answers = await asyncio.gather(*(call.complete(request) for request in requests))
    response = TextCompletion(
        id=completion_id,
        created=created,
        model=answers[0].model,
        choices=[
            _choice(index, answer, echo)
            for index, (echo, answer) in enumerate(zip(echoes, answers, strict=True))
        ],
        usage=wire_usage(
            TokenUsage(
                sum(a.usage.prompt_tokens for a in answers),
                sum(a.usage.completion_tokens for a in answers),
            )
        ),
    )
    # OpenAI's schema requires logprobs (null when not asked for); top_logprobs is optional.
    without_top = {
        index: {"logprobs": {"top_logprobs"}}
        for index, choice in enumerate(response.choices)
        if choice.logprobs is not None and choice.logprobs.top_logprobs is None
    }
    rendered = response.model_dump_json(exclude={"choices": without_top})
    return Response(rendered, media_type="application/json")


def _request(call: Call, body: CompletionRequest, prompt: str) -> CompletionTask:
    return CompletionTask(
        origin=call.origin,
        endpoint=Endpoint.COMPLETIONS,
        model=body.model,
        stop=stop_sequences(body.stop),
        stream=bool(body.stream),
        prompt=prompt,
        max_tokens=DEFAULT_MAX_TOKENS if body.max_tokens is None else body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        logprobs=body.logprobs is not None,
        top_logprobs=body.logprobs or None,
    )


def _choice(index: int, answer: Completion, echo: str) -> CompletionChoice:
    choice = answer.choices[0]
    logprobs = _shifted(choice.logprobs, len(echo))
    return CompletionChoice(
        text=echo + (choice.text or ""),
        index=index,
        logprobs=None if logprobs is None else CompletionLogprobs(**logprobs),
        finish_reason=choice.finish_reason,
    )


def _shifted(logprobs: dict[str, Any] | None, by: int) -> dict[str, Any] | None:
    """Text offsets count from the start of the choice's text, an echoed prompt included."""
    if logprobs is None or not by:
        return logprobs
    return {**logprobs, "text_offset": [offset + by for offset in logprobs["text_offset"]]}


class _Relays:
    """The streams of a request's prompts, opened one after another, closed together."""

    def __init__(self, opened: list[Relay]) -> None:
        self.opened = opened

    async def aclose(self) -> None:
        for relay in self.opened:
            await relay.aclose()


async def _frames(
    call: Call,
    completion_id: str,
    created: int,
    relays: _Relays,
    requests: list[CompletionTask],
    echoes: list[str],
    include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    frames = CompletionFrames(completion_id, created, relays.opened[0].model)
    for index, (request, echo) in enumerate(zip(requests, echoes, strict=True)):
        if index:
            relays.opened.append(await call.stream(request))
        pending = echo
        async for chunk in relays.opened[index]:
            if chunk.usage is not None:
                if include_usage:
                    yield frames.usage(chunk.usage)
                continue
            text = pending + chunk.text
            yield frames.content(chunk, text, index, _shifted(chunk.logprobs, len(echo)))
            pending = ""
