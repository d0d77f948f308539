"""What goes into ``InferenceClient``'s calls and what is read from its answers.

``huggingface_hub``'s outputs are dataclasses that are also dicts, every field present:
a later tool-call delta arrives as ``{"id": null, "function": {"name": null, ...}}``, and
the OpenAI SDK's stream accumulator breaks on keys that are present but null. So nothing
is relayed as parsed: each output becomes the core's own types here, absent fields left
out. Nothing here imports ``huggingface_hub``.

An answer is read as data, never trusted: every value is read by key (the outputs are
dicts too) and checked for its type, and an answer of the wrong shape raises
:class:`~llm_gateway.errors.UpstreamBadResponse` (502) from here. Anything else raised
here is a bug of ours, and stays one: :func:`~llm_gateway.upstream.errors.mapped_errors`
maps only what the client library raises, so it ends as a 500 ``internal_error``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import count
from typing import Any

import orjson

from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionTask,
    GeneratedChoice,
    GeneratedToolCall,
    TokenUsage,
    ToolCallPiece,
)
from llm_gateway.errors import UpstreamBadResponse

# TGI's finish reasons, as OpenAI names them.
_FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


def chat_arguments(request: CompletionTask, model: str) -> dict[str, Any]:
    temperature, top_p = _sampling(request)
    arguments: dict[str, Any] = {
        "model": model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stop": request.stop,
        "seed": _seed(request.seed),
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
    temperature, top_p = _sampling(request)
    return {
        "details": True,
        "max_new_tokens": request.max_tokens,
        "do_sample": False if temperature == 0 else None,
        "temperature": temperature or None,
        "top_p": top_p if top_p is not None and top_p < 1 else None,
        "stop": request.stop,
        "seed": _seed(request.seed),
        "frequency_penalty": request.frequency_penalty,
        "top_n_tokens": request.top_logprobs or None,
    }


def _sampling(request: CompletionTask) -> tuple[float | None, float | None]:
    """Temperature and top_p as TGI takes them: a nucleus of mass 0 (OpenAI allows it, TGI
    requires more) keeps only the likeliest token, which is greedy decoding."""
    if request.top_p == 0:
        return 0.0, None
    return request.temperature, request.top_p


def _seed(seed: int | None) -> int | None:
    """OpenAI's seed is signed, TGI's unsigned: a negative one goes as its two's complement."""
    return None if seed is None else seed % 2**64


def parsed(text: str | bytes) -> Any:
    """The value of an upstream's JSON text; :func:`malformed` raised if it is none.

    orjson reads it, four times as fast as the standard library's ``json`` (0.6 us against
    2.5 for a stream frame, once a token). What orjson refuses and ``json`` takes (NaN and
    Infinity, numbers past a double's range, lone surrogates) ``json`` reads; so the
    gateway takes what it took before. One value reads differently: an integer past 64
    bits is a float to orjson (no count the gateway reads is that large).
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json goes
        raise malformed() from None


def malformed() -> UpstreamBadResponse:
    """An answer of a shape the gateway cannot read."""
    return UpstreamBadResponse(
        "The upstream answered with a response the gateway cannot read.",
        code="upstream_bad_response",
    )


def as_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise malformed()


def as_array(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise malformed()


def as_count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise malformed()


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise malformed()


def reported_usage(usage: Any) -> TokenUsage | None:
    """The usage an answer reports, None if none; a count left out is 0 (embedding
    routes report no completion tokens), estimated later where text was read or written
    (:meth:`TokenUsage.settled`)."""
    if usage is None:
        return None
    usage = as_object(usage)
    return TokenUsage(
        as_count(usage.get("prompt_tokens") or 0), as_count(usage.get("completion_tokens") or 0)
    )


def plain(value: Any) -> Any:
    """A parsed output as plain JSON values, null fields left out."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _logprobs(value: Any) -> dict[str, Any] | None:
    """A chat choice's logprobs in OpenAI's shape: ``content`` and ``refusal`` (null when
    the upstream has none), each token with its ``bytes``. huggingface_hub's parsed answers
    drop the bytes the upstream sent, so they are computed then: the token's UTF-8."""
    if value is None:
        return None
    logprobs = as_object(value)
    return {key: _tokens(logprobs.get(key), top=True) for key in ("content", "refusal")}


def _tokens(tokens: Any, top: bool) -> list[dict[str, Any]] | None:
    if tokens is None:
        return None
    return [_token(token, top) for token in as_array(tokens)]


def _token(sent: Any, top: bool) -> dict[str, Any]:
    token: dict[str, Any] = plain(as_object(sent))
    if "bytes" not in token:
        token["bytes"] = list((as_text(token.get("token")) or "").encode(errors="surrogatepass"))
    if top:
        token["top_logprobs"] = _tokens(token.get("top_logprobs") or [], top=False)
    return token


def chat_completion(output: Any, request: CompletionTask, model: str) -> Completion:
    """A whole chat answer (``chat_completion``'s, or the JSON of OpenAI's route), for
    ``model``."""
    answer = as_object(output)
    choices = answered(chat_choice(choice) for choice in as_array(answer.get("choices")))
    usage = settled_usage(reported_usage(answer.get("usage")), request, choices)
    # The id is only for the trace (gen_ai.response.id): never a reason to refuse an answer.
    response_id = answer.get("id")
    return Completion(
        model=model,
        choices=choices,
        usage=usage,
        response_id=response_id if isinstance(response_id, str) else None,
    )


def answered(choices: Iterable[GeneratedChoice]) -> tuple[GeneratedChoice, ...]:
    """An answer's choices in the order of their index; an answer needs one."""
    ordered = tuple(sorted(choices, key=lambda choice: choice.index))
    if not ordered:
        raise malformed()
    return ordered


def chat_choice(choice: Any) -> GeneratedChoice:
    choice = as_object(choice)
    message = as_object(choice.get("message"))
    calls = []
    for call in _listed(message.get("tool_calls")):
        function = as_object(as_object(call).get("function"))
        name, arguments = function.get("name"), function.get("arguments")
        if not isinstance(call.get("id"), str) or not isinstance(name, str):
            raise malformed()
        # TGI sends the arguments as a JSON object; OpenAI as JSON text.
        calls.append(
            GeneratedToolCall(id=call["id"], name=name, arguments=arguments_text(arguments))
        )
    return GeneratedChoice(
        index=as_count(choice.get("index") or 0),
        text=as_text(message.get("content")),
        finish_reason=as_text(choice.get("finish_reason")),
        tool_calls=tuple(calls),
        logprobs=_logprobs(choice.get("logprobs")),
    )


def chat_chunks(frame: dict[str, Any]) -> list[Chunk]:
    """The chunks of one stream frame; the role-only opening carries none.

    ``frame`` is the frame's JSON object, as :func:`~llm_gateway.upstream.sse.sse_payload`
    reads it, or huggingface_hub's parsed output, which is also a dict (of every field,
    null when absent): item access reads both alike. It runs once a token, so the checks
    of :func:`as_object` and :func:`as_text` are written out rather than called.
    """
    chunks = []
    choices = frame.get("choices") or []
    if not isinstance(choices, list):
        raise malformed()
    for choice in choices:
        if not isinstance(choice, dict):
            raise malformed()
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise malformed()
        text = delta.get("content")
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise malformed()
        reason = choice.get("finish_reason")
        if reason is not None and not isinstance(reason, str):
            raise malformed()
        calls = delta.get("tool_calls")
        # Most frames have none: no generator built for them (about a third of the cost).
        calls = () if calls is None else tuple(map(_tool_call_piece, _listed(calls), count()))
        logprobs = choice.get("logprobs")
        if logprobs is not None:
            logprobs = _logprobs(logprobs)
        if text or calls or logprobs or reason:
            index = choice.get("index")
            index = as_count(index) if index else 0
            # By position: keywords cost a dict a chunk (0.4 us against 0.2).
            chunks.append(Chunk(text, reason, None, index, calls, logprobs))
    usage = frame.get("usage")
    if usage is not None:
        chunks.append(Chunk(usage=reported_usage(usage)))
    return chunks


def settled_usage(
    reported: TokenUsage | None, request: CompletionTask, choices: tuple[GeneratedChoice, ...]
) -> TokenUsage:
    """A whole answer's usage: the upstream's, estimated where it reported none."""
    chars = sum(
        len(choice.text or "") + sum(len(call.arguments) for call in choice.tool_calls)
        for choice in choices
    )
    return TokenUsage.settled(reported, request.prompt_chars, chars)


def _tool_call_piece(call: Any, position: int) -> ToolCallPiece:
    call = as_object(call)
    function = as_object(call.get("function") or {})
    index = call.get("index")
    return ToolCallPiece(
        index=position if index is None else as_count(index),
        id=as_text(call.get("id")) or None,
        name=as_text(function.get("name")) or None,
        arguments=as_text(function.get("arguments")),
    )


def _listed(calls: Any) -> list[Any]:
    # Older TGI streams one tool call as an object rather than a list of them.
    if calls is None:
        return []
    return calls if isinstance(calls, list) else [calls]


def arguments_text(arguments: Any) -> str:
    """A tool call's arguments as JSON text, as OpenAI sends them (TGI sends an object)."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def generated_completion(output: Any, request: CompletionTask, model: str) -> Completion:
    """A whole ``text_generation`` answer (with details), for ``model``."""
    answer = as_object(output)
    details = as_object(answer.get("details"))
    tokens = [
        token
        for token in map(as_object, as_array(details.get("tokens")))
        if not token.get("special")
    ]
    choice = GeneratedChoice(
        index=0,
        text=as_text(answer.get("generated_text")),
        finish_reason=finish_reason(details.get("finish_reason")),
        logprobs=_text_logprobs(tokens, details.get("top_tokens")) if request.logprobs else None,
    )
    # An empty prefill (no decoder_input_details): the prompt's tokens are estimated.
    reported = TokenUsage(
        len(as_array(details.get("prefill"))), as_count(details.get("generated_tokens"))
    )
    usage = settled_usage(reported, request, (choice,))
    return Completion(model=model, choices=(choice,), usage=usage)


def generated_chunks(output: Any, offset: int, logprobs: bool) -> list[Chunk]:
    """One ``text_generation`` stream frame, its text at ``offset``; the last carries the
    finish reason, then the usage."""
    frame = as_object(output)
    token = as_object(frame.get("token"))
    text = "" if token.get("special") else as_text(token.get("text")) or ""
    details = frame.get("details")
    pieces = None
    if logprobs and text:
        top = frame.get("top_tokens")
        pieces = _text_logprobs([token], None if top is None else [top], offset)
    if details is None:
        return [Chunk(text=text, logprobs=pieces)]
    details = as_object(details)
    reason = finish_reason(details.get("finish_reason"))
    # TGI before 2.1 sends no input_length.
    prompt_tokens = as_count(details.get("input_length") or 0)
    usage = TokenUsage(prompt_tokens, as_count(details.get("generated_tokens")))
    return [Chunk(text=text, finish_reason=reason, logprobs=pieces), Chunk(usage=usage)]


def finish_reason(reason: Any) -> str | None:
    return None if reason is None else _FINISH_REASONS.get(str(reason), str(reason))


def _text_logprobs(
    tokens: list[dict[str, Any]], top_tokens: Any, offset: int = 0
) -> dict[str, Any]:
    """OpenAI's legacy logprobs: tokens, their logprobs, the top alternatives, offsets."""
    texts = [as_text(token.get("text")) or "" for token in tokens]
    offsets = []
    for text in texts:
        offsets.append(offset)
        offset += len(text)
    logprobs: dict[str, Any] = {
        "tokens": texts,
        "token_logprobs": [token.get("logprob") for token in tokens],
    }
    # Without alternatives (logprobs 0) the key is left out: OpenAI's schema has no null.
    if top_tokens is not None:
        logprobs["top_logprobs"] = [
            {
                as_text(alt.get("text")) or "": alt.get("logprob")
                for alt in map(as_object, as_array(alts))
            }
            for alts in as_array(top_tokens)[: len(tokens)]
        ]
    logprobs["text_offset"] = offsets
    return logprobs
