"""What the ``openai`` kind sends to OpenAI's routes and reads from their answers.

A body is the client's request as the gateway received it: the fields it knows, set
only where the client set them, and every field it does not know (``top_k``,
``guided_json``, ``chat_template_kwargs``...) passed on as sent; the model id is the
upstream's. Two additions of the gateway's own: a stream asks for
``stream_options: {"include_usage": true}``, so the server counts the tokens, and a
legacy completion's ``echo`` is not sent (the gateway prepends the prompt itself).
Answers are read as plain JSON into the core's types, checked as
:mod:`llm_gateway.upstream.wire` checks the ``huggingface`` kind's (which also reads
chat answers and stream frames for both): JSON of another shape raises
:class:`~llm_gateway.errors.UpstreamBadResponse`.
"""

from __future__ import annotations

import struct
from typing import Any

from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
    GeneratedChoice,
    TokenUsage,
)
from llm_gateway.upstream import wire

CHAT_ROUTE = "/chat/completions"
COMPLETIONS_ROUTE = "/completions"
EMBEDDINGS_ROUTE = "/embeddings"
# The chat fields the gateway knows, sent when the client set them.
_CHAT_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "n",
)
_COMPLETION_FIELDS = ("max_tokens", "temperature", "top_p", "stop", "seed", "frequency_penalty")


def api_root(base_url: str) -> str:
    """Where OpenAI's routes are under ``base_url``: a URL whose path ends in ``/v1``
    (``https://router.huggingface.co/v1``) is the API root itself; any other gets ``/v1``
    appended (``http://vllm:8000`` serves ``http://vllm:8000/v1/chat/completions``)."""
    base_url = base_url.rstrip("/")
    return base_url if base_url.endswith("/v1") else f"{base_url}/v1"


def completion_call(request: CompletionTask, model: str) -> tuple[str, dict[str, Any]]:
    """The route and body of a completion: chat, or a legacy one (a request with a prompt)."""
    if request.prompt is None:
        return CHAT_ROUTE, chat_body(request, model)
    return COMPLETIONS_ROUTE, completion_body(request, model)


def chat_body(request: CompletionTask, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": request.messages}
    for name in _CHAT_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    body.update(request.extra)
    return _streamed(body, request)


def completion_body(request: CompletionTask, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": request.prompt}
    for name in _COMPLETION_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.logprobs:
        body["logprobs"] = request.top_logprobs or 0
    return _streamed(body, request)


def embedding_body(request: EmbeddingTask, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": request.input}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return body


def _streamed(body: dict[str, Any], request: CompletionTask) -> dict[str, Any]:
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def completion(answer: Any, request: CompletionTask, model: str) -> Completion:
    """A chat or legacy completion, as the server answered it (a JSON object)."""
    if request.prompt is None:
        return wire.chat_completion(answer, request, model)
    answer = wire.as_object(answer)
    choices = wire.answered(_text_choice(choice) for choice in wire.as_array(answer.get("choices")))
    usage = wire.settled_usage(wire.reported_usage(answer.get("usage")), request, choices)
    return Completion(model=model, choices=choices, usage=usage)


def completion_chunks(frame: dict[str, Any]) -> list[Chunk]:
    """The chunks of one legacy completion stream frame, its usage included."""
    chunks = []
    for choice in wire.as_array(frame.get("choices") or []):
        choice = wire.as_object(choice)
        text = wire.as_text(choice.get("text")) or ""
        logprobs = _logprobs(choice.get("logprobs"))
        reason = wire.as_text(choice.get("finish_reason"))
        if text or logprobs or reason:
            chunks.append(Chunk(text=text, finish_reason=reason, logprobs=logprobs))
    usage = wire.reported_usage(frame.get("usage"))
    if usage is not None:
        chunks.append(Chunk(usage=usage))
    return chunks


def embeddings(answer: Any, request: EmbeddingTask, model: str) -> Embeddings:
    """The vectors, as float32 bytes, in the order of the inputs."""
    answer = wire.as_object(answer)
    data = sorted(
        map(wire.as_object, wire.as_array(answer.get("data"))),
        key=lambda item: wire.as_count(item.get("index")),
    )
    if len(data) != len(request.inputs):
        raise wire.malformed()
    vectors = tuple(_float32(wire.as_array(item.get("embedding"))) for item in data)
    reported = wire.reported_usage(answer.get("usage"))
    if reported is not None and reported.prompt_tokens:
        usage = TokenUsage(reported.prompt_tokens, 0)
    else:  # counted as the huggingface kind counts them (EmbeddingTask.prompt_tokens)
        usage = TokenUsage(request.prompt_tokens, 0, prompt_estimated=True)
    return Embeddings(model, vectors, usage)


def _float32(values: list[Any]) -> bytes:
    if not all(type(value) in (int, float) for value in values):
        raise wire.malformed()
    try:
        return struct.pack(f"<{len(values)}f", *values)
    except OverflowError:  # a number beyond float32's range
        raise wire.malformed() from None


def _text_choice(choice: Any) -> GeneratedChoice:
    choice = wire.as_object(choice)
    return GeneratedChoice(
        index=wire.as_count(choice.get("index") or 0),
        text=wire.as_text(choice.get("text")) or "",
        finish_reason=wire.as_text(choice.get("finish_reason")),
        logprobs=_logprobs(choice.get("logprobs")),
    )


def _logprobs(value: Any) -> dict[str, Any] | None:
    # Null keys left out (plain): a server's "top_logprobs": null (logprobs 0) is not
    # OpenAI's schema, which has an array or nothing.
    return None if value is None else wire.plain(wire.as_object(value))
