"""``/v1/completions``: OpenAI's legacy text completions, through TGI's generate route."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_gateway.protocol.chat import StreamOptions
from llm_gateway.protocol.common import (
    Penalty,
    Seed,
    StopSequences,
    Temperature,
    Text,
    TopP,
    Usage,
    User,
)

MAX_PROMPTS = 16
MAX_LOGPROBS = 5
# OpenAI's default, for a request that sends none (or null).
DEFAULT_MAX_TOKENS = 16
TokenIds = Annotated[list[int], Field(min_length=1)]


class CompletionRequest(BaseModel):
    """A request to ``POST /v1/completions``, as OpenAI's request schema allows it.

    What Hugging Face's generate route cannot serve (token ids, ``n`` or ``best_of`` above
    1, ``suffix``, ``logit_bias``, ``presence_penalty``, an empty prompt) is parsed, so that
    it is refused with a 400 naming it (:mod:`llm_gateway.routes.completion_request`)
    rather than a 422 about its shape; so are fields it does not know, kept in
    ``model_extra``: ``text_generation`` has no way to pass them on.
    """

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="Model name or alias; the default if omitted.")
    prompt: Text | list[Text] | TokenIds | list[TokenIds] | None = Field(
        description="A prompt, or a list of up to 16 (one choice each, streamed one after "
        "another). Token ids and an empty prompt are refused (400)."
    )
    max_tokens: Annotated[int, Field(ge=0, le=2**53 - 1)] | None = Field(
        DEFAULT_MAX_TOKENS, description="Most tokens to generate per prompt; 0 is refused (400)."
    )
    temperature: Temperature = None
    top_p: TopP = None
    stop: StopSequences = None
    seed: Seed = None
    frequency_penalty: Penalty = None
    presence_penalty: Penalty = Field(None, description="Refused (400) unless 0.")
    echo: bool | None = Field(False, description="Put the prompt before the completion.")
    logprobs: int | None = Field(
        None,
        ge=0,
        le=MAX_LOGPROBS,
        description="Log probabilities of the generated tokens (not of an echoed prompt), "
        "with this many alternatives each.",
    )
    n: int | None = Field(None, ge=1, le=128, description="Refused (400) above 1.")
    best_of: int | None = Field(None, ge=0, le=20, description="Refused (400) unless 1.")
    logit_bias: dict[str, float] | None = Field(None, description="Refused (400) unless empty.")
    suffix: str | None = Field(None, description="Refused (400) unless empty.")
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
