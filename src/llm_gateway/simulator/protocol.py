"""Request bodies the simulator accepts, for the OpenAI and TGI dialects.

Strict models: a string where a number belongs is a client error, as on a real server.
Unknown fields are ignored, since clients send parameters the simulator has no use for.
Responses are written by hand in the route modules, where the streaming frames are built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

_STRICT = ConfigDict(strict=True, frozen=True)
# What an embeddings request embeds, in either dialect: texts or token ids.
EmbeddingInputs = (
    str
    | list[Annotated[str, Field(min_length=1)]]
    | list[int]
    | list[Annotated[list[int], Field(min_length=1)]]
)


def _batch(inputs: EmbeddingInputs) -> list[str] | list[list[int]]:
    if isinstance(inputs, str):
        return [inputs]
    if isinstance(inputs[0], int):
        return [inputs]
    return inputs


def _stops(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else stop


class ContentPart(BaseModel):
    """One part of a multi-part message; parts other than text do not reach the model."""

    model_config = _STRICT

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = _STRICT

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    # Mistral's prefill: this final assistant message is the start of the answer.
    prefix: bool = False

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if self.content is None:
            return ""
        return "\n".join(part.text for part in self.content if part.text is not None)


class StreamOptions(BaseModel):
    model_config = _STRICT

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = _STRICT

    model: str = "tgi"
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    # The newer OpenAI name for max_tokens; the gateway's clients may send either.
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    # OpenAI's bound.
    n: int | None = Field(default=None, ge=1, le=128)
    # vLLM's and SGLang's prefill: continue the final (assistant) message. vLLM's chat
    # template adds a generation prompt unless told not to, and the two cannot go together.
    continue_final_message: bool = False
    add_generation_prompt: bool = True

    @model_validator(mode="after")
    def _check_prefill(self) -> Self:
        if self.continue_final_message and self.add_generation_prompt:
            raise ValueError(
                "Cannot set both `continue_final_message` and `add_generation_prompt` to True "
                "(add_generation_prompt is true unless set to false)."
            )
        final = self.messages[-1]
        if self.continue_final_message and final.role != "assistant":
            raise ValueError("continue_final_message needs a final message from the assistant.")
        if any(message.prefix for message in self.messages) and not (
            final.prefix and final.role == "assistant"
        ):
            raise ValueError("prefix is only allowed on the final message, from the assistant.")
        return self

    def prefill(self) -> str | None:
        """The start of the answer the model is asked to continue: the final assistant
        message, when ``continue_final_message`` or its ``prefix`` asks for that."""
        final = self.messages[-1]
        if self.continue_final_message or final.prefix:
            return final.text()
        return None

    def prompt(self, *, without_prefill: bool = False) -> str:
        """The prompt as a chat template would lay it out, so roles count as tokens too;
        ``without_prefill``: the conversation the prefill is the start of an answer to."""
        messages = self.messages
        if without_prefill and self.prefill() is not None:
            messages = messages[:-1]
        return "\n".join(f"{message.role}: {message.text()}" for message in messages)

    def stop_sequences(self) -> list[str]:
        return _stops(self.stop)


class CompletionRequest(BaseModel):
    """OpenAI's legacy ``POST /v1/completions``: one prompt, or several (a choice each)."""

    model_config = _STRICT

    model: str = "tgi"
    prompt: str | list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=5)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt

    def stop_sequences(self) -> list[str]:
        return _stops(self.stop)


class EmbeddingsRequest(BaseModel):
    """OpenAI's ``POST /v1/embeddings``: texts or token ids."""

    model_config = _STRICT

    model: str = "tei"
    input: EmbeddingInputs = Field(min_length=1)
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"

    def batch(self) -> list[str] | list[list[int]]:
        return _batch(self.input)


class GenerateParameters(BaseModel):
    model_config = _STRICT

    max_new_tokens: int | None = Field(default=None, ge=1)
    # TGI's own bounds: temperature and top_p must be strictly positive, top_p below 1.
    temperature: float | None = Field(default=None, gt=0.0)
    top_p: float | None = Field(default=None, gt=0.0, lt=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    details: bool | None = None
    decoder_input_details: bool | None = None
    top_n_tokens: int | None = Field(default=None, ge=0, le=10)


class GenerateRequest(BaseModel):
    model_config = _STRICT

    inputs: str = Field(min_length=1)
    parameters: GenerateParameters = GenerateParameters()
    # Read by TGI's compat route ``POST /`` only.
    stream: bool = False


class EmbedRequest(BaseModel):
    """Text Embeddings Inference's ``POST /embed`` (and ``POST /``): texts or token ids."""

    model_config = _STRICT

    inputs: EmbeddingInputs = Field(min_length=1)
    normalize: bool = True
    truncate: bool | None = None
    dimensions: int | None = Field(default=None, ge=1)

    def batch(self) -> list[str] | list[list[int]]:
        return _batch(self.inputs)
