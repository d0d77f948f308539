"""``POST /v1/completions``: OpenAI's legacy text completions, one choice per prompt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import Response

from llm_gateway.core.relay import Relay
from llm_gateway.core.types import Completion, CompletionRequest, Endpoint, Usage
from llm_gateway.protocol import (
    CompletionChoice,
    CompletionLogprobs,
    TextCompletion,
)
from llm_gateway.protocol import (
    CompletionRequest as WireRequest,
)
from llm_gateway.routes.deps import Call, CallDep
from llm_gateway.routes.openapi import completion_responses
from llm_gateway.routes.streaming import CompletionFrames, event_stream, wire_usage

router = APIRouter(tags=["completions"])


@router.post(
    "/v1/completions",
    response_model=TextCompletion,
    responses=completion_responses("TextCompletion"),
    summary="Create a text completion (OpenAI's legacy completions)",
)
async def completions(body: WireRequest, call: CallDep) -> Response:
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    requests = [_request(call, body, prompt) for prompt in prompts]
    completion_id = f"cmpl-{call.context.request_id}"
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        relay = await call.stream(requests[0])
        echo = prompts[0] if body.echo else ""
        return event_stream(_frames(completion_id, created, relay, include_usage, echo), relay)
    answers = await asyncio.gather(*(call.complete(request) for request in requests))
    response = TextCompletion(
        id=completion_id,
        created=created,
        model=answers[0].model,
        choices=[
            _choice(index, answer, prompt if body.echo else "")
            for index, (prompt, answer) in enumerate(zip(prompts, answers, strict=True))
        ],
        usage=wire_usage(
            Usage(
                sum(a.usage.prompt_tokens for a in answers),
                sum(a.usage.completion_tokens for a in answers),
            )
        ),
    )
    return Response(response.model_dump_json(exclude_none=True), media_type="application/json")


def _request(call: Call, body: WireRequest, prompt: str) -> CompletionRequest:
    return call.completion_request(
        Endpoint.COMPLETIONS,
        body.model,
        body.stop,
        body.stream,
        prompt=prompt,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        logprobs=body.logprobs is not None,
        top_logprobs=body.logprobs or None,
    )


def _choice(index: int, answer: Completion, echo: str) -> CompletionChoice:
    choice = answer.choices[0]
    logprobs = None if choice.logprobs is None else CompletionLogprobs(**choice.logprobs)
    return CompletionChoice(
        text=echo + (choice.text or ""),
        index=index,
        logprobs=logprobs,
        finish_reason=choice.finish_reason,
    )


async def _frames(
    completion_id: str, created: int, relay: Relay, include_usage: bool, echo: str
) -> AsyncIterator[bytes]:
    frames = CompletionFrames(completion_id, created, relay.model)
    async for chunk in relay:
        if chunk.usage is not None:
            if include_usage:
                yield frames.usage(chunk.usage)
            continue
        yield frames.content(chunk, echo + chunk.text)
        echo = ""
