"""What goes into ``InferenceClient``'s calls and what is read from its answers.

``huggingface_hub``'s outputs are dataclasses that are also dicts, every field present:
a later tool-call delta arrives as ``{"id": null, "function": {"name": null, ...}}``, and
the OpenAI SDK's stream accumulator breaks on keys that are present but null. So nothing
is relayed as parsed: each output becomes the core's own types here, absent fields left
out. Read by attribute only; nothing here imports ``huggingface_hub``.
"""

from __future__ import annotations

import json
from typing import Any

from llm_gateway.core.types import (
    Chunk,
    CompletionTask,
    GeneratedChoice,
    GeneratedToolCall,
    TokenUsage,
    ToolCallPiece,
)
from llm_gateway.errors import UpstreamRejected, UpstreamServerError

# The last line of an OpenAI-style stream, as huggingface_hub hands lines on (stripped).
DONE_LINE = "data: [DONE]"
# TGI's finish reasons, as OpenAI names them.
_FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


def chat_arguments(request: CompletionTask, model: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "model": model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "logprobs": request.logprobs,
        "top_logprobs": request.top_logprobs,
        "logit_bias": request.logit_bias,
        "n": request.n,
    }
    if request.extra:
        arguments["extra_body"] = request.extra
    if request.stream:
        arguments["stream_options"] = {"include_usage": True}
    return arguments


def generation_arguments(request: CompletionTask) -> dict[str, Any]:
    """``text_generation``'s parameters, within TGI's bounds: a temperature of 0 is greedy
    decoding, and a top_p of 1 is no nucleus sampling."""
    temperature = request.temperature
    top_p = request.top_p
    return {
        "details": True,
        "max_new_tokens": request.max_tokens,
        "do_sample": False if temperature == 0 else None,
        "temperature": temperature or None,
        "top_p": top_p if top_p is not None and top_p < 1 else None,
        "stop": request.stop,
        "seed": request.seed,
        "frequency_penalty": request.frequency_penalty,
        "top_n_tokens": request.top_logprobs or None,
    }


def plain(value: Any) -> Any:
    """A parsed output as plain JSON values, null fields left out."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def chat_choice(choice: Any) -> GeneratedChoice:
    message = choice.message
    calls = tuple(
        GeneratedToolCall(
            id=call.id,
            name=call.function.name,
            # TGI sends the arguments as a JSON object; OpenAI as JSON text.
            arguments=_json_text(call.function.arguments),
        )
        for call in _listed(message.tool_calls)
    )
    return GeneratedChoice(
        index=choice.index or 0,
        text=message.content,
        finish_reason=choice.finish_reason,
        tool_calls=calls,
        logprobs=None if choice.logprobs is None else plain(choice.logprobs),
    )


def chat_chunks(frame: dict[str, Any]) -> list[Chunk]:
    """The chunks of one stream frame; the role-only opening carries none.

    ``frame`` is the frame's JSON object, as :func:`sse_payload` reads it, or
    huggingface_hub's parsed output, which is also a dict (of every field, null when
    absent): item access reads both alike.
    """
    chunks = []
    for choice in frame.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") or ""
        calls = tuple(
            _tool_call_delta(call, position)
            for position, call in enumerate(_listed(delta.get("tool_calls")))
        )
        logprobs = choice.get("logprobs")
        if logprobs is not None:
            logprobs = plain(logprobs)
        reason = choice.get("finish_reason")
        if text or calls or logprobs or reason:
            chunks.append(
                Chunk(
                    text=text,
                    finish_reason=reason,
                    index=choice.get("index") or 0,
                    tool_calls=calls,
                    logprobs=logprobs,
                )
            )
    usage = frame.get("usage")
    if usage is not None:
        chunks.append(Chunk(usage=TokenUsage(usage["prompt_tokens"], usage["completion_tokens"])))
    return chunks


def sse_payload(line: str) -> dict[str, Any] | None:
    """One line of an OpenAI-style stream: its JSON object, None for any other line
    (blank, comment, ``data: [DONE]``). An error frame raises, as huggingface_hub would."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError("a stream frame that is not a JSON object")
    error = payload.get("error")
    if error is not None:
        message = f"The upstream reported an error while generating: {error}"[:500]
        if payload.get("error_type") == "validation":
            raise UpstreamRejected(message, code="upstream_rejected")
        raise UpstreamServerError(message, code="upstream_generation_error")
    return payload


def _tool_call_delta(call: dict[str, Any], position: int) -> ToolCallPiece:
    function = call.get("function") or {}
    index = call.get("index")
    return ToolCallPiece(
        index=position if index is None else index,
        id=call.get("id") or None,
        name=function.get("name") or None,
        arguments=function.get("arguments"),
    )


def _listed(calls: Any) -> list[Any]:
    # Older TGI streams one tool call as an object rather than a list of them.
    if calls is None:
        return []
    return calls if isinstance(calls, list) else [calls]


def _json_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def generated_choice(output: Any, logprobs: bool) -> tuple[GeneratedChoice, TokenUsage]:
    """A non-streamed ``text_generation`` answer (with details) as a choice and its usage."""
    details = output.details
    tokens = [token for token in details.tokens if not token.special]
    choice = GeneratedChoice(
        index=0,
        text=output.generated_text,
        finish_reason=finish_reason(details.finish_reason),
        logprobs=_text_logprobs(tokens, details.top_tokens) if logprobs else None,
    )
    return choice, TokenUsage(len(details.prefill), details.generated_tokens)


def generated_chunk(output: Any, offset: int, logprobs: bool) -> Chunk:
    """One ``text_generation`` stream frame; the last carries the finish reason."""
    token = output.token
    text = "" if token.special else token.text
    reason = None if output.details is None else finish_reason(output.details.finish_reason)
    pieces = None
    if logprobs and text:
        top = None if output.top_tokens is None else [output.top_tokens]
        pieces = _text_logprobs([token], top, offset)
    return Chunk(text=text, finish_reason=reason, logprobs=pieces)


def finish_reason(reason: Any) -> str | None:
    return None if reason is None else _FINISH_REASONS.get(str(reason), str(reason))


def _text_logprobs(tokens: list[Any], top_tokens: Any, offset: int = 0) -> dict[str, Any]:
    """OpenAI's legacy logprobs: tokens, their logprobs, the top alternatives, offsets."""
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token.text)
    top = None
    if top_tokens is not None:
        # Item access: huggingface_hub leaves the inner lists' tokens as plain dicts.
        top = [{alt["text"]: alt["logprob"] for alt in alts} for alts in top_tokens[: len(tokens)]]
    return {
        "tokens": [token.text for token in tokens],
        "token_logprobs": [token.logprob for token in tokens],
        "top_logprobs": top,
        "text_offset": offsets,
    }
