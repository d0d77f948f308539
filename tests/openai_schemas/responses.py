"""JSON Schemas (draft 2020-12) of what the gateway answers on OpenAI's doors.

Written from OpenAI's published API description: github.com/openai/openai-openapi,
``openapi.json`` (MIT), read at commit f85dbe223d40 (August 2026), its component schemas
``CreateChatCompletionResponse``, ``ChatCompletionResponseMessage``,
``ChatCompletionMessageToolCall``, ``ChatCompletionTokenLogprob``, ``CompletionUsage``,
``CreateChatCompletionStreamResponse``, ``ChatCompletionStreamResponseDelta``,
``ChatCompletionMessageToolCallChunk``, ``CreateCompletionResponse``,
``CreateEmbeddingResponse``, ``Embedding``, ``Model``, ``ListModelsResponse``,
``ErrorResponse`` and ``Error``. Not a copy: what an answer must satisfy (required keys,
nullability, types, enums), with objects left open (``additionalProperties`` unset) as
the published schemas leave them, so the gateway's own extras (``root``, ``kind``,
``upstream`` on models) are allowed. Where the published description is wrong about
what OpenAI really answers, the schema here says so and follows the real answers.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def const(value: str) -> Schema:
    return {"type": "string", "enum": [value]}


def object_with(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _envelope(kind: str, choice: Schema, usage: Schema) -> Schema:
    """The object every completion answer shares: id, kind, time, model, choices, usage."""
    return object_with(
        {
            "id": STRING,
            "object": const(kind),
            "created": INTEGER,
            "model": STRING,
            "choices": {"type": "array", "items": choice},
        },
        {"usage": usage},
    )


# CompletionUsage: the three counts are required; the details objects are optional.
USAGE = object_with(
    {"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER}
)

# ChatCompletionTokenLogprob: ``bytes`` is required (an array of integers, or null when a
# token has no bytes representation), and so is ``top_logprobs``.
_TOP_LOGPROB = object_with(
    {
        "token": STRING,
        "logprob": {"type": "number"},
        "bytes": {"type": ["array", "null"], "items": INTEGER},
    }
)
TOKEN_LOGPROB = object_with(
    {**_TOP_LOGPROB["properties"], "top_logprobs": {"type": "array", "items": _TOP_LOGPROB}}
)
# The choice's ``logprobs``: null, or an object whose ``content`` and ``refusal`` are both
# required (each an array of token logprobs, or null).
_LOGPROB_LIST: Schema = {"type": ["array", "null"], "items": TOKEN_LOGPROB}
CHAT_LOGPROBS: Schema = {
    "anyOf": [object_with({"content": _LOGPROB_LIST, "refusal": _LOGPROB_LIST}), {"type": "null"}]
}
_FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter", "function_call"]

# ChatCompletionMessageToolCall. (The published union also has custom tool calls, which
# the gateway never answers: it accepts no custom tools.)
TOOL_CALL = object_with(
    {
        "id": STRING,
        "type": const("function"),
        "function": object_with({"name": STRING, "arguments": STRING}),
    }
)
# ChatCompletionResponseMessage: ``role``, ``content`` and ``refusal`` are required, the
# last two nullable; ``tool_calls`` is an array or absent, never null.
RESPONSE_MESSAGE = object_with(
    {"role": const("assistant"), "content": NULLABLE_STRING, "refusal": NULLABLE_STRING},
    {"tool_calls": {"type": "array", "items": TOOL_CALL}},
)
CHAT_COMPLETION = _envelope(
    "chat.completion",
    object_with(
        {
            "index": INTEGER,
            "message": RESPONSE_MESSAGE,
            "logprobs": CHAT_LOGPROBS,
            "finish_reason": {"type": "string", "enum": _FINISH_REASONS},
        }
    ),
    USAGE,
)

# ChatCompletionMessageToolCallChunk: only ``index`` is required; a key present has its type.
TOOL_CALL_CHUNK = object_with(
    {"index": INTEGER},
    {
        "id": STRING,
        "type": const("function"),
        "function": {"type": "object", "properties": {"name": STRING, "arguments": STRING}},
    },
)
# ChatCompletionStreamResponseDelta: nothing required.
DELTA: Schema = {
    "type": "object",
    "properties": {
        "role": {"enum": ["developer", "system", "user", "assistant", "tool"]},
        "content": NULLABLE_STRING,
        "refusal": NULLABLE_STRING,
        "tool_calls": {"type": "array", "items": TOOL_CALL_CHUNK},
    },
}
# CreateChatCompletionStreamResponse: each choice requires ``finish_reason``, null until
# the choice ends; ``logprobs`` is optional, and when present has the choice's shape.
CHAT_COMPLETION_CHUNK = _envelope(
    "chat.completion.chunk",
    object_with(
        {
            "index": INTEGER,
            "delta": DELTA,
            "finish_reason": {"enum": [*_FINISH_REASONS, None]},
        },
        {"logprobs": CHAT_LOGPROBS},
    ),
    {"anyOf": [USAGE, {"type": "null"}]},
)

# CreateCompletionResponse's logprobs: every key optional; ``token_logprobs`` numbers.
_COMPLETION_LOGPROBS = {
    "type": "object",
    "properties": {
        "tokens": {"type": "array", "items": STRING},
        "token_logprobs": {"type": "array", "items": {"type": "number"}},
        "top_logprobs": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "text_offset": {"type": "array", "items": INTEGER},
    },
}


def _completion(finish_reason: Schema) -> Schema:
    return _envelope(
        "text_completion",
        object_with(
            {
                "text": STRING,
                "index": INTEGER,
                "logprobs": {"anyOf": [_COMPLETION_LOGPROBS, {"type": "null"}]},
                "finish_reason": finish_reason,
            }
        ),
        USAGE,
    )


_COMPLETION_REASONS = ["stop", "length", "content_filter"]
COMPLETION = _completion({"type": "string", "enum": _COMPLETION_REASONS})
# A legacy completions stream sends CreateCompletionResponse objects, and the published
# schema types ``finish_reason`` as a non-null string; OpenAI's own streams send
# ``"finish_reason": null`` in every frame but a choice's last (as the openai SDK's
# ``Completion`` model allows), so a frame's may be null, though it is still required.
COMPLETION_FRAME = _completion({"enum": [*_COMPLETION_REASONS, None]})

# CreateEmbeddingResponse and Embedding. The published ``Embedding.embedding`` is an array
# of numbers only, which is wrong for ``encoding_format: "base64"``: OpenAI then answers a
# base64 string (of little-endian float32s), and so does the gateway.
EMBEDDING_LIST = object_with(
    {
        "object": const("list"),
        "model": STRING,
        "data": {
            "type": "array",
            "items": object_with(
                {
                    "index": INTEGER,
                    "object": const("embedding"),
                    "embedding": {
                        "anyOf": [{"type": "array", "items": {"type": "number"}}, STRING]
                    },
                }
            ),
        },
        "usage": object_with({"prompt_tokens": INTEGER, "total_tokens": INTEGER}),
    }
)

# Model and ListModelsResponse.
MODEL = object_with(
    {"id": STRING, "object": const("model"), "created": INTEGER, "owned_by": STRING}
)
MODEL_LIST = object_with({"object": const("list"), "data": {"type": "array", "items": MODEL}})

# ErrorResponse and Error: all four keys required, ``code`` and ``param`` nullable.
ERROR_RESPONSE = object_with(
    {
        "error": object_with(
            {
                "message": STRING,
                "type": STRING,
                "param": NULLABLE_STRING,
                "code": NULLABLE_STRING,
            }
        )
    }
)
