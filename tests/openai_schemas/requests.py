"""JSON Schemas (draft 2020-12) of the chat and legacy completion requests, to draw requests from.

Written from OpenAI's published API description (github.com/openai/openai-openapi,
``openapi.json``, commit f85dbe223d40): ``CreateChatCompletionRequest`` (with
``ModelResponseProperties``), ``ChatCompletionRequestMessage`` and its six role schemas
(``...DeveloperMessage``, ``...SystemMessage``, ``...UserMessage``,
``...AssistantMessage``, ``...ToolMessage``, the deprecated ``...FunctionMessage``), the
content parts (``ChatCompletionRequestMessageContentPartText``, ``...Image``,
``...Audio``, ``...File``, ``...Refusal``), ``ChatCompletionMessageToolCalls``,
``ChatCompletionTool``, ``CustomToolChatCompletions``, ``FunctionObject``,
``ChatCompletionToolChoiceOption`` (with ``...AllowedToolsChoice`` and the named
choices), ``ResponseFormatText``, ``...JsonObject``, ``...JsonSchema``,
``StopConfiguration``, ``ChatCompletionStreamOptions``, ``PredictionContent``,
``Metadata``, ``ServiceTier``, ``ReasoningEffort`` and ``Verbosity``; and
``CreateCompletionRequest``.

What the published schemas say, with four kinds of change, each for a reason:

- ``model`` is fixed and ``stream`` false: the test is about the request's shape.
- Sizes are bounded (strings, lists) so a request stays small and quick to answer;
  ``max_tokens`` and ``max_completion_tokens`` are within 1-64 (0-64 for a legacy
  completion, whose schema allows 0): OpenAI's bound is the model's (a 400 past it),
  unstated in the schema.
- Objects are closed (``additionalProperties: false``) where the published ones are
  open: OpenAI answers 400 "Unrecognized request argument" to a key it does not know, so
  an open object in the description is not an invitation. Top-level unknown keys are the
  chat door's to pass through and the legacy completion door's to refuse (400), tested
  elsewhere.
- Rules the description states in prose are kept: function and response-format names
  match ``^[a-zA-Z0-9_-]{1,64}$``, ``logit_bias`` values lie within -100 and 100,
  ``metadata`` has at most 16 pairs of values up to 512 characters.
"""

from __future__ import annotations

from typing import Any

from tests.openai_schemas.responses import Schema

MODEL = "mistral"


def _text(max_length: int = 12) -> Schema:
    return {"type": "string", "maxLength": max_length}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _closed(
    required: dict[str, Schema], optional: dict[str, Schema] | None = None
) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


def _const(value: str) -> Schema:
    return {"const": value}


NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$", "maxLength": 12}
_CACHE_BREAKPOINT = {"prompt_cache_breakpoint": _closed({"mode": _const("explicit")})}
TEXT_PART = _closed({"type": _const("text"), "text": _text()}, _CACHE_BREAKPOINT)
IMAGE_PART = _closed(
    {
        "type": _const("image_url"),
        "image_url": _closed(
            {"url": {"enum": ["https://example.com/a.png", "data:image/png;base64,iVBORw0K"]}},
            {"detail": {"enum": ["auto", "low", "high"]}},
        ),
    },
    _CACHE_BREAKPOINT,
)
AUDIO_PART = _closed(
    {
        "type": _const("input_audio"),
        "input_audio": _closed({"data": _text(), "format": {"enum": ["wav", "mp3"]}}),
    },
    _CACHE_BREAKPOINT,
)
FILE_PART = _closed(
    {
        "type": _const("file"),
        "file": _closed({}, {"filename": _text(), "file_data": _text(), "file_id": _text()}),
    },
    _CACHE_BREAKPOINT,
)
REFUSAL_PART = _closed({"type": _const("refusal"), "refusal": _text()})


def _content(*parts: Schema) -> Schema:
    return {
        "oneOf": [
            _text(),
            {"type": "array", "minItems": 1, "maxItems": 3, "items": {"oneOf": list(parts)}},
        ]
    }


_NAMED = {"name": _text()}
DEVELOPER = _closed({"role": _const("developer"), "content": _content(TEXT_PART)}, _NAMED)
SYSTEM = _closed({"role": _const("system"), "content": _content(TEXT_PART)}, _NAMED)
USER = _closed(
    {"role": _const("user"), "content": _content(TEXT_PART, IMAGE_PART, AUDIO_PART, FILE_PART)},
    _NAMED,
)
FUNCTION_TOOL_CALL = _closed(
    {
        "id": _text(),
        "type": _const("function"),
        "function": _closed({"name": _text(), "arguments": _text()}),
    }
)
CUSTOM_TOOL_CALL = _closed(
    {
        "id": _text(),
        "type": _const("custom"),
        "custom": _closed({"name": _text(), "input": _text()}),
    }
)
ASSISTANT = _closed(
    {"role": _const("assistant")},
    {
        "content": _nullable(_content(TEXT_PART, REFUSAL_PART)),
        "refusal": _nullable(_text()),
        "name": _text(),
        "audio": _nullable(_closed({"id": _text()})),
        "tool_calls": {
            "type": "array",
            "maxItems": 2,
            "items": {"oneOf": [FUNCTION_TOOL_CALL, CUSTOM_TOOL_CALL]},
        },
        "function_call": _nullable(_closed({"name": _text(), "arguments": _text()})),
    },
)
TOOL = _closed({"role": _const("tool"), "content": _content(TEXT_PART), "tool_call_id": _text()})
FUNCTION = _closed({"role": _const("function"), "content": _nullable(_text()), "name": _text()})

# A JSON Schema for a function's parameters: any object; these few are enough.
PARAMETERS = {
    "enum": [
        {},
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ]
}
FUNCTION_TOOL = _closed(
    {
        "type": _const("function"),
        "function": _closed(
            {"name": NAME},
            {
                "description": _text(),
                "parameters": PARAMETERS,
                "strict": _nullable({"type": "boolean"}),
            },
        ),
    }
)
CUSTOM_TOOL = _closed(
    {
        "type": _const("custom"),
        "custom": _closed(
            {"name": _text()},
            {
                "description": _text(),
                "format": {
                    "oneOf": [
                        _closed({"type": _const("text")}),
                        _closed(
                            {
                                "type": _const("grammar"),
                                "grammar": _closed(
                                    {"definition": _text(), "syntax": {"enum": ["lark", "regex"]}}
                                ),
                            }
                        ),
                    ]
                },
            },
        ),
    }
)
TOOL_CHOICE = {
    "oneOf": [
        {"enum": ["none", "auto", "required"]},
        _closed(
            {
                "type": _const("allowed_tools"),
                "allowed_tools": _closed(
                    {
                        "mode": {"enum": ["auto", "required"]},
                        "tools": {
                            "type": "array",
                            "maxItems": 2,
                            "items": _closed(
                                {"type": _const("function"), "function": _closed({"name": NAME})}
                            ),
                        },
                    }
                ),
            }
        ),
        _closed({"type": _const("function"), "function": _closed({"name": NAME})}),
        _closed({"type": _const("custom"), "custom": _closed({"name": _text()})}),
    ]
}
RESPONSE_FORMAT = {
    "oneOf": [
        _closed({"type": _const("text")}),
        _closed({"type": _const("json_object")}),
        _closed(
            {
                "type": _const("json_schema"),
                "json_schema": _closed(
                    {"name": NAME},
                    {
                        "description": _text(),
                        "schema": PARAMETERS,
                        "strict": _nullable({"type": "boolean"}),
                    },
                ),
            }
        ),
    ]
}
_TOKENS = {"type": "integer", "minimum": 1, "maximum": 64}
# The fields chat and legacy completion requests share, with the same bounds.
_SAMPLING: dict[str, Schema] = {
    "stream": {"enum": [False, None]},
    "temperature": _nullable({"type": "number", "minimum": 0, "maximum": 2}),
    "top_p": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "n": _nullable({"type": "integer", "minimum": 1, "maximum": 128}),
    "stop": {
        "oneOf": [
            _nullable(_text()),
            {"type": "array", "minItems": 1, "maxItems": 4, "items": _text()},
        ]
    },
    "seed": _nullable(
        {"type": "integer", "minimum": -9223372036854775808, "maximum": 9223372036854775807}
    ),
    "frequency_penalty": _nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "presence_penalty": _nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "logit_bias": _nullable(
        {
            "type": "object",
            "maxProperties": 3,
            "propertyNames": {"pattern": "^[0-9]{1,5}$"},
            "additionalProperties": {"type": "integer", "minimum": -100, "maximum": 100},
        }
    ),
    "stream_options": _nullable(
        _closed(
            {},
            {"include_usage": {"type": "boolean"}, "include_obfuscation": {"type": "boolean"}},
        )
    ),
    "user": _text(),
}

CHAT_REQUEST: Schema = _closed(
    {
        "model": _const(MODEL),
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {"oneOf": [DEVELOPER, SYSTEM, USER, ASSISTANT, TOOL, FUNCTION]},
        },
    },
    {
        **_SAMPLING,
        "max_tokens": _nullable(_TOKENS),
        "max_completion_tokens": _nullable(_TOKENS),
        "logprobs": _nullable({"type": "boolean"}),
        "top_logprobs": _nullable({"type": "integer", "minimum": 0, "maximum": 20}),
        "tools": {"type": "array", "maxItems": 2, "items": {"oneOf": [FUNCTION_TOOL, CUSTOM_TOOL]}},
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": {"type": "boolean"},
        "response_format": RESPONSE_FORMAT,
        "safety_identifier": _nullable(_text()),
        "prompt_cache_key": _nullable(_text()),
        "metadata": _nullable(
            {"type": "object", "maxProperties": 16, "additionalProperties": _text(512)}
        ),
        "store": _nullable({"type": "boolean"}),
        "service_tier": _nullable({"enum": ["auto", "default", "flex", "scale", "priority"]}),
        "reasoning_effort": _nullable({"enum": ["none", "minimal", "low", "medium", "high"]}),
        "verbosity": _nullable({"enum": ["low", "medium", "high"]}),
        "modalities": _nullable({"type": "array", "items": {"enum": ["text", "audio"]}}),
        "audio": _nullable(
            _closed({"voice": {"enum": ["alloy", "ash"]}, "format": {"enum": ["wav", "mp3"]}})
        ),
        "prediction": _nullable(
            _closed({"type": _const("content"), "content": _content(TEXT_PART)})
        ),
        "web_search_options": _closed(
            {}, {"search_context_size": {"enum": ["low", "medium", "high"]}}
        ),
        "functions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": _closed({"name": NAME}, {"description": _text(), "parameters": PARAMETERS}),
        },
        "function_call": {"oneOf": [{"enum": ["none", "auto"]}, _closed({"name": NAME})]},
    },
)

_TOKEN_IDS = {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer"}}
_COMPLETION_OPTIONS: dict[str, Schema] = {
    **_SAMPLING,
    "max_tokens": _nullable({"type": "integer", "minimum": 0, "maximum": 64}),
    "best_of": _nullable({"type": "integer", "minimum": 0, "maximum": 20}),
    "echo": _nullable({"type": "boolean"}),
    "logprobs": _nullable({"type": "integer", "minimum": 0, "maximum": 5}),
    "suffix": _nullable(_text()),
}
# CreateCompletionRequest: a prompt is text, texts, token ids or lists of them (or null);
# ``max_tokens`` may be 0.
COMPLETION_REQUEST: Schema = _closed(
    {
        "model": _const(MODEL),
        "prompt": {
            "oneOf": [
                _nullable(_text()),
                {"type": "array", "maxItems": 3, "items": _text()},
                _TOKEN_IDS,
                {"type": "array", "minItems": 1, "maxItems": 2, "items": _TOKEN_IDS},
            ]
        },
    },
    _COMPLETION_OPTIONS,
)
# The part of it the gateway serves (the rest is refused: each case is pinned in
# tests/integration/test_completions.py): text prompts, and values of the fields TGI's
# generate route lacks that ask for nothing.
_PROMPT_TEXT = {"type": "string", "minLength": 1, "maxLength": 12}
SERVED_COMPLETION_REQUEST: Schema = _closed(
    {
        "model": _const(MODEL),
        "prompt": {
            "oneOf": [
                _PROMPT_TEXT,
                {"type": "array", "minItems": 1, "maxItems": 3, "items": _PROMPT_TEXT},
            ]
        },
    },
    {
        **_COMPLETION_OPTIONS,
        "max_tokens": _nullable({"type": "integer", "minimum": 1, "maximum": 64}),
        "n": {"enum": [1, None]},
        "best_of": {"enum": [1, None]},
        "presence_penalty": {"enum": [0, None]},
        "logit_bias": {"enum": [{}, None]},
        "suffix": {"enum": ["", None]},
    },
)
