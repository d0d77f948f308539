"""The routing table as the core reads it, and the resolution of a model name through it.

The app builds the table once, from the configuration file or the ``LLM_GATEWAY_*``
shorthand (:mod:`llm_gateway.routing`, which checks it), and hands the core the models
and one :class:`~llm_gateway.core.upstream.Upstream` per upstream name. A client names a
model (or none: the first of its kind); :class:`Router` turns the name into the route to
call, and the model's fallbacks into the routes tried after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from llm_gateway.core.continuation import Prefill
from llm_gateway.core.retry import DEFAULT_POLICY, ErrorClass, Policy
from llm_gateway.core.types import CompletionTask, EmbeddingTask, ModelKind, Price
from llm_gateway.core.upstream import Upstream
from llm_gateway.errors import InvalidRequest, ModelNotFound


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """One model of the table. ``name`` is what clients ask for and what the metrics'
    ``model`` label shows; ``model_id`` is sent upstream; ``aliases`` are other names
    clients may use for it. ``fallbacks`` take over when it keeps failing;
    ``class_fallbacks`` when the upstream rejects a request of an :class:`ErrorClass`
    (a prompt too long for its context window, say) that another model may serve.
    ``prefill`` is the form in which its server continues a partial answer."""

    name: str
    upstream: str
    model_id: str
    kind: ModelKind = ModelKind.CHAT
    fallbacks: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    price: Price | None = None
    max_tokens: int | None = None
    policy: Policy = DEFAULT_POLICY
    prefill: Prefill = Prefill.NONE
    class_fallbacks: Mapping[ErrorClass, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """One attempt's target: the model and the upstream that serves it."""

    model: ModelRoute
    upstream: Upstream

    def capped(self, request: CompletionTask) -> CompletionTask:
        """``request`` as sent to this model: with its ``max_tokens`` cap, if it has one,
        applied to a request asking for more tokens or naming no number."""
        cap = self.model.max_tokens
        if cap is None or (request.max_tokens is not None and request.max_tokens <= cap):
            return request
        return dataclasses.replace(request, max_tokens=cap)


class Router:
    """Model names to routes. The table is checked before it gets here (every upstream
    and fallback named exists, fallbacks are of their model's kind and form no cycle)."""

    def __init__(self, models: Sequence[ModelRoute], upstreams: Mapping[str, Upstream]) -> None:
        self._routes = {model.name: Route(model, upstreams[model.upstream]) for model in models}
        self._names: dict[ModelKind, dict[str, Route]] = {kind: {} for kind in ModelKind}
        for route in self._routes.values():
            for name in (route.model.name, *route.model.aliases):
                self._names[route.model.kind][name] = route
        # Every request walks its model's chain: the table is fixed, so each is walked once.
        self._chains = {
            name: tuple(self._unique(self._walk(route))) for name, route in self._routes.items()
        }

    @property
    def prices(self) -> dict[str, Price]:
        """The prices by model name (the ``model`` label of the cost metric)."""
        return {
            name: route.model.price
            for name, route in self._routes.items()
            if route.model.price is not None
        }

    def resolve(self, request: CompletionTask | EmbeddingTask) -> Route:
        """The route for the model the request names: the first of its kind when it names
        none; a 400 for a model of the other kind (a chat model asked for embeddings); a
        404 for a name not served."""
        names = self._names[request.kind]
        if request.model is None:
            try:
                return next(iter(names.values()))
            except StopIteration:
                raise ModelNotFound(
                    f"This gateway serves no {request.kind} model.", code="model_not_found"
                ) from None
        try:
            return names[request.model]
        except KeyError:
            pass
        # Built only for the refusal: a table of many aliases made it a tenth of a request.
        known = ", ".join(sorted(names)) or "none"
        if any(request.model in other for other in self._names.values()):
            raise InvalidRequest(
                f"Model {request.model!r} is not a {request.kind} model. {request.kind.title()} "
                f"models: {known}.",
                code="wrong_model_kind",
                param="model",
            )
        raise ModelNotFound(
            f"Model {request.model!r} is not served by this gateway. Available: {known}.",
            code="model_not_found",
            param="model",
        )

    @property
    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def route(self, name: str) -> Route:
        """The route of the model named ``name`` in the table (not an alias)."""
        return self._routes[name]

    def chain(self, route: Route) -> Sequence[Route]:
        """``route``, then its fallbacks in order, each followed by its own (depth first),
        every model once."""
        return self._chains[route.model.name]

    def class_chain(self, route: Route, error_class: ErrorClass) -> list[Route]:
        """The models to try for a request ``route``'s upstream rejected with an error of
        ``error_class``: its models for that class, each with its own fallbacks."""
        names = route.model.class_fallbacks.get(error_class, ())
        return self._unique(each for name in names for each in self._walk(self._routes[name]))

    @staticmethod
    def _unique(routes: Iterable[Route]) -> list[Route]:
        seen: dict[str, Route] = {}
        for each in routes:
            seen.setdefault(each.model.name, each)
        return list(seen.values())

    def _walk(self, route: Route) -> Iterator[Route]:
        yield route
        for name in route.model.fallbacks:
            yield from self._walk(self._routes[name])
