"""``/v1/chat/completions``: OpenAI's chat completions, the whole request surface.

The request keeps OpenAI's validation for every field it knows (types, ranges, sizes);
a field it does not know is kept in ``model_extra`` and goes to the upstream unchanged
(vLLM's and TGI's own parameters, such as ``top_k`` or ``guided_json``). Every rule is
one the OpenAPI schema states, so a request valid by the schema is accepted (fuzzed);
what only the model can judge (a ``tool_choice`` naming no tool, ``top_logprobs``
without ``logprobs``) is the upstream's to refuse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_gateway.protocol.common import (
    MaxTokens,
    Penalty,
    Seed,
    StopSequences,
    Strict,
    Temperature,
    Text,
    TopP,
    Usage,
    User,
)

# OpenAI's own bounds on names and counts (the name's rule is in its reference's prose).
FunctionName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
MAX_TOOLS = 128
MAX_CHOICES = 128
MAX_TOP_LOGPROBS = 20


class CacheBreakpoint(Strict):
    mode: Literal["explicit"]


class _Part(Strict):
    # OpenAI's prompt caching marks: accepted, never sent (exclude): no Hugging Face
    # server caches by marks.
    prompt_cache_breakpoint: CacheBreakpoint | None = Field(None, exclude=True)


class TextPart(_Part):
    type: Literal["text"]
    text: Text


class ImageURL(Strict):
    url: str = Field(description="An http(s) URL or a data: URL, passed on as sent.")
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Part):
    """Passed on for vision models; a text-only upstream refuses it (400)."""

    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(Strict):
    data: str
    format: Literal["wav", "mp3"]


class AudioPart(_Part):
    """Valid, and refused (400 ``unsupported_feature``): no Hugging Face chat route takes
    audio."""

    type: Literal["input_audio"]
    input_audio: InputAudio


class FileRef(Strict):
    filename: str | None = None
    file_data: str | None = None
    file_id: str | None = None


class FilePart(_Part):
    """Valid, and refused (400 ``unsupported_feature``): no Hugging Face chat route takes
    files."""

    type: Literal["file"]
    file: FileRef


class RefusalPart(_Part):
    """A refusal in an earlier answer: sent upstream as the text it is."""

    type: Literal["refusal"]
    refusal: Text


ContentPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class FunctionCall(Strict):
    # An earlier call, named as the model named it: no rule of the gateway's applies.
    name: str
    arguments: str = Field(description="The arguments as JSON text.")


class ToolCall(Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class CustomCall(Strict):
    name: str
    input: str


class CustomToolCall(Strict):
    """Valid, and refused (400 ``unsupported_feature``): custom tools are OpenAI's."""

    id: str
    type: Literal["custom"]
    custom: CustomCall


class _Message(BaseModel):
    # Keys the gateway does not know are passed on (null ones dropped).
    model_config = ConfigDict(extra="allow")

    name: str | None = None


class InstructionMessage(_Message):
    """A system, developer or user message; the developer role goes upstream as system."""

    role: Literal["system", "developer", "user"]
    content: Text | list[ContentPart]


class AssistantTurn(_Message):
    """An earlier answer: text (or a refusal), tool calls, or both."""

    role: Literal["assistant"]
    content: Text | list[AssistantPart] | None = None
    refusal: Text | None = None
    tool_calls: list[ToolCall | CustomToolCall] | None = Field(None, max_length=MAX_TOOLS)


class ToolMessage(_Message):
    """A tool's result, answering the call ``tool_call_id``."""

    role: Literal["tool"]
    content: Text | list[TextPart]
    tool_call_id: str


class FunctionMessage(_Message):
    """The deprecated function role: a function's result, sent upstream as a tool message."""

    role: Literal["function"]
    content: Text | None
    name: str


ChatMessage = Annotated[
    InstructionMessage | AssistantTurn | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDefinition(Strict):
    name: FunctionName
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON Schema object.")
    strict: bool | None = None


class Tool(Strict):
    type: Literal["function"]
    function: FunctionDefinition


class CustomTool(Strict):
    """Valid, and refused (400 ``unsupported_feature``): custom tools are OpenAI's."""

    type: Literal["custom"]
    custom: dict[str, Any]


class NamedFunction(Strict):
    name: FunctionName


class NamedToolChoice(Strict):
    type: Literal["function"]
    function: NamedFunction


class AllowedTools(Strict):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]] = Field(max_length=MAX_TOOLS)


class AllowedToolsChoice(Strict):
    """Served by sending only the allowed tools, with ``mode`` as the tool choice."""

    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


class NamedCustomChoice(Strict):
    """Valid, and refused (400 ``unsupported_feature``): custom tools are OpenAI's."""

    type: Literal["custom"]
    custom: dict[str, Any]


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        NamedToolChoice | AllowedToolsChoice | NamedCustomChoice, Field(discriminator="type")
    ]
)


class TextFormat(Strict):
    type: Literal["text"]


class JsonObjectFormat(Strict):
    type: Literal["json_object"]


class JsonSchema(Strict):
    name: FunctionName
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(Strict):
    type: Literal["json_schema"]
    json_schema: JsonSchema


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    temperature: Temperature = None
    top_p: TopP = None
    stop: StopSequences = None
    seed: Seed = None
    frequency_penalty: Penalty = None
    presence_penalty: Penalty = None
    tools: list[Annotated[Tool | CustomTool, Field(discriminator="type")]] | None = Field(
        None, max_length=MAX_TOOLS
    )
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = Field(
        None, max_length=1024, description="Token id to bias, passed on."
    )
    n: int | None = Field(None, ge=1, le=MAX_CHOICES, description="Choices to generate.")
    user: User = None
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(
        None, max_length=16, description="Accepted; not forwarded (OpenAI's stored completions)."
    )
    store: bool | None = Field(None, description="Accepted; the gateway stores nothing.")
    service_tier: str | None = Field(None, max_length=32, description="Accepted; not forwarded.")
    stream: bool | None = False
    stream_options: StreamOptions | None = None


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantMessage(BaseModel):
    """``content`` and ``refusal`` are always sent, null when empty (OpenAI's schema
    requires both); ``tool_calls`` only when there are some: the route leaves it out when
    null (OpenAI's schema has an array or nothing)."""

    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = Field(description="stop, length, tool_calls, or null.")


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class FunctionDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    """The first delta of a call carries id, type and name; later ones argument pieces.
    Absent keys are left out of the frame, never sent as null."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionDelta | None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
