"""What the simulator's tests share besides fixtures: reading what a client received.

Not a test module: the test modules import from here (and ``tests.helpers``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openai

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
MESSAGES = [{"role": "user", "content": "Is everything fine?"}]
# A chat stream long enough to break in the middle: 20 tokens, never fewer (seed 3's
# answer is longer).
CHAT_STREAM = {"model": MODEL, "messages": MESSAGES, "max_tokens": 20, "seed": 3, "stream": True}
# openai 3 wraps an error met while reading a stream in its own (APIConnectionError,
# APITimeoutError); the openai 2 the lowest-versions leg installs lets httpx's through.
WRAPS_STREAM_ERRORS = int(openai.__version__.split(".")[0]) >= 3


def stream_error(wrapped: type[Exception], raw: type[Exception]) -> type[Exception]:
    """What the openai SDK raises while reading a stream: ``wrapped``, or httpx's ``raw``."""
    return wrapped if WRAPS_STREAM_ERRORS else raw


# The attempts the simulator recorded for a request id, as GET /simulator/requests/{id}
# has them (the ``seen`` fixture).
Seen = Callable[[str], Awaitable[list[dict[str, Any]]]]


@dataclass
class Received:
    """What a client got of one response, up to the end or the error that ended it."""

    status: int | None
    headers: httpx.Headers | None
    body: bytes
    error: Exception | None

    def payloads(self) -> list[str]:
        """The payloads of the body's ``data:`` frames, in order, parseable or not."""
        return [
            line.removeprefix("data:").strip()
            for line in self.body.decode().splitlines()
            if line.startswith("data:")
        ]

    def frames(self) -> list[Any]:
        """The JSON frames of the stream, the unparseable ones and ``[DONE]`` left out."""
        parsed = []
        for payload in self.payloads():
            try:
                parsed.append(json.loads(payload))
            except ValueError:
                continue
        return parsed

    def text(self) -> str:
        """The text the frames of an OpenAI chat stream carry."""
        return "".join(
            choice["delta"].get("content") or ""
            for frame in self.frames()
            for choice in frame.get("choices", [])
        )

    def token_frames(self) -> int:
        """How many frames of an OpenAI chat stream carry a piece of text."""
        return sum(
            1
            for frame in self.frames()
            for choice in frame.get("choices", [])
            if choice["delta"].get("content")
        )


async def receive(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Received:
    """POST ``body`` and read the answer as far as it goes: a broken connection or a
    timeout ends the reading, and is kept as ``error``."""
    status, received_headers, chunks = None, None, bytearray()
    try:
        async with client.stream("POST", path, json=body, headers=headers) as response:
            status, received_headers = response.status_code, response.headers
            async for chunk in response.aiter_raw():
                chunks += chunk
    except httpx.HTTPError as exc:
        return Received(status, received_headers, bytes(chunks), exc)
    return Received(status, received_headers, bytes(chunks), None)
