"""CPU per request of the HTTP/1.1 protocols uvicorn could serve the gateway with.

    python bench/protocols.py [--requests 20000]

Feeds the same keep-alive request (a chat completion's head, 12 header fields, and a
small body) into each protocol over a transport that discards what it writes, and an
ASGI app that answers 200 at once: what is timed is the protocol's own work per request,
parse, ASGI messages and response framing, on one core, with nothing else in the way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from llm_gateway.http.server import GuardedHttpToolsProtocol, HeadLimits

BODY = b'{"messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"User-Agent: OpenAI/Python 1.40.0\r\nAccept: application/json\r\n"
    b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    b"Content-Type: application/json\r\nAuthorization: Bearer sk-0123456789abcdef\r\n"
    b"X-Stainless-Lang: python\r\nX-Stainless-Os: Linux\r\nX-Stainless-Arch: x64\r\n"
    b"X-Request-Id: 0123456789abcdef\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


class Sink(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


async def per_request_us(make: Any, requests: int) -> float:
    config = Config(app, log_config=None, access_log=False)
    config.load()
    protocol = make(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(Sink())
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        await asyncio.sleep(0)  # the app's task answers
        await asyncio.sleep(0)
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    limits = HeadLimits(max_header_bytes=16384, max_headers=100, header_timeout_seconds=10)
    candidates = {
        "httptools": HttpToolsProtocol,
        "httptools, guarded": lambda **kw: GuardedHttpToolsProtocol(**kw, limits=limits),
        "h11": H11Protocol,
    }
    for name, make in candidates.items():
        runs = [asyncio.run(per_request_us(make, args.requests)) for _ in range(3)]
        sys.stdout.write(f"{name:20} {min(runs):6.1f} µs/request (best of 3)\n")


if __name__ == "__main__":
    main()
