"""An open stream on its way to the client, measured as it passes, and mended if it breaks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from llm_gateway.core.failover import Opened, Resume, too_many_skipped
from llm_gateway.core.measurement import Measurement
from llm_gateway.core.types import Chunk, TokenUsage
from llm_gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    UpstreamError,
    UpstreamTimeout,
)

# Chunks relayed between two yields to the event loop. An upstream that floods keeps
# data buffered, so reading it and writing to a client that left never wait: without a
# yield, the task that notices the client leaving (or a deadline) would not get to run.
# Each yield also ends the door's batch of frames ready together (one more write, one
# more turn of the loop): at 8, a 32-token answer read at once went out in five writes
# rather than one, and cost a third more CPU. 64 chunks of a flood, read at once (some
# 10 us each), hold the loop under a millisecond.
CHUNKS_PER_YIELD = 64
# Continuations of one stream, at most: a model that breaks every stream it is asked to
# continue is not asked forever.
MAX_CONTINUATIONS = 2


class Relay:
    """An open stream's chunks, measured as they pass and closed exactly once.

    Iterating to the end records success; an upstream failure or a cancellation records
    that; ``aclose`` on a stream nobody finished (the client left) records it cancelled.
    The stream ends at ``deadline`` (event-loop time) with :class:`DeadlineExceeded`,
    and :meth:`interrupt` ends it early with another error: either is raised at once if
    the stream is waiting on the upstream, or at the next chunk.

    The upstream breaking it (a cut connection, a stall past the model's window, more
    unreadable frames than it passes over) is mended when ``resume`` can: the stream
    goes on from a continuation of the answer (see :mod:`llm_gateway.core.continuation`),
    one answer, its usage the sum of the attempts'; when it cannot, the break ends it.
    """

    def __init__(
        self,
        opened: Opened,
        measurement: Measurement,
        on_close: Callable[[Relay, TokenUsage | None], None],
        deadline: float,
        deadline_seconds: float,
        resume: Resume | None = None,
    ) -> None:
        self._pending: Chunk | None = opened.first
        self._measurement = measurement
        self._on_close = on_close
        self._resume = resume
        self._continuations = 0
        self._usage: TokenUsage | None = None
        self._tool_calls = 0
        self._finish_reasons: list[str] = []
        # Each choice's text, gathered only for a span that records it.
        self._texts: dict[int, list[str]] | None = {} if measurement.captures_content else None
        # The answer's text so far, kept while it could be continued (one plain choice).
        self._answer: list[str] | None = [] if resume is not None else None
        # The usage of the attempts that broke (a continuation's prompt is spent too).
        self._spent: TokenUsage | None = None
        self._closed = False
        self._relayed = 0
        self._interruption: GatewayError | None = None
        # The task waiting on the upstream, while it waits.
        self._waiting: asyncio.Task[Any] | None = None
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self._timer = loop.call_at(
            deadline, lambda: self.interrupt(DeadlineExceeded(deadline_seconds))
        )
        self._stall: asyncio.TimerHandle | None = None
        self._wait_began = 0.0
        self._follow(opened)

    def _follow(self, opened: Opened) -> None:
        """Read ``opened`` from now on: a new attempt's stream, its counts from zero."""
        self._chunks = opened.chunks
        self._policy = opened.policy
        self._prompt_chars = opened.prompt_chars
        # Characters and text chunks of this attempt, for an estimate of its usage.
        self._chars = 0
        self._pieces = 0
        self._skipped = opened.skipped
        loop = asyncio.get_running_loop()
        self._wait_began = loop.time()
        self._stall = loop.call_later(self._policy.stall_timeout_seconds, self._watch)

    def _watch(self) -> None:
        """The stall watch: a wait on the upstream longer than the model's stall window
        breaks the stream (a continuation may mend it). One timer per stream, moved on
        as it fires, rather than one per chunk; a client slow to read is no stall."""
        window = self._policy.stall_timeout_seconds
        loop = asyncio.get_running_loop()
        waiting = self._waiting is not None
        if waiting and loop.time() - self._wait_began >= window:
            self._stall = None
            self.interrupt(
                UpstreamTimeout(
                    f"The upstream stalled: no token for {window:g} s.", code="upstream_stalled"
                )
            )
            return
        due = self._wait_began + window if waiting else loop.time() + window
        self._stall = loop.call_at(due, self._watch)

    def __aiter__(self) -> Relay:
        return self

    @property
    def model(self) -> str:
        """The model streaming: the requested one, or a fallback."""
        return self._measurement.model

    def interrupt(self, error: GatewayError) -> None:
        """End the stream with ``error``, which its consumer sends as its last frame."""
        if self._closed or self._interruption is not None:
            return
        self._interruption = error
        if self._waiting is not None:
            self._waiting.cancel()

    async def __anext__(self) -> Chunk:
        if self._closed:
            raise StopAsyncIteration
        while True:
            try:
                try:
                    # The next chunk: inline, not a coroutine more per chunk (once a token).
                    if self._pending is not None:
                        chunk, self._pending = self._pending, None
                    else:
                        self._relayed += 1
                        if self._relayed % CHUNKS_PER_YIELD == 0:
                            await asyncio.sleep(0)
                        if self._interruption is not None:
                            raise self._interruption
                        self._wait_began = self._clock()
                        # As _waited does, without a coroutine more per chunk.
                        task = self._waiting = asyncio.current_task()
                        try:
                            chunk = await anext(self._chunks)
                        except asyncio.CancelledError as cancelled:
                            raise self._ended(task, cancelled) from None
                        finally:
                            self._waiting = None
                    if chunk.skipped:
                        self._skipped += 1
                        if self._skipped > self._policy.max_skipped_frames:
                            raise too_many_skipped(self._policy)
                except UpstreamError as exc:
                    if not await self._mended(exc):
                        raise
                    continue
            except StopAsyncIteration:
                await self._close(None)
                raise
            except BaseException as exc:
                await self._close(exc)
                raise
            if not chunk.skipped:
                break
            self._measurement.frame_skipped()
        # The chunk counted, on its way to the client (inline: once per token).
        if chunk.text or chunk.tool_calls:
            self._measurement.token()
            self._chars += len(chunk.text)
            self._pieces += 1
            if chunk.tool_calls:
                for call in chunk.tool_calls:
                    self._chars += len(call.arguments or "")
                    # A call's first delta names its function; the rest carry arguments.
                    self._tool_calls += call.name is not None
        if self._answer is not None:
            if chunk.index or chunk.tool_calls:
                self._answer = None  # not one plain text: never continued
            else:
                self._answer.append(chunk.text)
        if chunk.usage is not None:
            self._usage = chunk.usage
            if self._spent is not None:
                chunk = dataclasses.replace(chunk, usage=_added(self._spent, chunk.usage))
        if chunk.finish_reason is not None:
            self._finish_reasons.append(chunk.finish_reason)
        if self._texts is not None:
            self._texts.setdefault(chunk.index, []).append(chunk.text)
        return chunk

    async def _waited(self, step: Any) -> Any:
        """``step`` awaited so that :meth:`interrupt` can end the wait."""
        task = self._waiting = asyncio.current_task()
        try:
            return await step
        except asyncio.CancelledError as cancelled:
            raise self._ended(task, cancelled) from None
        finally:
            self._waiting = None

    def _ended(
        self, task: asyncio.Task[Any] | None, cancelled: asyncio.CancelledError
    ) -> BaseException:
        """What a wait cancelled ends with: the interruption, when the cancellation was
        :meth:`interrupt`'s; else the cancellation itself (the server's)."""
        if self._interruption is None or task is None:
            return cancelled
        task.uncancel()  # our own cancellation, not the server's
        # Kept as the interruption's context, without its traceback: that holds every
        # frame down to the upstream's read, in a reference cycle the cycle collector
        # would be left to find, and says no more than the interruption's own.
        cancelled.__traceback__ = None
        return self._interruption

    async def _mended(self, error: UpstreamError) -> bool:
        """Whether a continuation took over from the attempt that broke with ``error``.

        The request deadline and the drain's cut-off are final, never mended.
        """
        if (
            self._resume is None
            or isinstance(error, DeadlineExceeded)
            or self._continuations >= MAX_CONTINUATIONS
        ):
            return False
        if self._interruption is error:
            self._interruption = None
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        await self._chunks.aclose()  # type: ignore[attr-defined]
        answer = "".join(self._answer) if self._answer is not None else None
        broken = TokenUsage.settled(None, self._prompt_chars, self._chars, self._pieces)
        opened = await self._waited(self._resume(error, answer, self._pieces))
        if opened is None:
            return False
        self._continuations += 1
        self._spent = broken if self._spent is None else _added(self._spent, broken)
        self._pending = opened.first
        self._follow(opened)
        return True

    async def aclose(self) -> None:
        if not self._closed:
            await self._close(asyncio.CancelledError())

    async def _close(self, exc: BaseException | None) -> None:
        # Recorded before the first await: a cancelled task may not get past it.
        self._closed = True
        # An interruption raised is held no longer: its traceback holds this relay's
        # frames, a reference cycle the cycle collector would be left to find.
        self._interruption = None
        self._timer.cancel()
        if self._stall is not None:
            self._stall.cancel()
        if exc is None:
            usage = self._usage or TokenUsage.settled(
                None, self._prompt_chars, self._chars, self._pieces
            )
            if self._spent is not None:
                usage = _added(self._spent, usage)
            self._on_close(self, usage)
            texts = None
            if self._texts is not None:
                texts = ["".join(parts) for _, parts in sorted(self._texts.items())]
            self._measurement.succeed(usage, self._tool_calls, self._finish_reasons, None, texts)
        else:
            self._on_close(self, None)
            self._measurement.fail(exc)
        await self._chunks.aclose()  # type: ignore[attr-defined]


def _added(one: TokenUsage, other: TokenUsage) -> TokenUsage:
    return TokenUsage(
        one.prompt_tokens + other.prompt_tokens,
        one.completion_tokens + other.completion_tokens,
        one.prompt_estimated or other.prompt_estimated,
        one.completion_estimated or other.completion_estimated,
    )
