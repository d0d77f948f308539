"""JSON Schemas (draft 2020-12) of what the gateway answers on ``/v1/responses``.

Written from OpenAI's published API description: github.com/openai/openai-openapi,
``openapi.json`` (MIT), read at commit f85dbe223d40 (August 2026), as
:mod:`tests.openai_schemas.responses` is. The response object: ``Response`` (the
``allOf`` of ``ModelResponseProperties``, ``ResponseProperties`` and its own object),
``ResponseError``, ``ResponseErrorCode``, ``ResponseUsage``, ``Metadata``,
``ResponseTextParam``, ``TextResponseFormatConfiguration``, ``FunctionTool``,
``ToolChoiceOptions``, ``ToolChoiceFunction``; its output: ``OutputItem``,
``OutputMessage``, ``OutputMessageContent``, ``OutputTextContent``, ``RefusalContent``,
``LogProb``, ``TopLogProb``, ``FunctionToolCall``; the stream: ``ResponseStreamEvent``
and the events it lists that the gateway sends (``ResponseCreatedEvent``,
``ResponseInProgressEvent``, ``ResponseCompletedEvent``, ``ResponseIncompleteEvent``,
``ResponseFailedEvent``, ``ResponseOutputItemAddedEvent``, ``...DoneEvent``,
``ResponseContentPartAddedEvent``, ``...DoneEvent``, ``ResponseTextDeltaEvent``,
``ResponseTextDoneEvent``, ``ResponseLogProb``,
``ResponseFunctionCallArgumentsDeltaEvent``, ``...DoneEvent``, ``ResponseErrorEvent``).

The published unions (output items, content parts, tools, tool choices, stream events)
are discriminated by ``type`` and hold many kinds the gateway never answers (built-in
tool calls, reasoning, audio, MCP...): only the kinds a chat model's answer becomes are
written here, so an answer of any other kind breaks the schema, as it should from this
gateway. Objects stay open, as the published ones are.
"""

from __future__ import annotations

from tests.openai_schemas.responses import (
    INTEGER,
    NULLABLE_STRING,
    STRING,
    Schema,
    const,
    object_with,
)

NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def tagged(*kinds: Schema) -> Schema:
    """A union discriminated by ``type`` (the published ``discriminator``): a value of a
    known type is checked against that kind alone, so its errors are about that kind."""
    types = [kind["properties"]["type"]["enum"][0] for kind in kinds]
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": types}},
        "allOf": [
            {"if": {"properties": {"type": {"const": kind_type}}}, "then": kind}
            for kind_type, kind in zip(types, kinds, strict=True)
        ],
    }


# LogProb and TopLogProb (of an output_text part): every key required, ``bytes`` included.
_TOP_LOGPROB = object_with({"token": STRING, "logprob": NUMBER, "bytes": _array(INTEGER)})
LOGPROB = object_with({**_TOP_LOGPROB["properties"], "top_logprobs": _array(_TOP_LOGPROB)})
# OutputTextContent: ``annotations`` and ``logprobs`` required (empty arrays when none).
OUTPUT_TEXT = object_with(
    {
        "type": const("output_text"),
        "text": STRING,
        "annotations": {"type": "array"},
        "logprobs": _array(LOGPROB),
    }
)
# OutputMessageContent (OutputContent, the parts' events, also allows reasoning text).
OUTPUT_CONTENT = tagged(OUTPUT_TEXT, object_with({"type": const("refusal"), "refusal": STRING}))
_ITEM_STATUS: Schema = {"type": "string", "enum": ["in_progress", "completed", "incomplete"]}
# OutputMessage: ``id``, ``type``, ``role``, ``content`` and ``status`` required.
OUTPUT_MESSAGE = object_with(
    {
        "id": STRING,
        "type": const("message"),
        "role": const("assistant"),
        "content": _array(OUTPUT_CONTENT),
        "status": _ITEM_STATUS,
    }
)
# FunctionToolCall: ``id`` and ``status`` are optional (an input item has neither).
FUNCTION_CALL = object_with(
    {"type": const("function_call"), "call_id": STRING, "name": STRING, "arguments": STRING},
    {"id": STRING, "status": _ITEM_STATUS},
)
OUTPUT_ITEM = tagged(OUTPUT_MESSAGE, FUNCTION_CALL)

# FunctionTool: ``parameters`` and ``strict`` are required, both nullable.
FUNCTION_TOOL = object_with(
    {
        "type": const("function"),
        "name": STRING,
        "parameters": _nullable({"type": "object"}),
        "strict": _nullable(BOOLEAN),
    },
    {"description": NULLABLE_STRING},
)
# ToolChoiceParam: ToolChoiceOptions, or ToolChoiceFunction (``type`` and ``name``).
TOOL_CHOICE: Schema = {
    "anyOf": [
        {"type": "string", "enum": ["none", "auto", "required"]},
        object_with({"type": const("function"), "name": STRING}),
    ]
}
# ResponseTextParam and TextResponseFormatConfiguration: a json_schema format requires
# ``name`` and ``schema``; its ``description`` is a string (not nullable), ``strict``
# nullable; ``verbosity`` is nullable.
TEXT = object_with(
    {},
    {
        "format": tagged(
            object_with({"type": const("text")}),
            object_with(
                {"type": const("json_schema"), "name": STRING, "schema": {"type": "object"}},
                {"description": STRING, "strict": _nullable(BOOLEAN)},
            ),
            object_with({"type": const("json_object")}),
        ),
        "verbosity": _nullable({"type": "string", "enum": ["low", "medium", "high"]}),
    },
)
# ResponseUsage: every count required, and both details objects with theirs.
USAGE = object_with(
    {
        "input_tokens": INTEGER,
        "input_tokens_details": object_with(
            {"cached_tokens": INTEGER, "cache_write_tokens": INTEGER}
        ),
        "output_tokens": INTEGER,
        "output_tokens_details": object_with({"reasoning_tokens": INTEGER}),
        "total_tokens": INTEGER,
    }
)
# ResponseErrorCode: the codes a failed response may carry.
ERROR_CODES = [
    "server_error",
    "rate_limit_exceeded",
    "invalid_prompt",
    "data_residency_mismatch",
    "bio_policy",
    "vector_store_timeout",
    "invalid_image",
    "invalid_image_format",
    "invalid_base64_image",
    "invalid_image_url",
    "image_too_large",
    "image_too_small",
    "image_parse_error",
    "image_content_policy_violation",
    "invalid_image_mode",
    "image_file_too_large",
    "unsupported_image_media_type",
    "empty_image_file",
    "failed_to_download_image",
    "image_file_not_found",
]
# Response: these fourteen keys are required (``status`` and ``usage`` are not), and
# ``error``, ``incomplete_details``, ``instructions``, ``metadata``, ``temperature`` and
# ``top_p`` may be null. ``user`` is a string, never null: absent when there is none.
RESPONSE = object_with(
    {
        "id": STRING,
        "object": const("response"),
        "created_at": NUMBER,
        "error": _nullable(
            object_with({"code": {"type": "string", "enum": ERROR_CODES}, "message": STRING})
        ),
        "incomplete_details": _nullable(
            object_with(
                {}, {"reason": {"type": "string", "enum": ["max_output_tokens", "content_filter"]}}
            )
        ),
        "instructions": {"type": ["string", "array", "null"]},
        "model": STRING,
        "tools": _array(FUNCTION_TOOL),
        "output": _array(OUTPUT_ITEM),
        "parallel_tool_calls": BOOLEAN,
        "metadata": _nullable({"type": "object", "additionalProperties": STRING}),
        "tool_choice": TOOL_CHOICE,
        "temperature": _nullable({"type": "number", "minimum": 0, "maximum": 2}),
        "top_p": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
    },
    {
        "status": {
            "type": "string",
            "enum": ["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"],
        },
        "completed_at": _nullable(NUMBER),
        "usage": USAGE,
        "user": STRING,
        "previous_response_id": NULLABLE_STRING,
        "reasoning": _nullable({"type": "object"}),
        "text": TEXT,
        "top_logprobs": _nullable({"type": "integer", "minimum": 0, "maximum": 20}),
        "truncation": _nullable({"type": "string", "enum": ["auto", "disabled"]}),
        "max_output_tokens": _nullable(INTEGER),
        "max_tool_calls": _nullable(INTEGER),
        "background": _nullable(BOOLEAN),
        "output_text": NULLABLE_STRING,
    },
)


def _event(kind: str, fields: dict[str, Schema]) -> Schema:
    """A stream event: its ``type``, its fields and its ``sequence_number``, all required."""
    return object_with({"type": const(kind), **fields, "sequence_number": INTEGER})


# ResponseLogProb (of a text event): ``token`` and ``logprob`` required; no ``bytes``.
_EVENT_LOGPROB = object_with(
    {"token": STRING, "logprob": NUMBER},
    {
        "top_logprobs": _array(
            {"type": "object", "properties": {"token": STRING, "logprob": NUMBER}}
        )
    },
)
_IN_ITEM = {"item_id": STRING, "output_index": INTEGER}
_IN_PART = {**_IN_ITEM, "content_index": INTEGER}
LIFECYCLE = ("created", "in_progress", "completed", "incomplete", "failed")
STREAM_EVENT = tagged(
    *(_event(f"response.{stage}", {"response": RESPONSE}) for stage in LIFECYCLE),
    *(
        _event(f"response.output_item.{stage}", {"output_index": INTEGER, "item": OUTPUT_ITEM})
        for stage in ("added", "done")
    ),
    *(
        _event(f"response.content_part.{stage}", {**_IN_PART, "part": OUTPUT_CONTENT})
        for stage in ("added", "done")
    ),
    _event(
        "response.output_text.delta",
        {**_IN_PART, "delta": STRING, "logprobs": _array(_EVENT_LOGPROB)},
    ),
    _event(
        "response.output_text.done",
        {**_IN_PART, "text": STRING, "logprobs": _array(_EVENT_LOGPROB)},
    ),
    _event("response.function_call_arguments.delta", {**_IN_ITEM, "delta": STRING}),
    _event(
        "response.function_call_arguments.done",
        {**_IN_ITEM, "name": STRING, "arguments": STRING},
    ),
    # ResponseErrorEvent: ``code`` and ``param`` required, both nullable.
    _event("error", {"code": NULLABLE_STRING, "message": STRING, "param": NULLABLE_STRING}),
)
