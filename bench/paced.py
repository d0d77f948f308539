"""A paced OpenAI-style stream server and client, lean enough to load a target with thousands
of streams from one shared core.

The simulator and an aiohttp client cost the load core more per token than the relay
costs the server core: with both on one core the sweep measured the load side (it
saturated at about 5,000 tokens/s, the gateway's core at 28 %). These two do the least
a stream needs, on asyncio protocols: the server answers every ``POST`` with the
simulator's frames (a role frame, ``--tokens`` tokens, a finish reason, the usage,
``[DONE]``; chunked, on a keep-alive connection), one frame every ``--token-seconds``
after as long to the first, on timers; ``GET`` of any path is a 200 (the gateway's
health checks). The client (:class:`Streams`) sends a request, counts the content
tokens in what comes back without parsing it, and sends the next request on the same
connection at the end of the body.

    python bench/paced.py --port 8092 [--tokens 64] [--token-seconds 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable

import uvloop

TOKEN_TEXT = " steady"
CONTENT = b'"content":"'
EMPTY_CONTENT = b'"content":""'
END = b"0\r\n\r\n"
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
OK = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n"
    b'{"status":"ok"}'
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def frames(tokens: int) -> list[bytes]:
    """One stream's body, frame by frame, chunked: as the simulator sends it."""
    envelope = {
        "id": "chatcmpl-paced",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
    }

    def frame(choices: list[object], **extra: object) -> bytes:
        payload = json.dumps({**envelope, "choices": choices, **extra}, separators=(",", ":"))
        return chunk(b"data: %s\n\n" % payload.encode())

    def choice(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    usage = {"prompt_tokens": 6, "completion_tokens": tokens, "total_tokens": tokens + 6}
    return [
        frame([choice({"role": "assistant", "content": ""})]),
        *(frame([choice({"content": TOKEN_TEXT})]) for _ in range(tokens)),
        frame([choice({}, "length")]) + frame([], usage=usage) + chunk(b"data: [DONE]\n\n") + END,
    ]


class PacedServer(asyncio.Protocol):
    """One connection: each request answered by a paced stream (or a 200 to a GET)."""

    def __init__(self, body: list[bytes], seconds: float, jitter: float) -> None:
        self.body = body
        self.seconds = seconds
        self.jitter = jitter
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's, not asyncio's

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"content-length:")) >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            if head.startswith(b"get "):
                self.transport.write(OK)
            else:
                self.transport.write(HEAD)
                self.timer = self.loop.call_later(self.delay(), self.send, 0)

    def delay(self) -> float:
        return self.seconds * (1 + random.uniform(-self.jitter, self.jitter))

    def send(self, index: int) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.transport.write(self.body[index])
        if index + 1 < len(self.body):
            self.timer = self.loop.call_later(self.delay(), self.send, index + 1)
        else:
            self.timer = None


class Streams(asyncio.Protocol):
    """A client connection asking for one stream after another until ``stop`` (wall clock).

    ``on_token(count, now)`` is told of the tokens in each piece; ``on_first(seconds)``
    of the time to the first token of a stream; ``on_end()`` of each stream's end.
    """

    def __init__(
        self,
        request: bytes,
        stop: float,
        on_token: Callable[[int, float], None],
        on_first: Callable[[float, float], None],
        done: asyncio.Future[None],
    ) -> None:
        self.request = request
        self.stop = stop
        self.on_token = on_token
        self.on_first = on_first
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.tail = b""
        self.started = 0.0
        self.head = True
        self.first = True
        self.finished = False
        self.streams = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's, not asyncio's
        self.ask()

    def ask(self) -> None:
        assert self.transport is not None
        self.started = time.time()
        self.head = True
        self.first = True
        self.finished = False
        self.tail = b""
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.head:
            self.head = False
            if not data.startswith(b"HTTP/1.1 200 "):
                assert self.transport is not None
                self.transport.close()
                self.done.set_exception(ConnectionError(f"answered {data[:12]!r}"))
                return
        # The tail of the last piece goes first, for a pattern cut in two; what lies
        # wholly in it was counted with that piece.
        seen, tail = self.tail + data, self.tail
        tokens = seen.count(CONTENT) - tail.count(CONTENT)
        tokens -= seen.count(EMPTY_CONTENT) - tail.count(EMPTY_CONTENT)
        if tokens:
            self.on_token(tokens, now)
            if self.first:
                self.first = False
                self.on_first(self.started, now - self.started)
        self.finished = self.finished or b"[DONE]" in seen
        self.tail = seen[-len(EMPTY_CONTENT) :]
        if self.finished and seen.endswith(END):
            self.streams += 1
            if now < self.stop:
                self.ask()
            else:
                assert self.transport is not None
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None and time.time() >= self.stop:
                self.done.set_result(None)
            else:
                self.done.set_exception(ConnectionError(f"stream connection lost: {exc}"))


async def serve(port: int, tokens: int, seconds: float, jitter: float) -> None:
    body = frames(tokens)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PacedServer(body, seconds, jitter), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--token-seconds", type=float, default=0.05)
    parser.add_argument("--jitter", type=float, default=0.1)
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.tokens, args.token_seconds, args.jitter))


if __name__ == "__main__":
    main()
