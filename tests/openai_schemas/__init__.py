"""Every answer of the gateway's OpenAI doors, checked against OpenAI's published schemas.

:func:`conforming` wraps a gateway app (``tests.helpers.start_gateway`` and the tests that
build their own) in an ASGI middleware that reads each answer of ``/v1/chat/completions``,
``/v1/completions``, ``/v1/embeddings``, ``/v1/models`` and ``/v1/responses`` as it
leaves, streamed frames and events included, and records what breaks the schemas
(``responses``, ``responses_api``). Recorded on the server's side, it sees what every
client sees (httpx, the openai SDK, LangChain) and changes nothing of it;
``tests/conftest.py`` fails the test that received a non-conforming answer with the
violations it lists.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.openai_schemas import responses, responses_api

_check = {
    name: Draft202012Validator(schema)
    for name, schema in {
        "chat.completion": responses.CHAT_COMPLETION,
        "chat.completion.chunk": responses.CHAT_COMPLETION_CHUNK,
        "text_completion": responses.COMPLETION,
        "text_completion frame": responses.COMPLETION_FRAME,
        "embedding list": responses.EMBEDDING_LIST,
        "model": responses.MODEL,
        "model list": responses.MODEL_LIST,
        "error": responses.ERROR_RESPONSE,
        "response": responses_api.RESPONSE,
        "response stream event": responses_api.STREAM_EVENT,
    }.items()
}
# path: (the schema of a JSON answer, of a stream's frames)
_DOORS = {
    "/v1/chat/completions": ("chat.completion", "chat.completion.chunk"),
    "/v1/completions": ("text_completion", "text_completion frame"),
    "/v1/embeddings": ("embedding list", None),
    "/v1/models": ("model list", None),
    "/v1/responses": ("response", "response stream event"),
}


def door(path: str) -> tuple[str, str | None] | None:
    if path.startswith("/v1/models/"):
        return ("model", None)
    return _DOORS.get(path)


def violations(schema: str, document: Any) -> list[str]:
    """What in ``document`` breaks the schema named ``schema`` (empty: it conforms)."""
    return [
        f"{schema} at {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in _explained(_check[schema].iter_errors(document))
    ]


def _explained(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """The errors, an anyOf's (a value, or null) replaced by its branches' saying why: all
    but the type mismatches, the null branch's, unless there is nothing else."""
    for error in errors:
        if not error.context:
            yield error
            continue
        telling = [e for e in error.context if e.validator != "type"] or error.context[:1]
        yield from _explained(telling)


def answer_violations(path: str, status: int, media_type: str, body: bytes) -> list[str]:
    """What breaks the schemas in one answer of ``path`` (a JSON body or an SSE stream)."""
    schemas = door(path)
    if schemas is None:
        return []
    whole, framed = schemas
    if media_type.startswith("text/event-stream") and framed is not None:
        found = []
        # A stream cut short (the client left) ends in a partial event: only whole ones count.
        for event in body.decode(errors="replace").split("\n\n")[:-1]:
            # SSE fields (`event`, `data`), a comment line (`: ...`) aside.
            fields = dict(line.partition(": ")[::2] for line in event.split("\n"))
            if fields.get("data") == "[DONE]":
                continue
            if "data" not in fields:
                found.append(f"an event without data: {event[:200]!r}")
                continue
            frame = json.loads(fields["data"])
            # An error frame of chat's kind; a Responses stream's error event has a type.
            found += violations("error" if "error" in frame else framed, frame)
            if "event" in fields and fields["event"] != frame.get("type"):
                found.append(f"an event named {fields['event']!r} carries {frame.get('type')!r}")
        return found
    try:
        document = json.loads(body)
    except ValueError:
        return [f"the answer ({status}, {media_type}) is not JSON: {body[:200]!r}"]
    return violations("error" if status >= 400 else whole, document)


class Recorded:
    """The violations seen since the last :meth:`take`, from any server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[str] = []

    def add(self, request: str, found: list[str]) -> None:
        with self._lock:
            self._found += [f"{request}: {violation}" for violation in found]

    def take(self) -> list[str]:
        with self._lock:
            found, self._found = self._found, []
        return found


recorded = Recorded()


def conforming(app: ASGIApp) -> ASGIApp:
    """``app``, its OpenAI doors' answers checked as they leave (see the module docstring)."""

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or door(scope["path"]) is None:
            await app(scope, receive, send)
            return
        status, media_type, body = 0, "", bytearray()

        async def sent(message: Message) -> None:
            nonlocal status, media_type
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                media_type = headers.get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    request = f"{scope['method']} {scope['path']} -> {status}"
                    found = answer_violations(scope["path"], status, media_type, bytes(body))
                    recorded.add(request, found)
            await send(message)

        await app(scope, receive, sent)

    return checked
