"""starlette-exporter's HTTP metrics (``http_*``), recorded at a fraction of its cost.

:class:`HttpMetricsMiddleware` is starlette-exporter's ``PrometheusMiddleware``: the same
metric objects, names, labels, buckets and options, created and registered by it. Only
its per-request path is replaced. Per request, starlette-exporter builds a ``Request`` and
its URL, calls the ``handler`` label function (which matches every route), matches every
route again for ``path``, then calls ``.labels()`` five times, each validating its values
and taking a lock: on a bare endpoint that doubled the CPU per request. Here a route
template is matched once per method and path and remembered (matched routes only, so
the memory stays bounded), and labelled children are kept, their label values being from
small fixed sets. Exemplars and response-header labels, which the gateway does not use,
are not supported.

What it records, as starlette-exporter does with ``group_paths`` and
``group_unhandled_paths``: ``path`` and ``handler`` hold the route template, or
``__unknown__`` for a request no route took; the duration runs to the last body message;
a handler that raised counts as 500, a client gone before any answer as 499.

The lean path reads the middleware's metric objects (``request_count``, ``request_time``
and the others, checked against the versions ``pyproject.toml`` bounds). Should one be
missing, the middleware runs starlette-exporter's stock per-request path instead (the
same series, at its cost), and says so once in the log.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware
from starlette_exporter.middleware import get_matching_route_path

logger = logging.getLogger(__name__)

UNKNOWN_HANDLER = "__unknown__"
# Distinct (method, path) pairs whose route template is remembered: more than any app
# without path parameters has, fewer than a scanner could make it hold.
MAX_REMEMBERED_PATHS = 1024
# What the lean path reads of starlette-exporter's middleware.
_READS = (
    "app_name",
    "request_count",
    "request_time",
    "requests_in_progress",
    "request_body_size_count",
    "response_body_size_count",
)


def route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The template of the route a request matches, never its path."""
    return get_matching_route_path(scope, routes) or UNKNOWN_HANDLER  # type: ignore[arg-type]


def _handler(request: Request) -> str:
    """The ``handler`` label, as starlette-exporter's stock path computes it."""
    return route_template(request.scope, request.app.router.routes)


class HttpMetricsMiddleware(PrometheusMiddleware):
    def __init__(self, app: ASGIApp, **options: Any) -> None:
        skip_paths = options.pop("skip_paths", ())
        super().__init__(
            app,
            group_paths=True,
            filter_unhandled_paths=False,
            group_unhandled_paths=True,
            labels={"handler": _handler},
            skip_paths=[re.escape(path) for path in skip_paths],
            **options,
        )
        self._skip = frozenset(skip_paths)  # exact paths, not patterns
        missing = [name for name in _READS if getattr(self, name, None) is None]
        self._lean = not missing
        if missing:
            logger.warning(
                "starlette-exporter has no %s where the lean HTTP metrics path reads them; "
                "using its stock per-request path",
                ", ".join(missing),
            )
        self._templates: dict[tuple[str, str], str] = {}
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._finished: dict[tuple[str, str, int, str], tuple[Any, ...]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._lean:
            await super().__call__(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] in self._skip:
            await self.app(scope, receive, send)
            return
        begin = time.perf_counter()
        method: str = scope["method"]
        handler = self._template(scope, method)
        in_progress = self._in_progress.get((method, handler))
        if in_progress is None:
            in_progress = self.requests_in_progress.labels(method, self.app_name, handler)
            self._in_progress[(method, handler)] = in_progress
        status: int | None = None
        response_bytes = 0
        end: float | None = None

        async def send_measured(message: Message) -> None:
            nonlocal status, response_bytes, end
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"content-length":
                        response_bytes += int(value)
            elif message["type"] == "http.response.body":
                end = time.perf_counter()
            await send(message)

        in_progress.inc()
        error: Exception | None = None
        try:
            await self.app(scope, receive, send_measured)
        except Exception as exc:
            status, error = 500, exc
        finally:
            in_progress.dec()
        if status is None:
            status = 499 if await Request(scope, receive).is_disconnected() else 500
        # As starlette-exporter: a request no route took (404, 405) has no template.
        path = handler if scope.get("endpoint") and scope.get("router") else UNKNOWN_HANDLER
        requests, duration, request_body, response_body = self._children(
            method, path, status, handler
        )
        request_body.inc(_request_bytes(scope))
        response_body.inc(response_bytes)
        requests.inc()
        duration.observe((end or time.perf_counter()) - begin)
        if error is not None:
            raise error

    def _template(self, scope: Scope, method: str) -> str:
        key = (method, scope["path"])
        template = self._templates.get(key)
        if template is None:
            template = route_template(scope, scope["app"].router.routes)
            if template != UNKNOWN_HANDLER and len(self._templates) < MAX_REMEMBERED_PATHS:
                self._templates[key] = template
        return template

    def _children(self, method: str, path: str, status: int, handler: str) -> tuple[Any, ...]:
        key = (method, path, status, handler)
        children = self._finished.get(key)
        if children is None:
            labels = (method, path, status, self.app_name, handler)
            children = self._finished[key] = (
                self.request_count.labels(*labels),
                self.request_time.labels(*labels),
                self.request_body_size_count.labels(*labels),
                self.response_body_size_count.labels(*labels),
            )
        return children


def _request_bytes(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)
    return 0
