"""What goes into ``InferenceClient``'s calls and what is read from its answers.

``huggingface_hub``'s outputs are dataclasses that are also dicts, every field present:
a later tool-call delta arrives as ``{"id": null, "function": {"name": null, ...}}``, and
the OpenAI SDK's stream accumulator breaks on keys that are present but null. So nothing
is relayed as parsed: each output becomes the core's own types here, absent fields left
out. Read by attribute only; nothing here imports ``huggingface_hub``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import Any

from llm_gateway.core.types import (
    Choice,
    Chunk,
    CompletionRequest,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llm_gateway.errors import UpstreamRejected, UpstreamServerError
from llm_gateway.upstream.statuses import error_of

# The last line of an OpenAI-style stream, as huggingface_hub hands lines on (stripped).
DONE_LINE = "data: [DONE]"
# TGI's finish reasons, as OpenAI names them.
_FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


def chat_arguments(request: CompletionRequest, model: str) -> dict[str, Any]:
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


def generation_arguments(request: CompletionRequest) -> dict[str, Any]:
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


def chat_choice(choice: Any) -> Choice:
    message = choice.message
    calls = tuple(
        ToolCall(
            id=call.id,
            name=call.function.name,
            arguments=arguments_text(call.function.arguments),
        )
        for call in _listed(message.tool_calls)
    )
    return Choice(
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
        chunks.append(Chunk(usage=Usage(usage["prompt_tokens"], usage["completion_tokens"])))
    return chunks


def settled_usage(
    reported: Usage | None, request: CompletionRequest, choices: tuple[Choice, ...]
) -> Usage:
    """A whole answer's usage: the upstream's, estimated where it reported none."""
    chars = sum(
        len(choice.text or "") + sum(len(call.arguments) for call in choice.tool_calls)
        for choice in choices
    )
    return Usage.settled(reported, request.prompt_chars, chars)


def sse_payload(line: str, secrets: Collection[str] = ()) -> dict[str, Any] | None:
    """One line of an OpenAI-style stream: its JSON object, None for any other line
    (blank, comment, ``data: [DONE]``). An error frame raises, with the upstream's message
    and code (``secrets`` scrubbed), as huggingface_hub would."""
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
        said, code = error_of(error, secrets)
        message = f"The upstream reported an error while generating: {said}"
        if payload.get("error_type") == "validation":
            raise UpstreamRejected(message, code=code or "upstream_rejected")
        if code:
            message = f"{message} [{code}]"
        raise UpstreamServerError(message, code="upstream_generation_error")
    return payload


class StreamCheck:
    """What the gateway makes sure of in a stream it relays, whichever the upstream.

    * A tool call is named once: a server that repeats a call's id and name in each of
      its deltas (llama.cpp does) has the repeats dropped, so clients (the OpenAI SDK
      concatenates what it is sent) and ``llm_gateway_tool_calls_total`` see one call.
    * It finished: a stream that ends without a finish reason (cut off, or abandoned
      with no frame at all) is an upstream error, never a success.
    * Its usage is counted: the upstream's, held back to the end, estimated where it
      reported none (see :meth:`Usage.settled`).
    """

    __slots__ = ("_calls", "_chars", "_pieces", "_prompt_chars", "_usage", "finished")

    def __init__(self, prompt_chars: int) -> None:
        self._prompt_chars = prompt_chars
        self._calls: set[tuple[int, int]] = set()
        self._chars = 0
        self._pieces = 0
        self._usage: Usage | None = None
        self.finished = False

    def checked(self, chunks: list[Chunk]) -> list[Chunk]:
        """A stream frame's chunks, checked; its usage is held back for :meth:`end`."""
        checked = []
        for chunk in chunks:
            if chunk.usage is not None:
                self.reported(chunk.usage)
            else:
                checked.append(self.seen(chunk))
        return checked

    def reported(self, usage: Usage) -> None:
        self._usage = usage

    def seen(self, chunk: Chunk) -> Chunk:
        """The chunk to relay, a piece of text or tool calls, or a finish."""
        if chunk.finish_reason is not None:
            self.finished = True
        if chunk.text:
            self._chars += len(chunk.text)
            self._pieces += 1
        if chunk.tool_calls:
            self._pieces += 1
            chunk = replace(chunk, tool_calls=tuple(self._named_once(chunk)))
        return chunk

    def end(self) -> Chunk:
        """The stream's last chunk, its usage; raises if it never finished."""
        if not self.finished:
            raise UpstreamServerError(
                "The upstream ended the stream before it finished (no finish reason).",
                code="upstream_stream_incomplete",
            )
        usage = Usage.settled(self._usage, self._prompt_chars, self._chars, self._pieces)
        return Chunk(usage=usage)

    def _named_once(self, chunk: Chunk) -> Iterator[ToolCallDelta]:
        for call in chunk.tool_calls:
            self._chars += len(call.arguments or "")
            key = (chunk.index, call.index)
            if key not in self._calls:
                if call.name is not None:
                    self._calls.add(key)
                yield call
            elif call.id is not None or call.name is not None:
                yield replace(call, id=None, name=None)
            else:
                yield call


def _tool_call_delta(call: dict[str, Any], position: int) -> ToolCallDelta:
    function = call.get("function") or {}
    index = call.get("index")
    return ToolCallDelta(
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


def arguments_text(arguments: Any) -> str:
    """A tool call's arguments as JSON text, as OpenAI sends them (TGI sends an object)."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def generated_choice(output: Any, logprobs: bool) -> tuple[Choice, Usage]:
    """A non-streamed ``text_generation`` answer (with details) as a choice and its usage."""
    details = output.details
    tokens = [token for token in details.tokens if not token.special]
    choice = Choice(
        index=0,
        text=output.generated_text,
        finish_reason=finish_reason(details.finish_reason),
        logprobs=_text_logprobs(tokens, details.top_tokens) if logprobs else None,
    )
    return choice, Usage(len(details.prefill), details.generated_tokens)


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
