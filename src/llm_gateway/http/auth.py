"""Client API keys: who may call the gateway, and under which alias they are counted.

Keys are configured as alias → key and held only as SHA-256 digests. A presented key is
hashed and compared with every configured digest in constant time, so neither a match
nor its position leaks through timing. ``Authorization: Bearer <key>`` is what the openai
SDK and ``huggingface_hub`` send; ``X-API-Key``, what the anthropic SDK sends, is accepted
too, on every door.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from llm_gateway.errors import AuthFailure, Unauthorized
from llm_gateway.http.context import RequestContext
from llm_gateway.http.handlers import error_response
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.settings import digest

# Open to anyone who can reach the port: probes, docs and, unless protected, the scrape.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


class ApiKeyMiddleware:
    def __init__(
        self, app: ASGIApp, digests: dict[str, str], protect_metrics: bool, metrics: Recorder
    ) -> None:
        self.app = app
        self._digests = [(d.encode(), alias) for alias, d in digests.items()]
        self._open = OPEN_PATHS if protect_metrics else OPEN_PATHS | {"/metrics"}
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._open:
            await self.app(scope, receive, send)
            return
        key = _presented_key(scope)
        client = self.identify(key) if key is not None else None
        context = RequestContext.of(scope)
        if client is None:
            error = Unauthorized(
                "An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>."
                if key is None
                else "The API key is not valid.",
                reason=AuthFailure.MISSING if key is None else AuthFailure.INVALID,
            )
            self._metrics.auth_failure(error.reason)
            await error_response(error, context)(scope, receive, send)
            return
        context.client = client
        await self.app(scope, receive, send)

    def identify(self, key: str) -> str | None:
        presented = digest(key).encode()
        found = None
        for known, alias in self._digests:
            if hmac.compare_digest(presented, known):
                found = alias
        return found


def _presented_key(scope: Scope) -> str | None:
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"x-api-key" and value:
            return value.decode("latin-1")
    return None
