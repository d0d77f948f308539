"""The simulator's one settings object, read from ``LLM_SIMULATOR_*`` environment variables."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODELS = [
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Nemo-Instruct-2407",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class SimulatorSettings(BaseSettings):
    """How the simulated upstream behaves: where it listens, how slow it is, how often it fails.

    Fault rates are fractions of generation requests; one random draw per request picks at
    most one fault, so the rates must add up to at most 1.
    """

    model_config = SettingsConfigDict(env_prefix="LLM_SIMULATOR_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    # Listed by /v1/models and /info. Requests may name any model: like a TGI server, which
    # serves one model whatever the payload says, the simulator echoes the requested id back.
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS), min_length=1)

    time_to_first_token_seconds: float = Field(default=0.2, ge=0.0)
    time_per_token_seconds: float = Field(default=0.02, ge=0.0)
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)

    max_tokens_default: int = Field(default=64, ge=1)
    # Larger requests are rejected as invalid, as TGI rejects max_new_tokens past its
    # max_total_tokens; it also bounds the work one request can ask for.
    max_tokens_limit: int = Field(default=4096, ge=1)
    # Of the embeddings /embed answers: intfloat/multilingual-e5-large's, the gateway's default.
    embedding_dimensions: int = Field(default=1024, ge=1, le=65536)

    rate_limit_rate: Rate = 0.0
    server_error_rate: Rate = 0.0
    unavailable_rate: Rate = 0.0
    hang_rate: Rate = 0.0
    drop_rate: Rate = 0.0
    malformed_rate: Rate = 0.0

    retry_after_seconds: int = Field(default=1, ge=0)
    # The client's own timeout should fire long before this; it only bounds abandoned hangs.
    hang_seconds: float = Field(default=300.0, ge=0.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _check_rates(self) -> Self:
        if self.max_tokens_default > self.max_tokens_limit:
            raise ValueError("max_tokens_default must not exceed max_tokens_limit")
        total = (
            self.rate_limit_rate
            + self.server_error_rate
            + self.unavailable_rate
            + self.hang_rate
            + self.drop_rate
            + self.malformed_rate
        )
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; they must add up to at most 1")
        return self
