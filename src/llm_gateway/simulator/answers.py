"""What the simulated model answers a chat request: text, JSON, or a call of one of its tools.

Deterministic for a request: the prompt, seed and choice index pick the text, the tool
and the arguments. A request with tools calls one (``tool_choice`` honoured: ``none``
answers in text, a named tool is the one called, ``auto`` answers a tool's result in text
so that agent loops end); ``response_format`` asks for JSON that validates against its
schema. Every answer is cut into tokens, which usage counts and streams carry.

A request with a prefill (see ``ChatCompletionRequest.prefill``) gets only what follows
it: the answer to the conversation before the prefill, less the prefill, ``max_tokens``
counting what follows only. So a stream cut after k tokens and continued with those k
tokens as the prefill gives, put together, the very answer an unbroken request gets,
finish reason included. A prefill the answer does not start with is continued with text
written for the whole conversation, prefill included, as a new sentence. A prefilled
answer is text (or JSON), never a tool call: the model is already writing.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from llm_gateway.simulator.protocol import ChatCompletionRequest
from llm_gateway.simulator.structured import instance
from llm_gateway.simulator.textmodel import (
    FinishReason,
    TextModel,
    Token,
    alternatives,
    count_tokens,
    token_of,
)

# A token of JSON text: optional whitespace, then a word or one punctuation mark.
_JSON_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")
# Argument pieces a streamed tool call is cut into.
ARGUMENT_PIECES = 4


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def pieces(self) -> list[str]:
        size = -(-len(self.arguments) // ARGUMENT_PIECES) or 1
        return [self.arguments[i : i + size] for i in range(0, len(self.arguments), size)]


@dataclass(frozen=True, slots=True)
class Answer:
    """One choice: text tokens, or one tool call, and how it finished."""

    tokens: tuple[Token, ...]
    finish_reason: str
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        return "".join(token.text for token in self.tokens)

    @property
    def completion_tokens(self) -> int:
        if self.tool_call is not None:
            return max(1, len(_JSON_TOKEN.findall(self.tool_call.arguments)))
        return len(self.tokens)


def write_answer(
    text: TextModel, body: ChatCompletionRequest, index: int, max_tokens: int
) -> Answer:
    """Choice ``index`` of the answer to ``body``, at most ``max_tokens`` long."""
    prefill = body.prefill()
    if prefill is None:
        return _answer(text, body, body.prompt(), index, max_tokens)
    whole = _answer(
        text, body, body.prompt(without_prefill=True), index, count_tokens(prefill) + max_tokens
    )
    rest = _after(whole.tokens, prefill)
    if rest is None:
        seed = body.seed if index == 0 else hash((body.seed, index))
        completion = text.complete(
            body.prompt(),
            seed=seed,
            max_tokens=max_tokens,
            stop=body.stop_sequences(),
            mid_text=not prefill[-1].isspace(),
        )
        return Answer(completion.tokens, _finish(completion.finish_reason))
    if len(rest) > max_tokens:
        return Answer(rest[:max_tokens], "length")
    return Answer(rest, whole.finish_reason)


def _after(tokens: tuple[Token, ...], prefill: str) -> tuple[Token, ...] | None:
    """The tokens that follow ``prefill`` in the text ``tokens`` make (a token the prefill
    ends inside gives its rest), or None if that text does not start with it."""
    if not "".join(token.text for token in tokens).startswith(prefill):
        return None
    offset = 0
    for index, token in enumerate(tokens):
        end = offset + len(token.text)
        if end > len(prefill):
            if offset >= len(prefill):
                return tokens[index:]
            return (token.rest(len(prefill) - offset), *tokens[index + 1 :])
        offset = end
    return ()


def _answer(
    text: TextModel, body: ChatCompletionRequest, prompt: str, index: int, max_tokens: int
) -> Answer:
    seed = body.seed if index == 0 else hash((body.seed, index))
    rng = random.Random(_digest(f"{seed}\x00{index}\x00{prompt}"))
    tool = None if body.prefill() is not None else _tool_to_call(body, rng)
    if tool is not None:
        function = tool.get("function") or {}
        arguments = json.dumps(instance(function.get("parameters") or {}, rng))
        call_id = f"call_{_digest(f'{index}{prompt}') % 16**24:024x}"
        return Answer((), "tool_calls", ToolCall(call_id, function.get("name", ""), arguments))
    schema = _json_schema(body.response_format)
    if schema is None:
        completion = text.complete(
            prompt, seed=seed, max_tokens=max_tokens, stop=body.stop_sequences()
        )
        return Answer(completion.tokens, _finish(completion.finish_reason))
    tokens = tuple(
        token_of(piece, -round(rng.random() / 10, 4))
        for piece in _JSON_TOKEN.findall(json.dumps(instance(schema, rng)))
    )
    if len(tokens) > max_tokens:
        return Answer(tokens[:max_tokens], "length")
    return Answer(tokens, "stop")


def _finish(reason: FinishReason) -> str:
    return "length" if reason is FinishReason.LENGTH else "stop"


def logprobs(tokens: tuple[Token, ...], top: int) -> list[dict[str, Any]]:
    """OpenAI's per-token logprobs, with ``top`` alternatives drawn from the vocabulary."""
    return [
        {
            **_logprob(token),
            "top_logprobs": [_logprob(alt) for alt in alternatives(token, top)],
        }
        for token in tokens
    ]


def _logprob(token: Token) -> dict[str, Any]:
    return {"token": token.text, "logprob": token.logprob, "bytes": list(token.text.encode())}


def _tool_to_call(body: ChatCompletionRequest, rng: random.Random) -> dict[str, Any] | None:
    tools = body.tools or []
    choice = body.tool_choice
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
    if choice != "required" and body.messages[-1].role == "tool":
        return None  # the tool answered: the model says so in words
    return rng.choice(tools)


def _json_schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema the answer must follow: OpenAI's ``json_schema``, TGI's ``json`` or
    ``json_object`` with a ``value`` (what InferenceClient turns ``json_schema`` into), or
    an object of any keys for a bare ``json_object``."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {}
    if kind in ("json", "json_object"):
        value = response_format.get("value")
        if isinstance(value, dict):
            return value
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
    return None


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
