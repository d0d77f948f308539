"""What the ``openai`` kind sends to OpenAI's routes and reads from their answers.

A body is the client's request as the gateway received it: the fields it knows, set
only where the client set them, and every field it does not know (``top_k``,
``guided_json``, ``chat_template_kwargs``...) passed on as sent; the model id is the
upstream's. Two additions of the gateway's own: a stream asks for
``stream_options: {"include_usage": true}``, so the server counts the tokens, and a
legacy completion's ``echo`` is not sent (the gateway prepends the prompt itself).
Answers are read as plain JSON into the core's types; stream frames are read with
:mod:`llm_gateway.upstream.wire`, as the ``huggingface`` kind's are.
"""

from __future__ import annotations

import struct
from typing import Any

from llm_gateway.core.types import (
    Choice,
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    ToolCall,
    Usage,
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


def completion_call(request: CompletionRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The route and body of a completion: chat, or a legacy one (a request with a prompt)."""
    if request.prompt is None:
        return CHAT_ROUTE, chat_body(request, model)
    return COMPLETIONS_ROUTE, completion_body(request, model)


def chat_body(request: CompletionRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": request.messages}
    for name in _CHAT_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    body.update(request.extra)
    return _streamed(body, request)


def completion_body(request: CompletionRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": request.prompt}
    for name in _COMPLETION_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.logprobs:
        body["logprobs"] = request.top_logprobs or 0
    return _streamed(body, request)


def embedding_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": request.input}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return body


def _streamed(body: dict[str, Any], request: CompletionRequest) -> dict[str, Any]:
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def completion(answer: Any, request: CompletionRequest, model: str) -> Completion:
    """A chat or legacy completion, as the server answered it (a JSON object)."""
    choices = tuple(
        _chat_choice(choice) if request.prompt is None else _text_choice(choice)
        for choice in sorted(answer["choices"], key=lambda choice: choice.get("index") or 0)
    )
    if not choices:
        raise ValueError("an answer without choices")
    usage = wire.settled_usage(_usage(answer), request, choices)
    return Completion(model=model, choices=choices, usage=usage)


def completion_chunks(frame: dict[str, Any]) -> list[Chunk]:
    """The chunks of one legacy completion stream frame, its usage included."""
    chunks = []
    for choice in frame.get("choices") or ():
        text = choice.get("text") or ""
        logprobs = choice.get("logprobs")
        reason = choice.get("finish_reason")
        if text or logprobs or reason:
            chunks.append(Chunk(text=text, finish_reason=reason, logprobs=logprobs))
    usage = _usage(frame)
    if usage is not None:
        chunks.append(Chunk(usage=usage))
    return chunks


def embeddings(answer: Any, request: EmbeddingRequest, model: str) -> Embeddings:
    """The vectors, as float32 bytes, in the order of the inputs."""
    data = sorted(answer["data"], key=lambda item: item["index"])
    if len(data) != len(request.inputs):
        raise ValueError(f"{len(data)} embeddings for {len(request.inputs)} inputs")
    vectors = tuple(_float32(item["embedding"]) for item in data)
    reported = _usage(answer)
    if reported is not None and reported.prompt_tokens:
        usage = Usage(reported.prompt_tokens, 0)
    else:  # counted as the huggingface kind counts them (EmbeddingRequest.prompt_tokens)
        usage = Usage(request.prompt_tokens, 0, prompt_estimated=True)
    return Embeddings(model, vectors, usage)


def _float32(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _chat_choice(choice: dict[str, Any]) -> Choice:
    message = choice["message"]
    calls = tuple(
        ToolCall(
            id=call.get("id") or "",
            name=call["function"]["name"],
            arguments=wire.arguments_text(call["function"].get("arguments", "")),
        )
        for call in message.get("tool_calls") or ()
    )
    return Choice(
        index=choice.get("index") or 0,
        text=message.get("content"),
        finish_reason=choice.get("finish_reason"),
        tool_calls=calls,
        logprobs=choice.get("logprobs"),
    )


def _text_choice(choice: dict[str, Any]) -> Choice:
    return Choice(
        index=0,
        text=choice.get("text") or "",
        finish_reason=choice.get("finish_reason"),
        logprobs=choice.get("logprobs"),
    )


def _usage(answer: dict[str, Any]) -> Usage | None:
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
