"""The routing table: the upstreams the gateway calls and the models each one serves.

Read once at start from the YAML file ``LLM_GATEWAY_CONFIG`` (or ``serve --config``)
names, or built from the ``LLM_GATEWAY_*`` shorthand (one upstream, the models of
``LLM_GATEWAY_DEFAULT_MODEL``, ``_MODELS``, ``_EMBEDDING_MODELS``), so the rest of the
gateway only ever sees a table. A bad table refuses to start with a message naming the
entry; no message repeats a value given (one may be a secret written by mistake).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from llm_gateway.core.continuation import Prefill
from llm_gateway.core.retry import DEFAULT_POLICY, ErrorClass, Policy
from llm_gateway.core.routing import ModelRoute
from llm_gateway.core.types import ModelKind, Price
from llm_gateway.settings import ENV_NAME, Settings, UpstreamApi

# The settings a routing table stands for (LLM_GATEWAY_CONFIG): with a table, they are
# its entries' fields, and giving them as well is refused.
ROUTING_SHORTHAND = frozenset(
    {
        "default_model",
        "models",
        "default_embedding_model",
        "embedding_models",
        "fallback_models",
        "resilience",
        "prices",
        "provider",
        "upstream_url",
        "upstream_is_simulator",
        "upstream_api",
        "upstream_api_key_env",
    }
)
# The upstream of the shorthand settings.
SHORTHAND_UPSTREAM = "default"
# Fields a secret is sometimes written in: the file names its variable instead.
_INLINE_SECRETS = ("api_key", "key", "token", "hf_token", "password", "secret", "authorization")


class RoutingError(ValueError):
    """A routing table the gateway refuses to start with."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


class UpstreamEntry(_Entry):
    """One upstream: a pool of servers of one kind, with its own breakers and health checks.
    The pool settings left out take the gateway's (``LLM_GATEWAY_UPSTREAM_*``)."""

    name: str = Field(min_length=1)
    kind: Literal["openai", "huggingface"]
    urls: list[HttpUrl] = Field(default_factory=list)
    api_key_env: str | None = Field(None, pattern=ENV_NAME)
    provider: str | None = None
    simulator: bool = False
    health_path: str | None = Field(None, pattern=r"^/")
    max_connections: int | None = Field(None, ge=1)
    timeout_seconds: float | None = Field(None, gt=0, le=3600)
    eject_failures: int | None = Field(None, ge=1)
    eject_seconds: float | None = Field(None, gt=0)
    health_interval_seconds: float | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field in _INLINE_SECRETS:
                if field in data:
                    raise ValueError(
                        f"{field}: a secret is not written in the routing table; put it in an "
                        "environment variable and name that variable in api_key_env"
                    )
        return data

    @field_validator("urls", mode="after")
    @classmethod
    def _no_credentials(cls, urls: list[HttpUrl], info: ValidationInfo) -> list[HttpUrl]:
        # The shorthand's URL may carry credentials, as it always could; the file's may not.
        if (info.context or {}).get("file") and any(url.username or url.password for url in urls):
            raise ValueError(
                "a URL carries credentials; put the key in an environment variable and name "
                "that variable in api_key_env"
            )
        return urls

    @model_validator(mode="after")
    def _check(self) -> UpstreamEntry:
        if self.kind == "openai" and not self.urls:
            raise ValueError("an openai upstream needs urls")
        if self.provider is not None and (self.kind != "huggingface" or self.urls):
            raise ValueError("provider applies to a huggingface upstream without urls only")
        if self.simulator and not self.urls:
            raise ValueError("simulator needs urls")
        if self.api_key_env is not None and not os.environ.get(self.api_key_env):
            raise ValueError(f"api_key_env names {self.api_key_env}, which is not set or empty")
        return self


class PriceEntry(_Entry):
    """USD per million tokens."""

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


class ResilienceEntry(_Entry):
    """A model's resilience policy (:class:`~llm_gateway.core.retry.Policy`); what is left
    out takes the table's ``resilience``, then the gateway's defaults."""

    attempts: int | None = Field(None, ge=1, le=10)
    retry_statuses: list[int] | None = None
    backoff_seconds: float | None = Field(None, ge=0)
    min_backoff_seconds: float | None = Field(None, ge=0)
    max_backoff_seconds: float | None = Field(None, ge=0)
    header_timeout_seconds: float | None = Field(None, gt=0)
    first_token_timeout_seconds: float | None = Field(None, gt=0)
    stall_timeout_seconds: float | None = Field(None, gt=0)
    retry_timeouts: bool | None = None
    max_skipped_frames: int | None = Field(None, ge=0)
    circuit_failures: int | None = Field(None, ge=1)
    circuit_cooldown_seconds: float | None = Field(None, gt=0)

    @field_validator("retry_statuses", mode="after")
    @classmethod
    def _statuses(cls, statuses: list[int] | None) -> list[int] | None:
        if statuses is not None and any(not 400 <= status <= 599 for status in statuses):
            raise ValueError("retry_statuses are HTTP error statuses, 400 to 599")
        return statuses

    def applied(self, policy: Policy) -> Policy:
        """``policy`` with this entry's settings."""
        given = self.model_dump(exclude_none=True)
        if "retry_statuses" in given:
            given["retry_statuses"] = frozenset(given["retry_statuses"])
        return dataclasses.replace(policy, **given)


class ModelEntry(_Entry):
    name: str = Field(min_length=1)
    upstream: str
    id: str | None = Field(None, min_length=1)
    kind: Literal["chat", "embedding"] = "chat"
    fallbacks: list[str] = Field(default_factory=list)
    context_window_fallbacks: list[str] = Field(default_factory=list)
    content_policy_fallbacks: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    price: PriceEntry | None = None
    max_tokens: int | None = Field(None, ge=1)
    prefill: Literal["none", "continue_final_message", "prefix"] = "none"
    resilience: ResilienceEntry | None = None

    def route(self, policy: Policy) -> ModelRoute:
        """The core's record of this model, ``policy`` being the table's default."""
        if self.resilience is not None:
            policy = self.resilience.applied(policy)
        return ModelRoute(
            name=self.name,
            upstream=self.upstream,
            model_id=self.id or self.name,
            kind=ModelKind(self.kind),
            fallbacks=tuple(self.fallbacks),
            aliases=tuple(self.aliases),
            price=Price(self.price.prompt, self.price.completion) if self.price else None,
            max_tokens=self.max_tokens,
            policy=policy,
            prefill=Prefill(self.prefill),
            class_fallbacks={
                klass: tuple(names)
                for klass, names in (
                    (ErrorClass.CONTEXT_WINDOW, self.context_window_fallbacks),
                    (ErrorClass.CONTENT_POLICY, self.content_policy_fallbacks),
                )
                if names
            },
        )

    @property
    def all_fallbacks(self) -> list[tuple[str, str]]:
        """Every model this one hands requests to, with the field naming it."""
        return [
            ("fallback" if field == "fallbacks" else field, name)
            for field in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
            for name in getattr(self, field)
        ]


class RoutingTable(_Entry):
    upstreams: list[UpstreamEntry] = Field(min_length=1)
    models: list[ModelEntry] = Field(min_length=1)
    # Every model's resilience policy, but for what its own entry sets.
    resilience: ResilienceEntry | None = None

    @model_validator(mode="after")
    def _check(self) -> RoutingTable:
        _unique("upstream", [upstream.name for upstream in self.upstreams])
        models = {model.name: model for model in self.models}
        _unique("model name or alias", [n for m in self.models for n in (m.name, *m.aliases)])
        upstreams = {upstream.name for upstream in self.upstreams}
        for model in self.models:
            where = f"model {model.name!r}"
            if model.upstream not in upstreams:
                raise ValueError(f"{where}: upstream {model.upstream!r} is not in upstreams")
            for field, name in model.all_fallbacks:
                fallback = models.get(name)
                if fallback is None:
                    raise ValueError(f"{where}: {field} {name!r} is not a model of the table")
                if fallback.kind != model.kind:
                    raise ValueError(
                        f"{where}: {field} {name!r} is of kind {fallback.kind}, not {model.kind}"
                    )
                if field != "fallback" and name == model.name:
                    raise ValueError(f"{where}: {field} names the model itself")
        for model in self.models:
            _no_cycle(model, models, [])
        return self

    def routes(self, policy: Policy = DEFAULT_POLICY) -> list[ModelRoute]:
        """The models as the core reads them, ``policy`` (the gateway's settings) being the
        default below the table's ``resilience``."""
        if self.resilience is not None:
            policy = self.resilience.applied(policy)
        return [model.route(policy) for model in self.models]

    def upstream_settings(self, settings: Settings) -> Iterator[tuple[str, Settings]]:
        """Each upstream's name and settings: the gateway's, with the entry's own."""
        for entry in self.upstreams:
            update: dict[str, Any] = {
                "upstream_url": entry.urls or None,
                "upstream_api": UpstreamApi(entry.kind),
                "upstream_is_simulator": entry.simulator,
                "upstream_api_key_env": None,
            }
            if entry.provider is not None:
                update["provider"] = entry.provider
            if entry.api_key_env is not None and entry.kind == "openai":
                update["upstream_api_key_env"] = entry.api_key_env
            elif entry.api_key_env is not None:
                update["hf_token"] = SecretStr(os.environ[entry.api_key_env])
            for field in _POOL_FIELDS:
                if (value := getattr(entry, field)) is not None:
                    update[f"upstream_{field}"] = value
            yield entry.name, settings.model_copy(update=update)


_POOL_FIELDS = (
    "health_path",
    "max_connections",
    "timeout_seconds",
    "eject_failures",
    "eject_seconds",
    "health_interval_seconds",
)


def routing_table(settings: Settings) -> RoutingTable:
    """The table of the file ``settings.config`` names, or the one its shorthand makes."""
    both_ways = sorted(ROUTING_SHORTHAND & settings.model_fields_set)
    if settings.config is not None and both_ways:
        names = ", ".join(
            "LLM_GATEWAY_UPSTREAM_KIND" if name == "upstream_api" else f"LLM_GATEWAY_{name.upper()}"
            for name in both_ways
        )
        raise RoutingError(
            f"a routing table (LLM_GATEWAY_CONFIG) holds the upstreams and models: {names} "
            "would be ignored beside it; remove them, or write them in the table"
        )
    if settings.config is not None:
        return load(settings.config)
    return _checked(shorthand(settings), "the LLM_GATEWAY_* settings", {"file": False})


def load(path: Path) -> RoutingTable:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RoutingError(f"routing table {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise RoutingError(f"routing table {path}: expected a mapping of upstreams and models")
    return _checked(data, f"routing table {path}", {"file": True})


def shorthand(settings: Settings) -> dict[str, Any]:
    """The one-upstream table the ``LLM_GATEWAY_*`` settings stand for: one model per
    model id (named by its id, its other names as aliases), every chat model falling back
    to ``LLM_GATEWAY_FALLBACK_MODELS`` in order (one of those to the ones after it), with
    ``LLM_GATEWAY_RESILIENCE`` as the table's ``resilience``."""
    upstream: dict[str, Any] = {
        "name": SHORTHAND_UPSTREAM,
        "kind": settings.upstream_api.value,
        "urls": settings.upstream_endpoints,
        "simulator": settings.upstream_is_simulator,
        "api_key_env": settings.upstream_api_key_env,
    }
    if settings.upstream_url is None:
        upstream["provider"] = settings.provider
    chat = settings.model_aliases
    fallbacks = list(dict.fromkeys(chat[name] for name in settings.fallback_models))
    prices = {
        model: {"prompt": price.prompt, "completion": price.completion}
        for model, price in settings.model_prices.items()
    }
    models = []
    for kind, aliases in (("chat", chat), ("embedding", settings.embedding_model_aliases)):
        for model_id in dict.fromkeys(aliases.values()):
            model: dict[str, Any] = {
                "name": model_id,
                "upstream": SHORTHAND_UPSTREAM,
                "kind": kind,
                "aliases": [name for name, id_ in aliases.items() if id_ == model_id != name],
            }
            if kind == "chat":
                later = fallbacks[fallbacks.index(model_id) + 1 :] if model_id in fallbacks else []
                model["fallbacks"] = later if model_id in fallbacks else fallbacks
            if model_id in prices:
                model["price"] = prices[model_id]
            models.append(model)
    table: dict[str, Any] = {"upstreams": [upstream], "models": models}
    if settings.resilience:
        table["resilience"] = settings.resilience
    return table


def _checked(data: dict[str, Any], source: str, context: dict[str, bool]) -> RoutingTable:
    try:
        return RoutingTable.model_validate(data, context=context)
    except ValidationError as exc:
        problems = [
            f"{_where(data, error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise RoutingError(f"{source}: " + "; ".join(problems)) from None


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """An error's place, the entry by its name: ``upstreams[0] 'vllm'.urls``."""
    if len(loc) < 2 or not isinstance(loc[1], int):
        return ".".join(str(part) for part in loc) or "table"
    entries = data.get(str(loc[0]))
    entry = entries[loc[1]] if isinstance(entries, list) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    place = f"{loc[0]}[{loc[1]}]" + (f" {name!r}" if isinstance(name, str) else "")
    return ".".join([place, *(str(part) for part in loc[2:])])


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is given twice")
        seen.add(name)


def _no_cycle(model: ModelEntry, models: dict[str, ModelEntry], path: list[str]) -> None:
    if model.name in path:
        cycle = " -> ".join([*path[path.index(model.name) :], model.name])
        raise ValueError(f"model {path[0]!r}: its fallbacks form a cycle ({cycle})")
    for name in model.fallbacks:
        _no_cycle(models[name], models, [*path, model.name])
