"""The attempts of one request: the requested model, retried by its policy, then its
fallbacks, each on its own upstream, with a circuit per model; and the continuation of a
stream that broke after tokens reached the client.

The policies (:mod:`llm_gateway.core.retry`) decide what follows each failure; here the
chain is walked: a model whose circuit is open is passed over at once (counted as a
fallback for the next, reason ``circuit_open``); a rejection of an error class goes to
the models the table names for it (``context_window``, ``content_policy``). The last
model of a chain is tried whatever its circuit: with nowhere else to go, a request is
better sent to a model that may have recovered than refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from llm_gateway.core.circuit import Circuit
from llm_gateway.core.continuation import Prefill, prefilled
from llm_gateway.core.measurement import Measurement
from llm_gateway.core.metrics import Metrics
from llm_gateway.core.retry import Next, Policy, error_class
from llm_gateway.core.routing import Route, Router
from llm_gateway.core.types import Chunk, CompletionTask, EmbeddingTask, FallbackReason, Outcome
from llm_gateway.errors import (
    DeadlineExceeded,
    ShuttingDown,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)

T = TypeVar("T")
R = TypeVar("R", CompletionTask, EmbeddingTask)


@dataclass(frozen=True, slots=True)
class Opened:
    """A stream whose first token is in: the rest to read, and what the relay needs to
    watch it (the model's policy), to count it should it break (its prompt's size) and
    the unreadable frames passed over before the first token."""

    first: Chunk
    chunks: AsyncIterator[Chunk]
    policy: Policy
    prompt_chars: int
    skipped: int = 0


# Called by the relay when its stream broke: the error, the text the client has of the
# answer (None: not a plain text answer, not continuable), and its tokens.
Resume = Callable[[UpstreamError, str | None, int], Awaitable[Opened | None]]


class Failover:
    """Attempts, retries, fallbacks and circuits, for every request of a gateway."""

    def __init__(self, router: Router, metrics: Metrics, deadline_seconds: float) -> None:
        self._router = router
        self._metrics = metrics
        self._deadline = deadline_seconds
        self._circuits = {
            route.model.name: Circuit(
                route.model.policy.circuit_failures, route.model.policy.circuit_cooldown_seconds
            )
            for route in router.routes
        }
        # Each circuit starts closed, its metrics' series with it: an alert on the first
        # opening sees an increase from 0, not a series appearing.
        for model in self._circuits:
            metrics.circuit_changed(model, opened=False)
        # The deadlines of the attempts in progress; the cut-off brings them forward.
        self._timeouts: set[asyncio.Timeout] = set()
        self._cut_off = False

    def cut_off(self) -> None:
        """End every attempt in progress: the drain time is over."""
        self._cut_off = True
        now = asyncio.get_running_loop().time()
        for timeout in self._timeouts:
            timeout.reschedule(now)

    async def run(
        self,
        request: R,
        route: Route,
        measurement: Measurement,
        call: Callable[[R, Route], Awaitable[T]],
        deadline: float,
    ) -> T:
        """``call`` on the requested model's route, then on its fallbacks' (see the module).

        ``deadline`` (event-loop time) bounds the attempt in progress too: an upstream
        trickling bytes resets the read timeout with each one, and would otherwise hold
        the request.
        """
        error: UpstreamError | None = None
        chain: Sequence[Route] = self._router.chain(route)
        reason: FallbackReason | None = None
        position = 0
        while position < len(chain):
            each = chain[position]
            position += 1
            last = position == len(chain)
            if not self._circuits[each.model.name].allows() and not last:
                reason = FallbackReason.CIRCUIT_OPEN
                continue
            try:
                return await self._on_model(
                    request, each, measurement, call, deadline, reason, last
                )
            except UpstreamError as exc:
                error = exc
            klass = error_class(error)
            targets = self._router.class_chain(each, klass) if klass is not None else []
            if klass is not None and targets:
                chain, position, reason = targets, 0, FallbackReason(klass)
            elif each.model.policy.decision(error) is Next.STOP:
                break
            else:
                reason = FallbackReason.ERROR
        assert error is not None  # the last model of a chain is always tried
        raise error

    async def _on_model(
        self,
        request: R,
        route: Route,
        measurement: Measurement,
        call: Callable[[R, Route], Awaitable[T]],
        deadline: float,
        reason: FallbackReason | None,
        last: bool,
    ) -> T:
        """``call`` on one model, retried by its policy while its circuit allows (the
        ``last`` model of the chain, with nowhere else to go, whatever its circuit)."""
        policy = route.model.policy
        attempt = 1
        while True:
            outcome = await self._attempt(
                request, route, measurement, call, deadline, reason, attempt
            )
            if not isinstance(outcome, UpstreamError):
                return outcome
            error = outcome
            delay = policy.delay(attempt, error)
            if (
                delay is None
                or measurement.elapsed() + delay > self._deadline
                or not (last or self._circuits[route.model.name].allows())
            ):
                raise error
            measurement.retry(error)
            await asyncio.sleep(delay)
            attempt += 1
            reason = None

    async def _attempt(
        self,
        request: R,
        route: Route,
        measurement: Measurement,
        call: Callable[[R, Route], Awaitable[T]],
        deadline: float,
        reason: FallbackReason | None,
        number: int = 1,
        *,
        continuation: bool = False,
    ) -> T | UpstreamError:
        """One attempt: its result, or the upstream error it ended with."""
        model = route.model
        measurement.attempt(
            model.name,
            number,
            reason,
            upstream=model.upstream,
            model_id=model.model_id,
            continuation=continuation,
        )
        timeout = asyncio.timeout_at(deadline)
        self._timeouts.add(timeout)
        try:
            async with timeout:
                result = await call(request, route)
        except UpstreamError as exc:
            measurement.end_attempt(Outcome.ERROR, exc)
            self.failed(model.name, exc)
            return exc
        except TimeoutError:
            self._circuits[model.name].released()
            if not timeout.expired():
                raise
            if self._cut_off:
                measurement.end_attempt(Outcome.CANCELLED)
                raise shutting_down() from None
            error = DeadlineExceeded(self._deadline)
            measurement.end_attempt(Outcome.ERROR, error)
            raise error from None
        except BaseException:
            self._circuits[model.name].released()
            raise
        finally:
            self._timeouts.discard(timeout)
        self.succeeded(model.name)
        return result

    def succeeded(self, model: str) -> None:
        if self._circuits[model].succeeded():
            self._metrics.circuit_changed(model, opened=False)

    def failed(self, model: str, error: UpstreamError) -> None:
        """Count ``error`` against ``model``'s circuit: not a rejection (the client's to
        fix) nor a 429 (the upstream pacing us, with a Retry-After to wait)."""
        circuit = self._circuits[model]
        if isinstance(error, UpstreamRejected | UpstreamRateLimited):
            circuit.released()
        elif circuit.failed():
            self._metrics.circuit_changed(model, opened=True)

    def resumer(self, request: CompletionTask, measurement: Measurement, deadline: float) -> Resume:
        """What a stream's relay calls when the stream broke: the continuation, or None."""

        async def resume(error: UpstreamError, partial: str | None, tokens: int) -> Opened | None:
            current = self._router.route(measurement.model)
            self.failed(current.model.name, error)
            # Whether the answer can be continued at all, whichever the form.
            if partial is None or prefilled(request, Prefill.PREFIX, partial, tokens) is None:
                return None
            target = self._continuing(current)
            if target is None:
                return None
            task = prefilled(request, target.model.prefill, partial, tokens)
            assert task is not None
            measurement.end_attempt(Outcome.ERROR, error)
            measurement.continued(target.model.name, error.reason)
            fallback = (
                FallbackReason.CONTINUATION if target.model.name != current.model.name else None
            )
            result = await self._attempt(
                task,
                target,
                measurement,
                streams(measurement),
                deadline,
                fallback,
                continuation=True,
            )
            return None if isinstance(result, UpstreamError) else result

        return resume

    def _continuing(self, route: Route) -> Route | None:
        """The model to continue a stream ``route`` broke: its first fallback that takes a
        prefill and whose circuit allows, else itself (when it takes one and its circuit,
        having just counted the failure, still allows)."""
        for each in [*self._router.chain(route)[1:], route]:
            if each.model.prefill is not Prefill.NONE and self._circuits[each.model.name].allows():
                return each
        return None


async def open_stream(request: CompletionTask, route: Route, measurement: Measurement) -> Opened:
    """The stream's first token (or its end) and the rest: within the model's header
    timeout for the upstream's answer to begin, and its first-token timeout (both from
    the attempt's start) for the first chunk with content. Past either the route is
    silent, an :class:`UpstreamTimeout`. Unreadable frames before it are passed over, as
    many as the model's policy allows."""
    policy = route.model.policy
    started = asyncio.get_running_loop().time()
    chunks = aiter(route.upstream.stream(route.capped(request), route.model.model_id))
    skipped = 0
    # One timeout, moved on from the header deadline to the first token's once the
    # upstream answered: a context per step would cost more than the steps.
    answered = False
    try:
        async with asyncio.timeout_at(started + policy.header_timeout_seconds) as timeout:
            first = await anext(chunks, None)
            answered = True
            timeout.reschedule(started + policy.first_token_timeout_seconds)
            while first is not None and not first.content:
                if first.skipped:
                    skipped += 1
                    measurement.frame_skipped()
                    if skipped > policy.max_skipped_frames:
                        raise too_many_skipped(policy)
                first = await anext(chunks, None)
    except TimeoutError:
        await chunks.aclose()  # type: ignore[attr-defined]
        if answered:
            raise UpstreamTimeout(
                "The upstream sent no first token within "
                f"{policy.first_token_timeout_seconds:g} s.",
                code="upstream_first_token_timeout",
            ) from None
        raise UpstreamTimeout(
            f"The upstream did not answer within {policy.header_timeout_seconds:g} s.",
            code="upstream_header_timeout",
        ) from None
    except BaseException:
        await chunks.aclose()  # type: ignore[attr-defined]
        raise
    return Opened(first or Chunk(), chunks, policy, request.prompt_chars, skipped)


def streams(measurement: Measurement) -> Callable[[CompletionTask, Route], Awaitable[Opened]]:
    """:func:`open_stream` as an attempt's call, for ``measurement``'s request."""

    async def call(request: CompletionTask, route: Route) -> Opened:
        return await open_stream(request, route, measurement)

    return call


def too_many_skipped(policy: Policy) -> UpstreamBadResponse:
    return UpstreamBadResponse(
        f"The upstream sent more than {policy.max_skipped_frames} unreadable stream frames.",
        code="upstream_bad_response",
    )


def shutting_down() -> ShuttingDown:
    return ShuttingDown(
        "The gateway is shutting down and its drain time ran out; retry.",
        code="gateway_shutting_down",
    )
