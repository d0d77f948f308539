"""The OpenAI dialect: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Answers follow :mod:`llm_gateway.simulator.answers`: text, JSON, or a tool call, with
logprobs when asked, ``n`` choices each streamed in turn; a request with an assistant
prefill (vLLM's ``continue_final_message``, Mistral's ``prefix``) gets what follows it.

Errors use OpenAI's envelope, ``{"error": {"message", "type", "param", "code"}}``. Stream frames are
assembled from pre-encoded pieces rather than serialised per token, to keep the zero-latency
benchmark path cheap.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.faults import Fault, FaultRequest, UnknownFaultError
from llm_gateway.simulator.answers import Answer, logprobs, write_answer
from llm_gateway.simulator.attempts import Attempt
from llm_gateway.simulator.protocol import ChatCompletionRequest
from llm_gateway.simulator.responses import json_body, json_text
from llm_gateway.simulator.simulation import InvalidRequestError, Simulation, read_request
from llm_gateway.simulator.textmodel import count_tokens

# What each status fault says: the status, and the type, code and message of the OpenAI
# error envelope. A context too long names its length, as OpenAI and vLLM do; a refused
# prefill is vLLM's (the chat template's) refusal.
FAULT_ERRORS: dict[Fault, tuple[int, str, str | int, str]] = {
    Fault.RATE_LIMIT: (429, "rate_limit_error", "rate_limit_exceeded", "Rate limit reached."),
    Fault.SERVER_ERROR: (500, "server_error", "internal_error", "The server had an error."),
    Fault.UNAVAILABLE: (
        503,
        "server_error",
        "service_unavailable",
        "The model is not available.",
    ),
    Fault.CONTEXT_LENGTH: (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is {limit} tokens. However, your {param} "
        "resulted in {tokens} tokens. Please reduce the length of the {param}.",
    ),
    Fault.CONTENT_FILTER: (
        400,
        "invalid_request_error",
        "content_policy_violation",
        "Your request was rejected as a result of our safety system: the prompt was flagged "
        "as possibly violating the usage policy.",
    ),
    Fault.REJECT_PREFILL: (
        400,
        "BadRequestError",
        400,
        "continue_final_message is set but the final message does not appear in the chat "
        "after applying the chat template! This can happen if the chat template deletes "
        "portions of the final message. Please verify the chat template and final message "
        "in your chat to ensure they are compatible.",
    ),
}
MALFORMED_BODY = b'{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{"index":'
MALFORMED_FRAME = b'data: {"id":"chatcmpl-malformed","choices":[{"delta":{"content":\n\n'
DONE_FRAME = b"data: [DONE]\n\n"
T = TypeVar("T")


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | int | None,
    *,
    param: str | None = None,
    retry_after: int | None = None,
) -> Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    body = json_body({"error": {"message": message, "type": type_, "param": param, "code": code}})
    return Response(body, status, headers, media_type="application/json")


async def parsed(request: Request, read: Callable[[bytes], T]) -> tuple[FaultRequest, T] | Response:
    """The request's fault header and its body read by ``read``, or the error refusing
    them, in OpenAI's envelope."""

    def refuse(exc: ValueError) -> Response:
        code = "unknown_fault" if isinstance(exc, UnknownFaultError) else "invalid_request"
        return error_response(400, str(exc), "invalid_request_error", code)

    return await read_request(request, read, refuse)


def fault_before_generation(
    simulation: Simulation,
    requested: FaultRequest,
    attempt: Attempt,
    *,
    prompt_tokens: int = 0,
    param: str = "messages",
    unplayable: frozenset[Fault] = frozenset(),
) -> tuple[Fault, Response | None]:
    """:meth:`Simulation.fault_before_generation` in OpenAI's dialect; a context too long
    is the ``prompt_tokens`` of the ``param`` the request sent."""

    def status_error(fault: Fault, retry_after: int | None) -> Response:
        status, type_, code, message = FAULT_ERRORS[fault]
        if fault is not Fault.CONTEXT_LENGTH:
            return error_response(status, message, type_, code, retry_after=retry_after)
        tokens = max(prompt_tokens, 1)
        message = message.format(limit=tokens - 1, tokens=tokens, param=param)
        return error_response(status, message, type_, code, param=param)

    return simulation.fault_before_generation(
        requested,
        attempt,
        status_error=status_error,
        gave_up=error_response(504, "The model did not answer in time.", "server_error", None),
        unplayable=unplayable,
    )


class OpenAIRoutes:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ]

    async def models(self, request: Request) -> Response:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": model.partition("/")[0]}
            for model in self.simulation.settings.models
        ]
        return Response(json_body({"object": "list", "data": data}), media_type="application/json")

    async def chat_completions(self, request: Request) -> Response:
        simulation = self.simulation
        read = await parsed(request, ChatCompletionRequest.model_validate_json)
        if isinstance(read, Response):
            return read
        requested_fault, body = read
        asked_tokens = body.max_completion_tokens or body.max_tokens
        try:
            max_tokens = simulation.max_tokens(asked_tokens)
        except InvalidRequestError as exc:
            return error_response(400, str(exc), "invalid_request_error", "invalid_request")

        prompt_tokens = count_tokens(body.prompt())
        prefill = body.prefill()
        attempt = Attempt(body.model, body.stream, asked_tokens, len(prefill or ""))
        fault, answer = fault_before_generation(
            simulation, requested_fault, attempt, prompt_tokens=prompt_tokens
        )
        if answer is not None:
            return answer

        answers = [
            write_answer(simulation.text, body, index, max_tokens) for index in range(body.n or 1)
        ]
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": sum(a.completion_tokens for a in answers),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        top = (body.top_logprobs or 0) if body.logprobs else None

        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            envelope = (
                f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
                f'"model":{json_text(body.model)}'
            )
            return self._stream(
                answers, envelope, usage if include_usage else None, fault, requested_fault, top
            )

        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [_choice(index, a, top) for index, a in enumerate(answers)],
            "usage": usage,
        }
        return simulation.whole(
            fault,
            requested_fault,
            json_body(payload),
            tokens=usage["completion_tokens"],
            malformed=MALFORMED_BODY,
        )

    def _stream(
        self,
        answers: list[Answer],
        envelope: str,
        usage: dict[str, int] | None,
        fault: Fault,
        requested: FaultRequest,
        top: int | None,
    ) -> Response:
        head = "".join(
            f'data: {envelope},"choices":[{{"index":{index},"delta":'
            f'{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}\n\n'
            for index in range(len(answers))
        )
        tokens = [
            frame
            for index, a in enumerate(answers)
            for frame in _choice_frames(envelope, index, a, top)
        ]
        tail = "".join(
            f'data: {envelope},"choices":[{{"index":{index},"delta":{{}},"logprobs":null,'
            f'"finish_reason":"{a.finish_reason}"}}]}}\n\n'
            for index, a in enumerate(answers)
        )
        if usage is not None:
            tail += f'data: {envelope},"choices":[],"usage":{json_text(usage)}}}\n\n'
        return self.simulation.stream(
            fault,
            requested,
            head=head.encode(),
            tokens=tokens,
            tail=tail.encode(),
            done=DONE_FRAME,
            bad_frame=MALFORMED_FRAME,
        )


def _choice(index: int, a: Answer, top: int | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text}
    if a.tool_call is not None:
        call = a.tool_call
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        }
    return {
        "index": index,
        "message": message,
        "logprobs": None if top is None else {"content": logprobs(a.tokens, top)},
        "finish_reason": a.finish_reason,
    }


def _choice_frames(envelope: str, index: int, a: Answer, top: int | None) -> list[bytes]:
    """The token frames of one choice: text tokens, or a tool call's id, name and pieces
    of its arguments, each delta with only the keys it carries."""
    prefix = f'data: {envelope},"choices":[{{"index":{index},"delta":'
    open_choice = '"finish_reason":null}]}\n\n'
    if a.tool_call is not None:
        call = a.tool_call
        first = {
            "index": 0,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        deltas = [first] + [
            {"index": 0, "function": {"arguments": piece}} for piece in call.pieces()
        ]
        return [
            f'{prefix}{{"tool_calls":[{json_text(d)}]}},"logprobs":null,{open_choice}'.encode()
            for d in deltas
        ]
    if top is None:
        return [
            f'{prefix}{{"content":{token.text_json}}},"logprobs":null,{open_choice}'.encode()
            for token in a.tokens
        ]
    entries = logprobs(a.tokens, top)
    return [
        f'{prefix}{{"content":{token.text_json}}},"logprobs":{{"content":[{json_text(entry)}]}},'
        f"{open_choice}".encode()
        for token, entry in zip(a.tokens, entries, strict=True)
    ]
