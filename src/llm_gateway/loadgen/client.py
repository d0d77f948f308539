"""One request against the gateway, and what became of it.

The only module that talks to ``httpx``: its exceptions end here, turned into the error
kinds a :class:`Result` carries:

* the gateway's error ``code`` (``upstream_rate_limited``, ``upstream_timeout``, ...), from
  an error status or from the error frame of a stream that had already begun;
* ``http_<status>`` for an error status without the gateway's error body (a proxy's, say),
  and ``stream_error`` for an error frame without one;
* ``client_timeout``: no complete answer within the timeout;
* ``client_connection``: no connection, or one that broke before the answer was complete;
* ``client_bad_response``: a body or frame that is not what the gateway sends;
* ``client_incomplete_stream``: a stream that ended without ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from llm_gateway.core.types import Endpoint
from llm_gateway.loadgen.plan import RequestSpec

FAULT_HEADER = "X-Simulator-Fault"
USER_AGENT = "llm-gateway-loadgen"
_DATA = "data:"
_DONE = "[DONE]"


class LoadgenError(Exception):
    """The load cannot start, e.g. the gateway's model list is out of reach."""


@dataclass(frozen=True)
class Result:
    endpoint: Endpoint
    model: str
    stream: bool
    fault: str | None
    status: int | None  # None when no response arrived
    error: str | None  # None for a success
    latency: float  # seconds from sending to the last byte, or to the failure
    time_to_first_byte: float | None = None  # streams: until the first data frame
    prompt_tokens: int = 0  # as the response's usage reports them
    completion_tokens: int = 0
    mid_stream: bool = False  # the error came as a frame after a 200

    @property
    def ok(self) -> bool:
        return self.error is None


def new_client(timeout: float, concurrency: int, api_key: str | None) -> httpx.AsyncClient:
    headers = {"User-Agent": USER_AGENT}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # As many connections as requests may be in flight, so none waits for the pool.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, headers=headers)


async def list_models(url: str, timeout: float, api_key: str | None) -> list[str]:
    """Every chat model name ``GET /v1/models`` offers, aliases included."""
    async with new_client(timeout, 1, api_key) as client:
        try:
            response = await client.get(f"{url}/v1/models")
            response.raise_for_status()
            # Chat models only: the load generator sends completions (no "kind": an
            # older gateway, whose models all chat).
            cards = response.json()["data"]
            models = [str(card["id"]) for card in cards if card.get("kind", "chat") == "chat"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise LoadgenError(f"cannot list the models at {url}/v1/models: {exc}") from exc
    if not models:
        raise LoadgenError(f"{url}/v1/models lists no models")
    return models


def request_body(spec: RequestSpec) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of ``spec``."""
    if spec.endpoint is Endpoint.GENERATE:
        return "/generate", {
            "prompt": spec.prompt,
            "model": spec.model,
            "max_new_tokens": spec.max_tokens,
            "stream": spec.stream,
        }
    body: dict[str, Any] = {
        "model": spec.model,
        "messages": [{"role": "user", "content": spec.prompt}],
        "max_tokens": spec.max_tokens,
        "stream": spec.stream,
    }
    if spec.stream:
        body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body


@dataclass
class _Reading:
    """What is known of a response so far; a failure midway keeps what was read."""

    started: float
    status: int | None = None
    error: str | None = None
    time_to_first_byte: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mid_stream: bool = False

    def usage(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = _count(usage.get("prompt_tokens"))
            self.completion_tokens = _count(usage.get("completion_tokens"))


async def send(client: httpx.AsyncClient, url: str, spec: RequestSpec, timeout: float) -> Result:
    """Send ``spec`` and read its whole answer within ``timeout`` seconds; never raises."""
    path, body = request_body(spec)
    headers = {FAULT_HEADER: spec.fault} if spec.fault else {}
    reading = _Reading(started=time.perf_counter())
    try:
        # httpx's timeout bounds each wait; this one bounds the whole exchange.
        async with asyncio.timeout(timeout):
            async with client.stream("POST", url + path, json=body, headers=headers) as response:
                reading.status = response.status_code
                if response.status_code >= 400:
                    reading.error = _error_code(
                        await response.aread(), f"http_{response.status_code}"
                    )
                elif spec.stream:
                    await _read_stream(response, reading)
                else:
                    _read_body(await response.aread(), reading)
    except (TimeoutError, httpx.TimeoutException):
        reading.error = "client_timeout"
    except httpx.TransportError:
        reading.error = "client_connection"
    except httpx.HTTPError:
        reading.error = "client_bad_response"
    return Result(
        endpoint=spec.endpoint,
        model=spec.model,
        stream=spec.stream,
        fault=spec.fault,
        status=reading.status,
        error=reading.error,
        latency=time.perf_counter() - reading.started,
        time_to_first_byte=reading.time_to_first_byte,
        prompt_tokens=reading.prompt_tokens,
        completion_tokens=reading.completion_tokens,
        mid_stream=reading.mid_stream,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _error_code(body: bytes, fallback: str) -> str:
    """The ``code`` of the gateway's error envelope in ``body``, else ``fallback``."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return fallback
    return str(code) if code else fallback


def _json_object(data: bytes | str, reading: _Reading) -> dict[str, Any] | None:
    """``data`` as a JSON object; None, with the error noted, when it is not one."""
    try:
        payload = json.loads(data)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        reading.error = "client_bad_response"
        return None
    return payload


def _read_body(body: bytes, reading: _Reading) -> None:
    payload = _json_object(body, reading)
    if payload is not None:
        reading.usage(payload)


async def _read_stream(response: httpx.Response, reading: _Reading) -> None:
    async for line in response.aiter_lines():
        if not line.startswith(_DATA):
            continue  # blank separators and SSE comments
        if reading.time_to_first_byte is None:
            reading.time_to_first_byte = time.perf_counter() - reading.started
        data = line.removeprefix(_DATA).strip()
        if data == _DONE:
            return
        payload = _json_object(data, reading)
        if payload is None:
            return
        if "error" in payload:
            # The status line was sent before the failure: the error is the last frame.
            reading.error = _error_code(data.encode(), "stream_error")
            reading.mid_stream = True
        reading.usage(payload)
    if reading.error is None:
        reading.error = "client_incomplete_stream"
