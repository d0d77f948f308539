"""The streaming response of every door: frames ready together are written together.

Each body message is a write to the client's socket, a system call (about 12 us on
loopback here: a fifth of a stream's CPU, written a frame at a time, as Starlette's
``StreamingResponse`` writes them). Frames made from upstream bytes already received
are ready without waiting, so :class:`EventStreamResponse` gathers them and sends them
as one message when the next one is not ready: when making it has to wait (for the
upstream, or for the relay's pause every few chunks), or at the end, with the response's
last bytes. No frame waits for another: its message goes out as soon as nothing more can
be made without waiting. At most ``MAX_HELD_BYTES`` are gathered.

The messages between a stream's first and its last go straight to the send the access
middleware was handed (:attr:`~llm_gateway.http.context.RequestContext.outer_send`),
past the four sends wrapped beneath it (the access middleware's own, the HTTP metrics',
and Starlette's exception handling's, the app's and the route's): each looks at a
response's start, or at its last message, which go through them all. That is 7 k
instructions a token, 6 % of it. A middleware beneath the access middleware that
rewrote bodies would miss them: none does (see ``create_app``).
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol, TypeVar

from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from llm_gateway.errors import ClientDisconnected, GatewayError
from llm_gateway.http.context import RequestContext
from llm_gateway.http.disconnect import until_disconnected

# Most bytes of frames ready together sent in one message.
MAX_HELD_BYTES = 64 * 1024
T = TypeVar("T")


class EventStreamResponse(StreamingResponse):
    """A streaming response that writes together the frames that are ready together.

    Knowing whether the next frame is ready takes starting to make it: its awaitable is
    driven one step by hand and, if it suspends, the frames before it are sent and it is
    awaited from where it stopped (:func:`_resumed`), so an exception thrown into the
    task (the client leaving, the relay's deadline) reaches it where it waits. A send
    that cannot write at once (a client that does not read: the server's buffer is
    full) is finished after that frame, before the next is started: the relay is never
    left waiting on the upstream while the client holds the stream up, which it would
    count as the upstream stalling.

    The client is watched for as the other doors' answers are
    (:func:`~llm_gateway.http.disconnect.until_disconnected`), not by Starlette's task
    group, which formats the task's repr when it cancels it (about 20 us a stream).

    The frames are made and sent in a task of their own, which the request's task awaits
    (a cancellation of that one reaches this one where it waits). Every token wakes the
    task making the frames; awoken in the request's task, it would resume each of the
    some 25 ASGI frames that call the response (uvicorn's, Starlette's, FastAPI's, the
    middleware's) on the way down, once a token: 1.5 k instructions a token.
    """

    body_iterator: AsyncGenerator[bytes, None]

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        relay: Closable,
        on_error: Callable[[GatewayError], bytes],
        last: bytes,
        **options: Any,
    ) -> None:
        super().__init__(frames, **options)
        self._relay = relay
        self._on_error = on_error
        self._last = last

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The stream, cancelled where it waits if the client leaves (the relay records
        that), then ended quietly: the status line is long gone."""
        try:
            context = RequestContext.find(scope)
            outer = None if context is None else context.outer_send
            await until_disconnected(receive, self.stream_response(send, outer))
        except ClientDisconnected:
            pass

    async def stream_response(self, send: Send, outer: Send | None = None) -> None:
        """The stream: its start and last message through ``send``, those between through
        ``outer`` when given (see the module)."""
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        try:
            last = await asyncio.ensure_future(self._batches(outer or send))  # see the class
        finally:
            # However it ended, the frames and the relay are closed now, not when the
            # garbage collector gets to them: that ends the measurement and releases the
            # upstream connection and slot.
            await self.body_iterator.aclose()
            await self._relay.aclose()
        await send({"type": "http.response.body", "body": last, "more_body": False})

    async def _batches(self, send: Send) -> bytes:
        """Send the frames, those ready together in one message; the last ones unsent,
        ended by ``last``. A :class:`GatewayError` midway (the upstream failed, the
        deadline passed) is the last frame, ``on_error``'s."""
        ready: list[bytes] = []
        held = 0
        while True:
            step = self.body_iterator.__anext__()
            try:
                suspended_on = step.send(None)
            except StopIteration as done:  # ready without waiting
                ready.append(done.value)
                held += len(done.value)
                if held >= MAX_HELD_BYTES:
                    await send(_body(ready))
                    ready, held = [], 0
                continue
            except StopAsyncIteration:
                break
            except GatewayError as exc:
                ready.append(self._on_error(exc))
                break
            # Not ready: the frames that are go out while it is made.
            raised: BaseException | None = None
            blocked: tuple[Coroutine[Any, Any, None], Any] | None = None
            if ready:
                sending = _coroutine(send(_body(ready)))
                ready, held = [], 0
                try:
                    blocked = (sending, sending.send(None))
                except StopIteration:
                    pass  # written at once, as a rule
                except BaseException as exc:
                    raised = exc  # delivered where the next frame is awaited
            try:
                piece = await _resumed(step, suspended_on, raised)
            except (StopAsyncIteration, GatewayError) as exc:
                if blocked is not None:
                    await _resumed(*blocked, None)
                if isinstance(exc, GatewayError):
                    ready.append(self._on_error(exc))
                break
            except BaseException:
                if blocked is not None:
                    blocked[0].close()
                raise
            ready.append(piece)
            held += len(piece)
            if blocked is not None:
                await _resumed(*blocked, None)  # the client reads again
        ready.append(self._last)
        return b"".join(ready)


class Closable(Protocol):
    async def aclose(self) -> None: ...


def _body(pieces: list[bytes]) -> Message:
    return {"type": "http.response.body", "body": b"".join(pieces), "more_body": True}


def _coroutine(sending: Awaitable[None]) -> Coroutine[Any, Any, None]:
    """A send's awaitable as a coroutine, which can be driven by hand: itself, as every
    ``send`` of the ASGI stack here is a coroutine function, else awaited by one."""
    if type(sending) is types.CoroutineType:
        return sending
    return _awaited(sending)


async def _awaited(sending: Awaitable[None]) -> None:
    await sending


@types.coroutine
def _resumed(
    step: Coroutine[Any, Any, T], suspended_on: Any, raised: BaseException | None
) -> Generator[Any, None, T]:
    """``await step`` from where it suspended, on ``suspended_on``: the task waits on
    that, and resumes it or throws into it as ``await`` would; ``raised`` while it was
    pending is thrown into it first."""
    while True:
        if raised is None:
            try:
                yield suspended_on
            except GeneratorExit:  # the task itself is being destroyed
                step.close()
                raise
            except BaseException as exc:
                raised = exc
        try:
            if raised is None:
                suspended_on = step.send(None)
            else:
                suspended_on = step.throw(raised)
        except StopIteration as done:
            result: T = done.value
            return result
        raised = None
