"""``/v1/responses``: OpenAI's Responses API, the request and the response object.

Shapes follow OpenAI's published description (github.com/openai/openai-openapi,
``openapi.json``: ``CreateResponse``, ``Response``, ``OutputMessage``, ``FunctionToolCall``,
``ResponseUsage``) and the openai SDK's ``types/responses`` models: every field the
published ``Response`` requires is present, null where it has no value.

What a stateless gateway in front of chat models cannot do is still parsed, so that it is
refused with a 400 naming it (see :mod:`llm_gateway.translate.responses_request`) rather
than a 422 about its shape: items, parts and tools of another type than the ones below,
and the fields that need OpenAI's stored state (``previous_response_id``,
``conversation``, ``prompt``, ``background``). The OpenAPI schema leaves those out
(``SkipJsonSchema``), so it describes what is served. Replayed output items (a client
sending back ``output``) carry fields of the response they came from: those are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from llm_gateway.protocol.chat import (
    MAX_TOOLS,
    MAX_TOP_LOGPROBS,
    FunctionName,
    JsonObjectFormat,
    TextFormat,
)
from llm_gateway.protocol.common import MaxTokens, Strict, Temperature, Text, TopP, User

# OpenAI's bounds on metadata: 16 pairs, keys of up to 64 characters, values of 512.
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]],
    Field(max_length=16),
]
T = TypeVar("T")
# A field that needs state stored by the server: parsed, to be refused; documented as null.
Stored = Annotated[T | None, WithJsonSchema({"type": "null"}, mode="validation")]
ItemStatus = Literal["in_progress", "completed", "incomplete"]
ResponseStatus = Literal["completed", "failed", "in_progress", "incomplete"]
IncompleteReason = Literal["max_output_tokens", "content_filter"]
MAX_ITEMS = 1024


class _Replayed(BaseModel):
    # An output item sent back as input: the fields it had as output are ignored.
    model_config = ConfigDict(extra="ignore")


def _typed(default: str, known: tuple[str, ...]) -> Any:
    """A discriminator by ``type`` (``default`` when absent) that sends every type not in
    ``known`` to the ``other`` branch, so that it can be refused by name."""

    def tag(value: Any) -> str:
        kind = value.get("type", default) if isinstance(value, dict) else value.type
        return kind if kind in known else "other"

    return Discriminator(tag)


class InputText(Strict):
    type: Literal["input_text"]
    text: Text
    prompt_cache_breakpoint: dict[str, Any] | None = Field(None, description="Accepted; ignored.")


class InputImage(Strict):
    """An image by URL (or data: URL); a ``file_id`` names a stored file and is refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"required": ["type", "image_url"]})
    type: Literal["input_image"]
    image_url: str | SkipJsonSchema[None] = None
    file_id: SkipJsonSchema[str | None] = None
    detail: Literal["auto", "low", "high", "original"] | None = None
    prompt_cache_breakpoint: dict[str, Any] | None = Field(None, description="Accepted; ignored.")


class InputFile(BaseModel):
    """A file: no Hugging Face chat route takes one, so it is refused (400)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["input_file"]


class OutputText(_Replayed):
    type: Literal["output_text"]
    text: Text


class Refusal(_Replayed):
    type: Literal["refusal"]
    refusal: Text


ContentPart = Annotated[
    InputText | InputImage | SkipJsonSchema[InputFile] | OutputText | Refusal,
    Field(discriminator="type"),
]
TextPart = Annotated[InputText | OutputText, Field(discriminator="type")]


class Message(_Replayed):
    """A message of any role; ``type`` may be left out, as in OpenAI's ``EasyInputMessage``."""

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: Text | Annotated[list[ContentPart], Field(max_length=MAX_ITEMS)]


class FunctionCall(_Replayed):
    """A call the model made earlier: an assistant tool call upstream."""

    type: Literal["function_call"]
    call_id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=256)
    arguments: str = Field(description="The arguments as JSON text.")


class FunctionCallOutput(_Replayed):
    """A function's result, answering the call ``call_id``: a tool message upstream."""

    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1, max_length=256)
    output: Text | Annotated[list[TextPart], Field(max_length=MAX_ITEMS)]


class Reasoning(BaseModel):
    """A reasoning item sent back: accepted and left out (chat models take none)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["reasoning"]


class OtherItem(BaseModel):
    """Any other item (``item_reference``, built-in tool calls): refused by type (400)."""

    model_config = ConfigDict(extra="allow")
    type: str


InputItem = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | SkipJsonSchema[Annotated[Reasoning, Tag("reasoning")]]
    | SkipJsonSchema[Annotated[OtherItem, Tag("other")]],
    _typed("message", ("message", "function_call", "function_call_output", "reasoning")),
]


class FunctionTool(Strict):
    type: Literal["function"]
    name: FunctionName
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON Schema object.")
    strict: bool | None = None


class OtherTool(BaseModel):
    """A built-in tool (``web_search``, ``file_search``, ...): refused by name (400)."""

    model_config = ConfigDict(extra="allow")
    type: str


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")] | SkipJsonSchema[Annotated[OtherTool, Tag("other")]],
    _typed("function", ("function",)),
]


class FunctionChoice(Strict):
    type: Literal["function"]
    name: FunctionName


class OtherToolChoice(BaseModel):
    """A choice of a built-in tool or of ``allowed_tools``: refused (400)."""

    model_config = ConfigDict(extra="allow")
    type: str


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        Annotated[FunctionChoice, Tag("function")]
        | SkipJsonSchema[Annotated[OtherToolChoice, Tag("other")]],
        _typed("function", ("function",)),
    ]
)


class JsonSchemaFormat(Strict):
    """Structured output; the Responses API puts the schema's fields at this level."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: Literal["json_schema"]
    name: FunctionName
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class TextConfig(Strict):
    format: Annotated[
        TextFormat | JsonSchemaFormat | JsonObjectFormat, Field(discriminator="type")
    ] = TextFormat(type="text")
    verbosity: Literal["low", "medium", "high"] | None = Field(
        None, description="Accepted; not forwarded."
    )


class ResponsesRequest(BaseModel):
    """A request to ``POST /v1/responses``. Fields it does not know go to the upstream
    unchanged, as on ``/v1/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    input: Text | Annotated[list[InputItem], Field(min_length=1, max_length=MAX_ITEMS)]
    instructions: Text | None = Field(None, description="Sent first, as a system message.")
    tools: list[Tool] | None = Field(None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: MaxTokens | None = None
    temperature: Temperature = None
    top_p: TopP = None
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    include: list[str] | None = Field(
        None,
        max_length=32,
        description="`message.output_text.logprobs` asks for log probabilities; the rest "
        "concern OpenAI's built-in tools and reasoning, and are ignored.",
    )
    metadata: Metadata | None = Field(None, description="Echoed in the response; not forwarded.")
    user: User = None
    safety_identifier: str | None = Field(None, max_length=64, description="Accepted; ignored.")
    prompt_cache_key: str | None = Field(None, max_length=256, description="Accepted; ignored.")
    service_tier: str | None = Field(None, max_length=32, description="Accepted; ignored.")
    store: bool | None = Field(None, description="Accepted; the gateway stores nothing.")
    reasoning: dict[str, Any] | None = Field(None, description="Accepted; ignored.")
    truncation: Literal["auto", "disabled"] | None = Field(
        None, description="Accepted; the gateway never truncates the input."
    )
    max_tool_calls: int | None = Field(None, ge=1, description="Accepted; built-in tools only.")
    stream: bool = False
    stream_options: dict[str, Any] | None = Field(None, description="Accepted; ignored.")
    previous_response_id: Stored[str] = Field(None, description="Refused: nothing is stored.")
    conversation: Stored[str | dict[str, Any]] = Field(None, description="Refused: no store.")
    prompt: Stored[dict[str, Any]] = Field(None, description="Refused: no stored prompts.")
    background: Annotated[
        bool | None, WithJsonSchema({"enum": [False, None]}, mode="validation")
    ] = Field(None, description="Refused when true: no store.")


class LogProb(BaseModel):
    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[dict[str, Any]] = Field(description="Each with token, logprob, bytes.")


class OutputTextPart(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    logprobs: list[LogProb] = Field(default_factory=list)


class OutputMessage(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    status: ItemStatus
    content: list[OutputTextPart]


class FunctionToolCall(BaseModel):
    id: str
    type: Literal["function_call"] = "function_call"
    status: ItemStatus
    call_id: str = Field(description="The upstream's tool call id.")
    name: str
    arguments: str = Field(description="The arguments as JSON text.")


OutputItem = Annotated[OutputMessage | FunctionToolCall, Field(discriminator="type")]


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens: int
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()
    total_tokens: int


class ResponseError(BaseModel):
    code: str = Field(description="server_error, or rate_limit_exceeded.")
    message: str


class IncompleteDetails(BaseModel):
    reason: IncompleteReason


class Response(BaseModel):
    """The response object; with ``stream: true``, the snapshot the lifecycle events carry.

    No ``output_text``: the published description calls it an SDK-only convenience
    property, which the openai SDK computes from ``output``.
    """

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: ResponseStatus
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None
    max_output_tokens: int | None
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool
    previous_response_id: None = None
    reasoning: None = None
    temperature: float | None
    text: TextConfig
    tool_choice: Literal["none", "auto", "required"] | FunctionChoice
    tools: list[FunctionTool]
    top_logprobs: int | None
    top_p: float | None
    truncation: Literal["disabled"] = "disabled"
    usage: ResponseUsage | None = Field(None, description="Left out until the end.")
    user: str | None = Field(None, description="Left out when the request sent none.")
    metadata: dict[str, str]
