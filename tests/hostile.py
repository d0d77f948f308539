"""A hostile upstream on loopback: raw HTTP/1.1 answers no well-behaved server would give.

The gateway forwards its client's ``X-Request-Id``; this server reads its behaviour from
that id's first part (``huge-1`` asks for ``huge``), so one gateway in front of it serves
every case. Behaviours that send without end stop when the gateway closes the connection.
``answering`` counts the requests being answered, by behaviour, to see the gateway let go.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import threading
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache

_ids = itertools.count()


def asking(behaviour: str) -> dict[str, str]:
    """Headers that make the hostile upstream behave so for this request."""
    return {"X-Request-Id": f"{behaviour}-{next(_ids)}"}


# What an upstream that echoes request headers into its errors puts in them.
ECHO = "echo_headers"
CHUNK = b"x" * 65536
FRAME = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"role":"assistant","content":"tok"},"finish_reason":null}]}\n\n'
)


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


SSE_HEAD = _head("200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@cache
def gzip_bomb() -> bytes:
    """512 MiB of zeros, gzip-compressed to about 0.5 MiB."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(512)) + packer.flush()


Writer = asyncio.StreamWriter
Behaviour = Callable[[Writer, dict[str, str]], Awaitable[None]]


async def _forever(writer: Writer, piece: bytes, pause: float = 0.0) -> None:
    upstream = _serving.get()
    while True:
        writer.write(piece)
        await writer.drain()
        upstream.sent += len(piece)
        if pause:
            await asyncio.sleep(pause)


async def huge(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(_head("200 OK", "Content-Type: application/json", "Content-Length: 10737418240"))
    await _forever(writer, CHUNK)


async def endless_chunked(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(_head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked"))
    await _forever(writer, _chunk(CHUNK))


async def bomb(writer: Writer, headers: dict[str, str]) -> None:
    body = gzip_bomb()
    writer.write(
        _head(
            "200 OK",
            "Content-Type: application/json",
            "Content-Encoding: gzip",
            f"Content-Length: {len(body)}",
        )
        + body
    )
    await writer.drain()


async def endless_line(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(SSE_HEAD + _chunk(b"data: "))
    await _forever(writer, _chunk(CHUNK))


async def flood(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(SSE_HEAD)
    await _forever(writer, _chunk(FRAME * 64))


async def trickle(writer: Writer, headers: dict[str, str]) -> None:
    """A first token, then a byte every 0.1 s: never silent long enough to time out."""
    writer.write(SSE_HEAD + _chunk(FRAME))
    await _forever(writer, _chunk(b":"), pause=0.1)


async def trickle_before_first_token(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(SSE_HEAD)
    await _forever(writer, _chunk(b":"), pause=0.1)


async def silent(writer: Writer, headers: dict[str, str]) -> None:
    """No answer; done when the gateway closes the connection."""
    await _reader.get().read()


async def redirect_loop(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(
        _head("307 Temporary Redirect", "Location: /v1/chat/completions", "Content-Length: 0")
    )
    await writer.drain()


async def non_ascii_retry_after(writer: Writer, headers: dict[str, str]) -> None:
    writer.write(
        _head("429 Too Many Requests", "Content-Length: 0").replace(
            b"\r\n\r\n", b"\r\nRetry-After: \xc2\xb2\r\n\r\n"
        )
    )
    await writer.drain()


async def deep_json(writer: Writer, headers: dict[str, str]) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    writer.write(
        _head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body
    )
    await writer.drain()


# Valid JSON of the wrong shape: a message that is a number, content that is a list of numbers.
WRONG_SHAPE = {
    "choices": [{"index": 0, "message": 5, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
WRONG_SHAPE_FRAME = {"choices": [{"index": 0, "delta": {"content": [1, 2]}}]}


async def wrong_shape(writer: Writer, headers: dict[str, str]) -> None:
    body = json.dumps(WRONG_SHAPE).encode()
    writer.write(
        _head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body
    )
    await writer.drain()


async def wrong_shape_stream(writer: Writer, headers: dict[str, str]) -> None:
    body = b"data: %s\n\ndata: [DONE]\n\n" % json.dumps(WRONG_SHAPE_FRAME).encode()
    writer.write(
        _head("200 OK", "Content-Type: text/event-stream", f"Content-Length: {len(body)}") + body
    )
    await writer.drain()


async def echo_headers(writer: Writer, headers: dict[str, str]) -> None:
    echoed = "; ".join(f"{name}: {value}" for name, value in headers.items())
    body = json.dumps({"error": {"message": f"bad request, you sent {echoed}"}}).encode()
    writer.write(
        _head("400 Bad Request", "Content-Type: application/json", f"Content-Length: {len(body)}")
        + body
    )
    await writer.drain()


# OpenAI-compatible servers' ways of getting a stream or an answer wrong (the openai kind).
END = b"0\r\n\r\n"  # the end of a chunked body
TOOL_NAME = "get_weather"
# What the context_length behaviour echoes of the request's Authorization header.
ECHOED_KEY_PREFIX = "your key was "


def _sse(payload: dict[str, object] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return _chunk(f"data: {data}\n\n".encode())


def _delta(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _json(status: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    return _head(status, "Content-Type: application/json", f"Content-Length: {len(data)}") + data


async def abandoned(writer: Writer, headers: dict[str, str]) -> None:
    """Headers, then the end of the body: no frame at all (a prompt past the context)."""
    writer.write(SSE_HEAD + END)
    await writer.drain()


async def cut_off(writer: Writer, headers: dict[str, str]) -> None:
    """Two tokens, then the end of the body: no finish reason, no [DONE]."""
    frames = [_delta({"role": "assistant", "content": ""}), _delta({"content": "tok"})]
    writer.write(SSE_HEAD + b"".join(_sse(frame) for frame in [*frames, frames[1]]) + END)
    await writer.drain()


async def no_usage(writer: Writer, headers: dict[str, str]) -> None:
    """Three tokens, a finish reason and [DONE], and no usage though it was asked for."""
    frames = [_delta({"content": "tok"})] * 3 + [_delta({}, "stop")]
    writer.write(SSE_HEAD + b"".join(_sse(frame) for frame in frames) + _sse("[DONE]") + END)
    await writer.drain()


# A token with a raw line separator in it: valid JSON (only control characters must be
# escaped), as servers that write JSON without ASCII escapes send it.
SEPARATED = "one\u2028two"


async def line_separator(writer: Writer, headers: dict[str, str]) -> None:
    frames = [_delta({"content": SEPARATED}), _delta({}, "stop")]
    data = b"".join(
        f"data: {json.dumps(frame, ensure_ascii=False)}\r\n\r\n".encode() for frame in frames
    )
    writer.write(SSE_HEAD + _chunk(data) + _sse("[DONE]") + END)
    await writer.drain()


async def no_usage_answer(writer: Writer, headers: dict[str, str]) -> None:
    message = {"role": "assistant", "content": "An answer of forty characters, exactly."}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    writer.write(_json("200 OK", {"id": "c", "object": "chat.completion", "choices": [choice]}))
    await writer.drain()


async def repeated_tool_call(writer: Writer, headers: dict[str, str]) -> None:
    """One tool call whose id and name come again in every delta, as llama.cpp sends it."""
    pieces = ['{"city":', ' "Paris",', ' "unit": "celsius"}']
    frames = [
        _delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": TOOL_NAME, "arguments": piece},
                    }
                ]
            }
        )
        for piece in pieces
    ]
    frames.append(_delta({}, "tool_calls"))
    usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 12}}
    body = b"".join(_sse(frame) for frame in [*frames, usage]) + _sse("[DONE]")
    writer.write(SSE_HEAD + body + END)
    await writer.drain()


async def server_error_message(writer: Writer, headers: dict[str, str]) -> None:
    error = {"message": "CUDA out of memory on device 0", "type": "server_error", "code": None}
    writer.write(_json("500 Internal Server Error", {"error": error}))
    await writer.drain()


async def context_length(writer: Writer, headers: dict[str, str]) -> None:
    """A 400 naming the context limit, echoing the key the gateway sent."""
    key = headers.get("authorization", "").removeprefix("Bearer ")
    error = {
        "message": f"This model's maximum context length is 4096 tokens; {ECHOED_KEY_PREFIX}{key}",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    writer.write(_json("400 Bad Request", {"error": error}))
    await writer.drain()


_serving: contextvars.ContextVar[HostileUpstream] = contextvars.ContextVar("serving")
_reader: contextvars.ContextVar[asyncio.StreamReader] = contextvars.ContextVar("reader")

BEHAVIOURS: dict[str, Behaviour] = {
    f.__name__: f
    for f in (
        huge,
        endless_chunked,
        bomb,
        endless_line,
        flood,
        trickle,
        trickle_before_first_token,
        silent,
        redirect_loop,
        non_ascii_retry_after,
        deep_json,
        wrong_shape,
        wrong_shape_stream,
        echo_headers,
        abandoned,
        cut_off,
        no_usage,
        line_separator,
        no_usage_answer,
        repeated_tool_call,
        server_error_message,
        context_length,
    )
}


class HostileUpstream:
    def __init__(self) -> None:
        self.answering: Counter[str] = Counter()
        self.sent = 0  # body bytes sent by the endless behaviours
        self.paths: dict[str, str] = {}  # the path each behaviour was last asked on
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        _serving.set(self)
        _reader.set(reader)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                mode = headers.get("x-request-id", "").rsplit("-", 1)[0]
                self.paths[mode] = request_line.split(" ")[1]
                self.answering[mode] += 1
                try:
                    await BEHAVIOURS[mode](writer, headers)
                finally:
                    self.answering[mode] -= 1
        except (OSError, asyncio.IncompleteReadError, KeyError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @contextmanager
    def running(self) -> Iterator[HostileUpstream]:
        gzip_bomb()  # made before serving, not while the gateway waits for it
        loop = asyncio.new_event_loop()
        started = threading.Event()
        server: asyncio.Server | None = None

        async def start() -> None:
            nonlocal server
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            host, port = server.sockets[0].getsockname()[:2]
            self.url = f"http://{host}:{port}"
            started.set()

        thread = threading.Thread(target=loop.run_forever, name="hostile-upstream", daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        started.wait(10)
        try:
            yield self
        finally:

            async def stop() -> None:
                assert server is not None
                server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
