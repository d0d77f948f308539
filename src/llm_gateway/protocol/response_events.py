"""The typed events of a streamed ``/v1/responses`` answer, as the gateway sends them.

Shapes from OpenAI's published description (github.com/openai/openai-openapi,
``openapi.json``: ``ResponseStreamEvent`` and the event schemas it lists); every field
those schemas require is present. The frames are encoded without building these models
(see :mod:`llm_gateway.translate.responses_stream`); a unit test checks every frame
against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_gateway.protocol.responses import OutputItem, OutputTextPart, Response


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sequence_number: int = Field(ge=0, description="One above the previous event's.")


class ResponseLifecycleEvent(_Event):
    """The response as it stands: created, in progress, and how it ended."""

    type: Literal[
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    ]
    response: Response


class OutputItemEvent(_Event):
    type: Literal["response.output_item.added", "response.output_item.done"]
    output_index: int
    item: OutputItem


class _InItem(_Event):
    item_id: str
    output_index: int


class ContentPartEvent(_InItem):
    type: Literal["response.content_part.added", "response.content_part.done"]
    content_index: int
    part: OutputTextPart


class TextDeltaEvent(_InItem):
    type: Literal["response.output_text.delta"]
    content_index: int
    delta: str
    logprobs: list[dict[str, Any]]


class TextDoneEvent(_InItem):
    type: Literal["response.output_text.done"]
    content_index: int
    text: str
    logprobs: list[dict[str, Any]]


class ArgumentsDeltaEvent(_InItem):
    type: Literal["response.function_call_arguments.delta"]
    delta: str


class ArgumentsDoneEvent(_InItem):
    type: Literal["response.function_call_arguments.done"]
    name: str
    arguments: str


class ErrorEvent(_Event):
    """A failure after the first byte, with the gateway's error code; then response.failed."""

    type: Literal["error"]
    code: str | None
    message: str
    param: str | None


ResponseStreamEvent = Annotated[
    ResponseLifecycleEvent
    | OutputItemEvent
    | ContentPartEvent
    | TextDeltaEvent
    | TextDoneEvent
    | ArgumentsDeltaEvent
    | ArgumentsDoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
