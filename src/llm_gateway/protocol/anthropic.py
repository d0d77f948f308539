"""``/v1/messages``: Anthropic's Messages API, the part a Mistral model can serve.

Shapes follow Anthropic's published API reference (docs.anthropic.com, "Messages" and
"Count Message tokens") and the types of the ``anthropic`` SDK. A request is checked as
Anthropic checks it: an unknown top-level field is refused (Anthropic's own API refuses
it too), and a block type the gateway cannot serve (``document``, ``search_result``,
server tools such as ``web_search``) fails validation, naming it. What only tunes
Anthropic's own service is accepted and ignored: ``cache_control`` on any block, tool or
system text and the request itself, ``thinking``, ``output_config.effort``,
``service_tier``, ``speed``, ``inference_geo``, ``diagnostics``, ``metadata``, and keys of
a block the gateway does not know (``citations``, a stream accumulator's ``index``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_gateway.protocol.chat import MAX_TOOLS, FunctionName
from llm_gateway.protocol.common import MaxTokens, Strict, Text

MAX_STOP_SEQUENCES = 4  # TGI's default limit, which the upstream would otherwise enforce
MAX_MESSAGES = 1024
Ignored = Annotated[
    dict[str, Any] | None, Field(description="Accepted and ignored: no Mistral upstream has it.")
]


class _Block(BaseModel):
    # Keys a block may carry for Anthropic's service alone (citations, or an
    # accumulator's index) are ignored rather than refused.
    model_config = ConfigDict(extra="ignore")

    cache_control: Ignored = None


class TextBlock(_Block):
    type: Literal["text"]
    text: Text


class Base64Source(Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str = Field(description="The image, base64-encoded.")


class UrlSource(Strict):
    type: Literal["url"]
    url: str


class ImageBlock(_Block):
    """Sent upstream as an OpenAI ``image_url`` part (a data: URL for base64): for vision
    models; a text-only upstream refuses it (400)."""

    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]


class ToolUseBlock(_Block):
    """A tool call of an earlier answer."""

    type: Literal["tool_use"]
    id: str = Field(min_length=1, max_length=256)
    name: FunctionName
    input: dict[str, Any]


class ToolResultBlock(_Block):
    """A tool's result: sent upstream as a ``tool`` message answering ``tool_use_id``."""

    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1, max_length=256)
    content: Text | list[TextBlock] = ""
    is_error: bool | None = Field(None, description='Sent upstream as an "Error: " prefix.')


class ThinkingBlock(_Block):
    """Extended thinking of an earlier Claude answer: dropped, no Mistral model reads it."""

    type: Literal["thinking", "redacted_thinking"]


UserBlock = Annotated[TextBlock | ImageBlock | ToolResultBlock, Field(discriminator="type")]
AssistantBlock = Annotated[TextBlock | ToolUseBlock | ThinkingBlock, Field(discriminator="type")]


class AnthropicUserMessage(Strict):
    role: Literal["user"]
    content: Text | list[UserBlock]


class AnthropicAssistantMessage(Strict):
    role: Literal["assistant"]
    content: Text | list[AssistantBlock]


Message = Annotated[AnthropicUserMessage | AnthropicAssistantMessage, Field(discriminator="role")]


class AnthropicTool(Strict):
    """A client tool, sent upstream as an OpenAI function tool."""

    type: Literal["custom"] | None = None
    name: FunctionName
    description: str | None = None
    input_schema: dict[str, Any] = Field(description="A JSON Schema object.")
    cache_control: Ignored = None


class _Choice(Strict):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAuto(_Choice):
    type: Literal["auto"]


class ToolChoiceAny(_Choice):
    """Sent upstream as ``required``."""

    type: Literal["any"]


class ToolChoiceTool(_Choice):
    type: Literal["tool"]
    name: FunctionName


class ToolChoiceNone(Strict):
    type: Literal["none"]


ToolChoiceParam = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]


class AnthropicMetadata(Strict):
    user_id: str | None = Field(None, max_length=256, description="Accepted; not forwarded.")


class OutputFormat(Strict):
    """Structured output: sent upstream as a ``json_schema`` response format."""

    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema", description="A JSON Schema object.")


class OutputConfig(Strict):
    effort: str | None = Field(None, max_length=32, description="Accepted; ignored.")
    format: OutputFormat | None = None


class CountTokensRequest(Strict):
    """What ``/v1/messages/count_tokens`` counts: the prompt alone."""

    model: str = Field(description="Model name or alias.")
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    system: Text | list[TextBlock] | None = None
    tools: list[AnthropicTool] | None = Field(None, max_length=MAX_TOOLS)
    tool_choice: ToolChoiceParam | None = None
    output_config: OutputConfig | None = None
    thinking: Ignored = None
    cache_control: Ignored = None
    speed: str | None = Field(None, max_length=32, description="Accepted; ignored.")


class MessagesRequest(CountTokensRequest):
    max_tokens: MaxTokens
    stop_sequences: list[Annotated[Text, Field(min_length=1)]] | None = Field(
        None, max_length=MAX_STOP_SEQUENCES
    )
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, description="Passed upstream unchanged.")
    metadata: AnthropicMetadata | None = None
    service_tier: str | None = Field(None, max_length=32, description="Accepted; ignored.")
    inference_geo: str | None = Field(None, max_length=64, description="Accepted; ignored.")
    diagnostics: Ignored = None
    stream: bool = False


class TextOut(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolUseOut(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


class AnthropicUsage(BaseModel):
    input_tokens: int
    output_tokens: int


StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class MessageResponse(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    content: list[Annotated[TextOut | ToolUseOut, Field(discriminator="type")]]
    model: str
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: AnthropicUsage


class TokenCount(BaseModel):
    input_tokens: int = Field(description="The gateway's estimate: one token per 4 characters.")


class AnthropicErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, not_found_error, api_error, ...")
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error envelope, the shape of every error on this door."""

    type: Literal["error"] = "error"
    error: AnthropicErrorDetail
    request_id: str | None = None
