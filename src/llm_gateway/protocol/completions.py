"""``/v1/completions``: OpenAI's legacy text completions, through TGI's generate route."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from llm_gateway.protocol.chat import StreamOptions
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

MAX_PROMPTS = 16
MAX_LOGPROBS = 5
Prompt = Annotated[Text, Field(min_length=1)]


class CompletionRequest(Strict):
    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    prompt: Prompt | Annotated[list[Prompt], Field(min_length=1, max_length=MAX_PROMPTS)] = Field(
        description="A prompt, or a list of prompts (one choice each, streamed one after "
        "another). Token ids are refused."
    )
    max_tokens: MaxTokens = Field(16, description="Most tokens to generate per prompt.")
    temperature: Temperature = None
    top_p: TopP = None
    stop: StopSequences = None
    seed: Seed = None
    frequency_penalty: Penalty = None
    echo: bool = Field(False, description="Put the prompt before the completion.")
    logprobs: int | None = Field(
        None,
        ge=0,
        le=MAX_LOGPROBS,
        description="Log probabilities of the generated tokens (not of an echoed prompt), "
        "with this many alternatives each.",
    )
    n: Literal[1] | None = Field(None, description="One choice per prompt.")
    best_of: Literal[1] | None = None
    user: User = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float]] | None = None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    text: str
    index: int
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None = None


class TextCompletion(BaseModel):
    """A completion, and (with ``object`` the same) each frame of a streamed one."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
