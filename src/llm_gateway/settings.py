"""The gateway's one settings object, read from ``LLM_GATEWAY_*`` variables and CLI flags."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import AliasChoices, Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "mistralai/Mistral-7B-Instruct-v0.3"


class UpstreamKind(enum.StrEnum):
    """Where completions come from; shown at startup, on ``/v1/models`` and in build_info."""

    SIMULATOR = "simulator"
    ENDPOINT = "endpoint"
    PROVIDERS = "providers"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    """Everything an operator can configure. Built once and passed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="LLM_GATEWAY_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Interface the server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the server listens on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes (metrics aggregated).")
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    log_format: LogFormat = Field(LogFormat.TEXT, description="Log line format: text or json.")

    default_model: str = Field(
        DEFAULT_MODEL, description="Model id used when a request names no model."
    )
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Extra models clients may ask for: a JSON object of alias to model id. "
        "The default model is always allowed, under its id.",
    )
    provider: str = Field(
        "auto", description="Inference Provider used when no upstream URL is set."
    )
    upstream_url: HttpUrl | None = Field(
        None,
        description="Base URL of a dedicated Inference Endpoint, a TGI/vLLM-compatible server "
        "or the simulator. Takes precedence over provider routing.",
    )
    upstream_is_simulator: bool = Field(
        False,
        description="The upstream URL is the llm-gateway simulator: clients may then ask it "
        "for a fault with the X-Simulator-Fault header.",
    )
    hf_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("HF_TOKEN", "LLM_GATEWAY_HF_TOKEN"),
        description="Hugging Face token (HF_TOKEN), sent to the upstream, never logged.",
    )
    upstream_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        60.0,
        description="Longest wait for the upstream to connect or send the next byte.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 beyond it)."
    )
    max_prompt_chars: int = Field(
        100_000, ge=1, description="Largest prompt, or sum of message contents, in characters."
    )
    drain_seconds: float = Field(
        20.0, ge=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )

    @model_validator(mode="after")
    def _simulator_needs_url(self) -> Settings:
        if self.upstream_is_simulator and self.upstream_url is None:
            raise ValueError("upstream_is_simulator needs upstream_url")
        return self

    @property
    def upstream_kind(self) -> UpstreamKind:
        if self.upstream_url is None:
            return UpstreamKind.PROVIDERS
        if self.upstream_is_simulator:
            return UpstreamKind.SIMULATOR
        return UpstreamKind.ENDPOINT

    @property
    def model_aliases(self) -> dict[str, str]:
        """Every name a client may use, mapped to the model id sent upstream."""
        return {self.default_model: self.default_model, **self.models}

    def describe_upstream(self) -> str:
        """A log-safe description of the upstream (no token, no URL credentials)."""
        if self.upstream_url is None:
            return f"Hugging Face Inference Providers (provider={self.provider})"
        url = self.upstream_url
        where = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path or ''}"
        return f"{self.upstream_kind.value} at {where}"
