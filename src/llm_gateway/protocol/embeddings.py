"""``/v1/embeddings``: OpenAI's embeddings, through ``InferenceClient.feature_extraction``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from llm_gateway.protocol.common import Strict, Text, User

MAX_INPUTS = 2048
# Above any embedding model's: e5-mistral-7b-instruct has 4096.
MAX_DIMENSIONS = 8192
Input = Annotated[Text, Field(min_length=1)]
TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class EmbeddingRequest(Strict):
    input: (
        Input
        | Annotated[list[Input], Field(min_length=1, max_length=MAX_INPUTS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)]
    ) = Field(description="A text, a list of texts, or token ids (a list, or a list of lists).")
    model: str | None = Field(
        None, description="Embedding model name or alias; the default embedding model if omitted."
    )
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: lists of numbers; base64: little-endian float32 bytes."
    )
    dimensions: int | None = Field(
        None, ge=1, le=MAX_DIMENSIONS, description="Fewer dimensions, where the model allows."
    )
    user: User = None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int = Field(description="Counted by the gateway: embedding servers report none.")
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
