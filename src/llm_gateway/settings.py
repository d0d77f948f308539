"""The gateway's one settings object, read from ``LLM_GATEWAY_*`` variables and CLI flags."""

from __future__ import annotations

import enum
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from llm_gateway.core.limits import FailureMode
from llm_gateway.core.types import Price
from llm_gateway.urls import safe_url

DEFAULT_MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
REDIS_SCHEMES = ("redis", "rediss")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Multilingual, like Mistral's models, 1024 dimensions, served by Hugging Face's own
# inference (hf-inference) and by Text Embeddings Inference.
DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-large"


def digest(key: str) -> str:
    """How API keys are held: their SHA-256, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


class UpstreamKind(enum.StrEnum):
    """Where completions come from; shown at startup, on ``/v1/models`` and in build_info."""

    SIMULATOR = "simulator"
    ENDPOINT = "endpoint"
    PROVIDERS = "providers"


class UpstreamApi(enum.StrEnum):
    """How the gateway talks to its upstream (``LLM_GATEWAY_UPSTREAM_KIND``)."""

    # huggingface_hub's InferenceClient: Inference Providers, Endpoints, TGI/TEI routes.
    HUGGINGFACE = "huggingface"
    # OpenAI's own routes (/v1/chat/completions, /v1/completions, /v1/embeddings).
    OPENAI = "openai"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    """Everything an operator can configure. Built once and passed to ``create_app``."""

    # A `.env` file in the working directory holds the same variables, one `NAME=value` a
    # line; the real environment wins over it, and arguments (the CLI's flags) over both.
    # Inputs stay out of error messages: some are secrets (a Redis URL may carry a password).
    model_config = SettingsConfigDict(
        env_prefix="LLM_GATEWAY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    host: str = Field("127.0.0.1", description="Interface the server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the server listens on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes (metrics aggregated).")
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    log_format: LogFormat = Field(LogFormat.TEXT, description="Log line format: text or json.")

    config: Path | None = Field(
        None, description="YAML routing table; without it, the settings below make one."
    )
    default_model: str = Field(
        DEFAULT_MODEL, description="Model id used when a request names no model."
    )
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Extra models clients may ask for: a JSON object of alias to model id. "
        "The default model is always allowed, under its id.",
    )
    default_embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Embedding model id used when an embeddings request names no model.",
    )
    embedding_models: dict[str, str] = Field(
        default_factory=dict,
        description="Extra embedding models clients may ask for: a JSON object of alias to "
        "model id. Chat and embedding models are kept apart: each answers only its own kind.",
    )
    provider: str = Field(
        "auto", description="Inference Provider used when no upstream URL is set."
    )
    upstream_url: Annotated[list[HttpUrl] | None, NoDecode] = Field(
        None,
        description="Base URL of an OpenAI-compatible server (vLLM, TGI, TEI, ...), an "
        "Inference Endpoint or the simulator; or a comma-separated list of such URLs serving "
        "the same models, balanced as one pool. Takes precedence over provider routing.",
    )
    upstream_is_simulator: bool = Field(
        False,
        description="The upstream URL is the llm-gateway simulator: clients may then ask it "
        "for a fault with the X-Simulator-Fault header.",
    )
    upstream_api: UpstreamApi = Field(
        default_factory=lambda given: (
            UpstreamApi.OPENAI if given.get("upstream_url") else UpstreamApi.HUGGINGFACE
        ),
        validation_alias=AliasChoices("LLM_GATEWAY_UPSTREAM_KIND", "upstream_api"),
        description="How the upstream is spoken to: openai (OpenAI's routes under each "
        "upstream URL, on the gateway's own relay; the default with a URL) or huggingface "
        "(InferenceClient; the default without a URL: Inference Providers).",
    )
    upstream_api_key_env: str | None = Field(
        None,
        pattern=ENV_NAME,
        description="With the openai kind: the NAME of the environment variable holding the "
        "upstream's API key, sent as a bearer token (none: no Authorization header).",
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
    upstream_max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest upstream response body read whole, decompressed (502 beyond it).",
    )
    upstream_max_line_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Longest line of an upstream event stream, decompressed (502 beyond it).",
    )
    upstream_eject_failures: int = Field(
        3,
        ge=1,
        description="Consecutive connection failures, timeouts or 5xx that take a pool "
        "endpoint out of rotation.",
    )
    upstream_eject_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a first ejection lasts; each failed probe doubles it, up to "
        "60 s (or this, if longer).",
    )
    upstream_health_interval_seconds: float = Field(
        5.0, ge=0, description="Interval of the health check of every pool endpoint (0: none)."
    )
    upstream_health_path: str = Field(
        "/health", pattern=r"^/", description="Path of the health check, such as /v1/models."
    )
    upstream_max_connections: int = Field(
        512, ge=1, description="Most connections open to the upstream at once, per worker."
    )
    upstream_resolve_interval_seconds: float = Field(
        30.0,
        gt=0,
        description="Interval at which pool host names are resolved again (one endpoint "
        "per address, for http:// URLs).",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 beyond it)."
    )
    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        description="Largest request head (request line and header fields; 431 beyond it).",
    )
    max_headers: int = Field(
        100, ge=8, description="Most header fields in a request (431 beyond it)."
    )
    request_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for a request's head, from the connection opening or the "
        "previous response (408 and the connection closed beyond it).",
    )
    request_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest time reading a request's body (408 and the connection closed "
        "beyond it).",
    )
    max_prompt_chars: int = Field(
        100_000, ge=1, description="Largest prompt, or sum of message contents, in characters."
    )
    drain_seconds: float = Field(
        20.0,
        ge=0,
        description="On SIGTERM, how long in-flight requests may take to finish; streams "
        "still open then end with an error frame.",
    )
    shutdown_delay_seconds: float = Field(
        0.0,
        ge=0,
        description="On SIGTERM, how long to keep accepting requests with /readyz failing "
        "before draining (for load balancers without a preStop hook).",
    )

    retry_attempts: int = Field(
        3, ge=1, le=10, description="Attempts per model for a retryable upstream failure."
    )
    retry_backoff_seconds: float = Field(
        0.25, ge=0, description="Base of the exponential backoff (full jitter) between attempts."
    )
    retry_max_backoff_seconds: float = Field(
        5.0,
        ge=0,
        description="Longest wait between attempts; a longer upstream Retry-After is not waited.",
    )
    request_deadline_seconds: float = Field(
        120.0,
        gt=0,
        description="A request's whole time from its arrival: no attempt starts or goes on "
        "past it (504, or an error frame once streaming).",
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="Models (names or aliases) tried in order when the requested one keeps "
        "failing with a retryable error; the one used is reported.",
    )
    resilience: dict[str, Any] = Field(
        default_factory=dict,
        description="The failover policy of every model (JSON, the routing table's "
        "`resilience` fields: timeouts, stall window, circuit, ...).",
    )
    max_concurrency: int = Field(
        128, ge=1, description="Requests sent to the upstream at once, per worker."
    )
    max_queue: int = Field(
        64, ge=0, description="Requests waiting for a slot; beyond it, 503 at once."
    )
    queue_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest wait for a slot before 503."
    )

    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Client API keys: a JSON object of alias to key. Only SHA-256 digests are "
        "kept; with none configured (here or in the file), no key is asked for.",
    )
    api_keys_file: Path | None = Field(
        None,
        description="A file of client API keys (JSON object of alias to key), e.g. a mounted "
        "Secret; merged with api_keys.",
    )
    protect_metrics: bool = Field(False, description="Ask for an API key on /metrics too.")
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="Token prices by model (id or alias), in USD per million tokens: a JSON "
        'object such as {"mistralai/Mistral-7B-Instruct-v0.3": {"prompt": 0.25, "completion": '
        "0.25}}. They price llm_gateway_cost_usd_total, an estimate; a model without a price "
        "costs nothing there.",
    )
    metrics_enabled: bool = Field(
        True,
        description="Record and expose metrics. Off: no /metrics route and nothing measured "
        "(to price the metrics, or where another layer measures).",
    )
    rate_limit_requests_per_minute: int = Field(
        0, ge=0, description="Requests per minute allowed to each API key (0: no limit)."
    )
    rate_limit_tokens_per_minute: int = Field(
        0, ge=0, description="Tokens per minute allowed to each API key (0: no limit)."
    )
    redis_url: SecretStr | None = Field(
        None,
        description="redis:// or rediss:// URL of the Redis that holds the rate limits, so "
        "they hold across workers and replicas; it may carry the password. Without it, "
        "each worker keeps its own buckets.",
    )
    redis_password: SecretStr | None = Field(
        None, description="Redis password, when the URL carries none (e.g. from a Secret)."
    )
    redis_timeout_seconds: float = Field(
        0.25, gt=0, le=10, description="Longest wait for one Redis round trip."
    )
    rate_limit_failure_mode: FailureMode = Field(
        FailureMode.OPEN,
        description="While Redis does not answer: open (per-worker buckets) or closed (503).",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_api_keys_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("api_keys_file"):
            return data
        path = Path(data["api_keys_file"])
        try:
            keys = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"api_keys_file {path} cannot be read as JSON: {exc}") from None
        if not isinstance(keys, dict):
            raise ValueError(f"api_keys_file {path} must hold a JSON object of alias to key")
        return {**data, "api_keys": {**(data.get("api_keys") or {}), **keys}}

    @field_validator("upstream_url", mode="before")
    @classmethod
    def _split_upstream_urls(cls, value: Any) -> Any:
        # A comma-separated list, as an operator writes it, or JSON, as workers get it.
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        urls = [url.strip() for url in value.split(",") if url.strip()]
        return urls or None

    @field_validator("redis_url", mode="after")
    @classmethod
    def _check_redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and urlsplit(url.get_secret_value()).scheme not in REDIS_SCHEMES:
            # The URL may hold a password: the message does not repeat it.
            raise ValueError("redis_url must start with redis:// or rediss://")
        return url

    @field_validator("api_keys", mode="after")
    @classmethod
    def _hash_api_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        return {alias: digest(key) for alias, key in keys.items()}

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.upstream_is_simulator and self.upstream_url is None:
            raise ValueError("upstream_is_simulator needs upstream_url")
        if self.upstream_api is UpstreamApi.OPENAI and self.upstream_url is None:
            raise ValueError(
                "upstream kind openai needs upstream_url (Hugging Face's router: "
                "https://router.huggingface.co/v1)"
            )
        unknown = [name for name in self.fallback_models if name not in self.model_aliases]
        if unknown:
            raise ValueError(f"fallback_models names models not served: {unknown}")
        both = sorted(self.model_aliases.keys() & self.embedding_model_aliases.keys())
        if both:
            raise ValueError(f"names both a chat and an embedding model: {both}")
        unpriced = [name for name in self.prices if name not in self.model_aliases]
        if unpriced:
            raise ValueError(f"prices names models not served: {unpriced}")
        negative = [n for n, p in self.prices.items() if min(p.prompt, p.completion) < 0]
        if negative:
            raise ValueError(f"prices must not be negative: {negative}")
        return self

    @property
    def upstream_kind(self) -> UpstreamKind:
        if self.upstream_url is None:
            return UpstreamKind.PROVIDERS
        if self.upstream_is_simulator:
            return UpstreamKind.SIMULATOR
        return UpstreamKind.ENDPOINT

    @property
    def model_prices(self) -> dict[str, Price]:
        """The prices by the model id sent upstream (the id a response names)."""
        return {self.model_aliases[name]: price for name, price in self.prices.items()}

    @property
    def model_aliases(self) -> dict[str, str]:
        """Every name a client may use, mapped to the model id sent upstream."""
        return {self.default_model: self.default_model, **self.models}

    @property
    def upstream_endpoints(self) -> list[str]:
        """The upstream base URLs, without a trailing slash (they may hold credentials)."""
        return [str(url).rstrip("/") for url in self.upstream_url or ()]

    @property
    def embedding_model_aliases(self) -> dict[str, str]:
        """Every name a client may use for embeddings, mapped to the model id sent upstream."""
        return {self.default_embedding_model: self.default_embedding_model, **self.embedding_models}

    def describe_upstream(self) -> str:
        """A log-safe description of the upstream (no token, no URL credentials)."""
        if self.upstream_url is None:
            return f"Hugging Face Inference Providers (provider={self.provider})"
        where = ", ".join(safe_url(url) for url in self.upstream_endpoints)
        return f"{self.upstream_kind.value} at {where} ({self.upstream_api.value} kind)"

    def describe_rate_limits(self) -> str:
        """A log-safe description of the per-key limits and where they hold (no password)."""
        budgets = (
            f"{self.rate_limit_requests_per_minute} requests and "
            f"{self.rate_limit_tokens_per_minute} tokens per minute per API key (0: none)"
        )
        if self.redis_url is None:
            return f"{budgets}, per worker"
        where = safe_url(self.redis_url.get_secret_value())
        return (
            f"{budgets}, global in Redis at {where} "
            f"(failure mode {self.rate_limit_failure_mode.value})"
        )
