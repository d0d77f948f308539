"""The request and response shapes that cross HTTP. Imports nothing but pydantic."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _encodable(text: str) -> str:
    # pydantic refuses a lone surrogate ("\ud800") in a plain str field, but not in a
    # union's str branch; unchecked, it fails only when the upstream request is encoded.
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("the text holds a lone surrogate, which UTF-8 cannot encode") from None
    return text


# Text that can be sent on as UTF-8: every str inside a union is declared as this.
Text = Annotated[str, AfterValidator(_encodable)]

StopSequences = Annotated[
    Text | Annotated[list[Annotated[Text, Field(min_length=1)]], Field(max_length=4)] | None,
    Field(description="A sequence, or up to 4, where generation stops."),
]
Temperature = Annotated[float | None, Field(ge=0.0, le=2.0, description="Sampling temperature.")]
TopP = Annotated[float | None, Field(gt=0.0, le=1.0, description="Nucleus sampling mass.")]
# 2**53 - 1: the largest integer every JSON parser reads exactly.
Seed = Annotated[int | None, Field(ge=0, le=2**53 - 1, description="Sampling seed.")]
MAX_TOKENS = 32768
MaxTokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


# /generate: the project's original endpoint.


class GenerateRequest(Strict):
    prompt: str = Field(min_length=1, description="The text to complete.")
    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    max_new_tokens: MaxTokens = Field(256, description="Most tokens to generate.")
    temperature: Temperature = None
    top_p: TopP = None
    stop: StopSequences = None
    seed: Seed = None
    stream: bool = Field(False, description="Stream tokens as Server-Sent Events.")


class GenerateResponse(BaseModel):
    id: str = Field(description="The request id, also in the X-Request-Id header.")
    model: str
    generated_text: str
    finish_reason: str | None = Field(description="stop, length, or null if unknown.")
    usage: Usage


class GenerateStreamEvent(BaseModel):
    """One `data:` frame of a streamed /generate; the last carries finish_reason and usage."""

    id: str
    model: str
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


# /v1/chat/completions: OpenAI-compatible.


class TextPart(Strict):
    type: Literal["text"]
    text: Text


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: Text | list[TextPart]
    name: str | None = None


class StreamOptions(Strict):
    include_usage: bool = False


class ChatCompletionRequest(Strict):
    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    temperature: Temperature = None
    top_p: TopP = None
    stop: StopSequences = None
    seed: Seed = None
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    n: Literal[1] | None = Field(None, description="Only one choice is supported.")
    user: str | None = Field(None, description="Accepted for compatibility; not forwarded.")
    stream: bool = False
    stream_options: StreamOptions | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str = Field(description="The name clients use: a model id or an alias.")
    object: Literal["model"] = "model"
    owned_by: str = Field(description="The upstream that serves it.")
    root: str = Field(description="The model id sent upstream.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    upstream: str = Field(description="Where completions come from (kind and address).")


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorResponse(BaseModel):
    """The one shape of every error body."""

    error: ErrorDetail
