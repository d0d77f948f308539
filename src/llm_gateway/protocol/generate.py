"""``/generate``: the project's original endpoint."""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm_gateway.protocol.common import (
    MaxTokens,
    Seed,
    StopSequences,
    Strict,
    Temperature,
    TopP,
    Usage,
)


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
