"""An event stream writes the frames that are ready together in one message, holds none
back, delivers what happens while the next frame is made to the work making it, and
starts no frame while the client does not read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.types import Message

from llm_gateway.errors import UpstreamServerError
from llm_gateway.routes.streaming import DONE, event_stream

# Bounds every wait: a frame held back would hang the test instead of failing it.
WAIT_SECONDS = 5.0


class Relay:
    """What the response closes at its end, however it ends."""

    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def bodies(sent: list[Message]) -> list[tuple[bytes, bool]]:
    return [(m["body"], m["more_body"]) for m in sent if m["type"] == "http.response.body"]


def this_task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    assert task is not None
    return task


async def test_frames_ready_together_go_out_in_one_message_and_none_waits() -> None:
    upstream = asyncio.Event()  # set once the first message is written, not before
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"
        await upstream.wait()
        yield b"c"
        yield b"d"

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            upstream.set()

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), relay).stream_response(send)

    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": sent[0]["headers"]}
    assert bodies(sent) == [(b"ab", True), (b"cd" + DONE, False)]
    assert relay.closed


async def test_a_send_that_is_no_coroutine_function_is_awaited_all_the_same() -> None:
    # ASGI asks only for an awaitable: a send returning a future writes as one returning
    # a coroutine does.
    upstream = asyncio.Event()
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        await upstream.wait()
        yield b"b"

    def send(message: Message) -> asyncio.Future[None]:
        sent.append(message)
        written = asyncio.get_running_loop().create_future()
        if message["type"] == "http.response.body":
            upstream.set()
            written.get_loop().call_soon(written.set_result, None)  # written a moment later
        else:
            written.set_result(None)
        return written

    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), Relay()).stream_response(send)

    assert bodies(sent) == [(b"a", True), (b"b" + DONE, False)]


async def test_while_the_client_does_not_read_no_frame_is_left_waiting_on_the_upstream() -> None:
    # A relay waiting on the upstream for longer than its stall window breaks the stream:
    # a client that holds the stream up must not look like that.
    upstream, reading = asyncio.Event(), asyncio.Event()
    steps: list[str] = []
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        steps.append("waiting on the upstream")
        await upstream.wait()
        steps.append("done waiting")
        yield b"b"
        steps.append("next frame started")
        yield b"c"

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not reading.is_set():
            upstream.set()  # "b" arrives while the client holds "a" up
            await reading.wait()
        sent.append(message)

    async def client() -> None:
        while not upstream.is_set():
            await asyncio.sleep(0)
        for _ in range(10):  # time for the response to go on, were it to
            await asyncio.sleep(0)
        assert steps == ["waiting on the upstream", "done waiting"]
        reading.set()

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await asyncio.gather(event_stream(frames(), relay).stream_response(send), client())

    assert steps == ["waiting on the upstream", "done waiting", "next frame started"]
    assert bodies(sent) == [(b"a", True), (b"bc" + DONE, False)]
    assert relay.closed


async def test_a_cancellation_reaches_the_frame_being_made_and_closes_the_relay() -> None:
    seen: list[str] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        try:
            await asyncio.Event().wait()  # an upstream that sends nothing more
        except asyncio.CancelledError:
            seen.append("cancelled while waiting")
            raise
        yield b"b"

    written = asyncio.Event()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        written.set()

    relay = Relay()
    response = asyncio.create_task(event_stream(frames(), relay).stream_response(send))
    async with asyncio.timeout(WAIT_SECONDS):
        while not bodies(sent):
            await written.wait()
            written.clear()
        response.cancel()
        await asyncio.gather(response, return_exceptions=True)

    assert response.cancelled()
    assert bodies(sent) == [(b"a", True)]
    assert seen == ["cancelled while waiting"]
    assert relay.closed


async def test_an_interruption_the_frame_being_made_turns_into_an_error_frame_is_sent() -> None:
    async def frames() -> AsyncIterator[bytes]:
        # As a relay does with its own deadline: the cancellation becomes an error frame.
        yield b"a"
        task = this_task()
        asyncio.get_running_loop().call_soon(task.cancel)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            task.uncancel()
        yield b"error"

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), relay).stream_response(send)

    assert bodies(sent) == [(b"a", True), (b"error" + DONE, False)]
    assert relay.closed


async def test_a_client_that_leaves_while_not_reading_ends_the_stream_and_closes_the_relay() -> (
    None
):
    blocked = asyncio.Event()
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(0)
        yield b"b"

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            blocked.set()
            await asyncio.Event().wait()  # a client that never reads again

    async def receive() -> Message:
        await blocked.wait()
        return {"type": "http.disconnect"}  # then leaves

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), relay)({"type": "http"}, receive, send)

    assert sent[0]["status"] == 200
    assert bodies(sent) == [(b"a", True)]  # the message that never went out
    assert relay.closed


async def test_a_client_that_leaves_while_a_frame_is_made_ends_the_stream_quietly() -> None:
    written = asyncio.Event()
    seen: list[str] = []
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled while waiting")
            raise
        yield b"b"

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            written.set()

    async def receive() -> Message:
        await written.wait()  # the client leaves once the first frame is out
        return {"type": "http.disconnect"}

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), relay)({"type": "http"}, receive, send)

    assert bodies(sent) == [(b"a", True)]
    assert seen == ["cancelled while waiting"]
    assert relay.closed


async def test_an_upstream_failure_midway_is_the_last_frame_after_every_frame_before_it() -> None:
    # "b" is held up by a client that does not read when the upstream fails: it goes out
    # first, then the error frame, then [DONE].
    upstream, reading = asyncio.Event(), asyncio.Event()
    sent: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        await upstream.wait()
        raise UpstreamServerError("The upstream failed.", code="upstream_error")
        yield b"never"  # an async generator

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not reading.is_set():
            upstream.set()
            await asyncio.sleep(0)
            reading.set()
        sent.append(message)

    relay = Relay()
    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), relay).stream_response(send)

    (first, _), (last, more) = bodies(sent)
    assert first == b"a"
    error, done = last.split(b"\n\n", 1)
    assert json.loads(error.removeprefix(b"data: "))["error"]["code"] == "upstream_error"
    assert (done, more) == (DONE, False)
    assert relay.closed


async def test_a_failure_before_any_wait_is_rendered_by_the_door_and_ends_the_stream() -> None:
    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        raise UpstreamServerError("The upstream failed.", code="upstream_error")
        yield b"never"  # an async generator

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    relay = Relay()
    response = event_stream(
        frames(), relay, on_error=lambda exc: b"<%s>" % exc.code.encode(), last=b""
    )
    async with asyncio.timeout(WAIT_SECONDS):
        await response.stream_response(send)

    assert bodies(sent) == [(b"a<upstream_error>", False)]
    assert relay.closed


async def test_the_messages_between_the_first_and_the_last_take_the_outer_send() -> None:
    # The middleware beneath the access middleware see a stream's start and its end.
    upstream = asyncio.Event()
    inner: list[Message] = []
    outer: list[Message] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"a"
        await upstream.wait()
        yield b"b"

    async def send(message: Message) -> None:
        inner.append(message)

    async def outer_send(message: Message) -> None:
        outer.append(message)
        upstream.set()

    async with asyncio.timeout(WAIT_SECONDS):
        await event_stream(frames(), Relay()).stream_response(send, outer_send)

    assert [m["type"] for m in inner] == ["http.response.start", "http.response.body"]
    assert bodies(inner) == [(b"b" + DONE, False)]
    assert bodies(outer) == [(b"a", True)]
