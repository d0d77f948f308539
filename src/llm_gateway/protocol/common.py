"""What the wire shapes share: field types and bounds, usage, models, the error envelope."""

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
    Text | Annotated[list[Text], Field(max_length=4)] | None,
    Field(description="A sequence, or up to 4, where generation stops (empty ones ignored)."),
]
Temperature = Annotated[float | None, Field(ge=0.0, le=2.0, description="Sampling temperature.")]
TopP = Annotated[
    float | None, Field(ge=0.0, le=1.0, description="Nucleus sampling mass; 0 is greedy.")
]
# Any integer. OpenAI's bounds are a signed 64-bit integer's, but JSON Schema tools read
# them as floats, whose rounding lets -9223372036854776000 through: a huggingface upstream
# gets the seed modulo 2**64 (TGI's is unsigned), an openai one as sent, to judge.
Seed = Annotated[int | None, Field(description="Sampling seed.")]
Penalty = Annotated[float | None, Field(ge=-2.0, le=2.0)]
# No cap of the gateway's own: the upstream bounds max_tokens by its model's context (and
# refuses, or clamps, beyond it). The bound is JSON's, as for Seed.
MaxTokens = Annotated[int, Field(ge=1, le=2**53 - 1)]
# Accepted for the OpenAI SDK's sake; an end-user id, never forwarded or logged.
User = Annotated[str | None, Field(description="Accepted; not forwarded.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelCard(BaseModel):
    id: str = Field(description="The name clients use: a model id or an alias.")
    object: Literal["model"] = "model"
    created: int = Field(description="When the gateway started serving it (Unix seconds).")
    owned_by: str = Field(description="The organisation the model id belongs to.")
    root: str = Field(description="The model id sent upstream.")
    kind: Literal["chat", "embedding"] = Field(
        description="chat: chat and text completions; embedding: embeddings."
    )


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
