"""The only module that talks to ``huggingface_hub``; it turns that library's errors into ours.

One connection pool (an ``httpx2.AsyncClient`` whose transport is aiohttp's connector, see
:mod:`llm_gateway.transport`) lives as long as the app. Each request
gets its own light ``AsyncInferenceClient`` that borrows the pool: ``huggingface_hub``
keeps every streamed response open on its client's exit stack until that client is
closed, so a client shared by all requests would hold one connection per stream ever
opened. Closing the per-request client releases its stream at once, and the pool keeps
connections alive between requests. ``huggingface_hub`` stops reading a stream at
``data: [DONE]``, a few bytes before the HTTP body ends; the transport reads that tail on
close so the connection goes back to the pool instead of being dropped.

What ``huggingface_hub`` 2.x raises, checked against the simulator
(``tests/integration/test_upstream_errors.py``):

================================  ===========================================  =====
upstream behaviour                raised by huggingface_hub                    ours
================================  ===========================================  =====
429 with Retry-After              ``HfHubHTTPError`` (``response`` attached)     429
400 / 422 for the request         ``HfHubHTTPError`` / ``BadRequestError``       400
401 / 403 / 404                   ``HfHubHTTPError`` subclasses                  502
5xx                               ``HfHubHTTPError``                             502
no byte within the timeout        ``InferenceTimeoutError`` before the body,     504
                                  ``httpx2.ReadTimeout`` while streaming
connection refused / dropped      ``httpx2.ConnectError`` / ``RemoteProtocolError``  502
unparsable body                   ``json.JSONDecodeError`` and friends          502
error frame inside a stream       ``TextGenerationError`` subclasses          400/502
================================  ===========================================  =====
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx2
from huggingface_hub import AsyncInferenceClient, constants, set_async_client_factory
from huggingface_hub.errors import (
    HfHubHTTPError,
    InferenceTimeoutError,
    TextGenerationError,
)
from huggingface_hub.errors import ValidationError as GenerationValidationError

from llm_gateway.completion import Chunk, Completion, CompletionRequest, Usage
from llm_gateway.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from llm_gateway.settings import Settings
from llm_gateway.transport import AiohttpTransport

# How much of an upstream 4xx message is passed on to the client.
MAX_UPSTREAM_MESSAGE_CHARS = 500

_lent_pool: contextvars.ContextVar[httpx2.AsyncClient | None] = contextvars.ContextVar(
    "llm_gateway_lent_pool", default=None
)


class _LentPool:
    """Hands the gateway's pool to one AsyncInferenceClient, which may not close it."""

    __slots__ = ("_pool",)

    def __init__(self, pool: httpx2.AsyncClient) -> None:
        self._pool = pool

    async def __aenter__(self) -> httpx2.AsyncClient:
        return self._pool

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _session_factory() -> Any:
    # Called by huggingface_hub inside the request's own task, where the pool was lent.
    pool = _lent_pool.get()
    if pool is None:
        # Any other AsyncInferenceClient in the process: as huggingface_hub's default, it
        # reads error bodies, which huggingface_hub needs to tell its errors apart.
        return httpx2.AsyncClient(
            follow_redirects=True, timeout=None, event_hooks={"response": [_read_error_body]}
        )
    return _LentPool(pool)


async def _drop_authorization(request: httpx2.Request) -> None:
    request.headers.pop("authorization", None)


async def _read_error_body(response: httpx2.Response) -> None:
    # Streamed error responses must be read before huggingface_hub raises, or the
    # exception carries no message.
    if response.status_code >= 400:
        await response.aread()


class Upstream:
    """Chat completions from Hugging Face, a dedicated endpoint or the simulator."""

    def __init__(self, settings: Settings) -> None:
        url = settings.upstream_url
        self._base_url = str(url).rstrip("/") if url is not None else None
        self._provider = settings.provider
        self._token = settings.hf_token.get_secret_value() if settings.hf_token else None
        self._timeout = settings.upstream_timeout_seconds
        self._forward_faults = settings.upstream_is_simulator
        self._pool: httpx2.AsyncClient | None = None

    async def start(self) -> None:
        # The gateway sends the token it was configured with, or none: left to itself,
        # huggingface_hub would read the host's saved token (~/.cache/huggingface/token)
        # on every call and send it to whatever upstream this is.
        constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
        set_async_client_factory(_session_factory)
        hooks: dict[str, list[Any]] = {"response": [_read_error_body]}
        if self._token is None:
            # The provider helper passes ``api_key or get_token()`` explicitly, which the
            # setting above does not stop: the saved token would still go out.
            hooks["request"] = [_drop_authorization]
        self._pool = httpx2.AsyncClient(
            follow_redirects=True,
            timeout=self._timeout,
            transport=AiohttpTransport(),
            event_hooks=hooks,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def complete(self, request: CompletionRequest) -> Completion:
        client = self._client(request)
        try:
            with _mapped_errors():
                output = await client.chat_completion(**_arguments(request))
                choice = output.choices[0]
                return Completion(
                    model=request.model,
                    text=choice.message.content or "",
                    finish_reason=choice.finish_reason,
                    usage=Usage(output.usage.prompt_tokens, output.usage.completion_tokens),
                )
        finally:
            await _close(client)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Chunks as the upstream sends them; the response is released when this ends."""
        client = self._client(request)
        try:
            with _mapped_errors():
                chunks = await client.chat_completion(**_arguments(request), stream=True)
                async for output in chunks:
                    if output.choices:
                        choice = output.choices[0]
                        text = choice.delta.content or ""
                        # The role-only opening chunk carries nothing worth relaying.
                        if text or choice.finish_reason:
                            yield Chunk(text=text, finish_reason=choice.finish_reason)
                    if output.usage is not None:
                        usage = output.usage
                        yield Chunk(usage=Usage(usage.prompt_tokens, usage.completion_tokens))
        finally:
            await _close(client)

    def _client(self, request: CompletionRequest) -> AsyncInferenceClient:
        _lent_pool.set(self._pool)
        headers = {"X-Request-Id": request.request_id}
        if self._forward_faults:
            headers.update(request.simulator_headers)
        if self._base_url is not None:
            return AsyncInferenceClient(
                base_url=self._base_url, token=self._token, timeout=self._timeout, headers=headers
            )
        return AsyncInferenceClient(
            provider=self._provider,  # type: ignore[arg-type]
            token=self._token,
            timeout=self._timeout,
            headers=headers,
        )


async def _close(client: AsyncInferenceClient) -> None:
    # Shielded: a client that disconnected cancels the request's task, and the upstream
    # response must still be closed, or its connection stays open until the upstream ends.
    with anyio.CancelScope(shield=True):
        await client.close()  # type: ignore[no-untyped-call]


def _arguments(request: CompletionRequest) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
    }
    if request.stream:
        arguments["stream_options"] = {"include_usage": True}
    return arguments


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except UpstreamError:
        raise
    except (InferenceTimeoutError, httpx2.TimeoutException) as exc:
        raise UpstreamTimeout(
            "The upstream sent nothing within the upstream timeout.", code="upstream_timeout"
        ) from exc
    except HfHubHTTPError as exc:
        raise _from_status(exc) from exc
    except GenerationValidationError as exc:
        raise UpstreamRejected(
            f"The upstream rejected the request: {_excerpt(str(exc))}", code="upstream_rejected"
        ) from exc
    except TextGenerationError as exc:
        raise UpstreamServerError(
            "The upstream reported an error while generating.", code="upstream_generation_error"
        ) from exc
    except httpx2.TransportError as exc:
        raise UpstreamUnreachable(
            f"The upstream connection failed ({type(exc).__name__}).", code="upstream_unreachable"
        ) from exc
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise UpstreamBadResponse(
            "The upstream answered with a response the gateway cannot read.",
            code="upstream_bad_response",
        ) from exc


def _from_status(exc: HfHubHTTPError) -> UpstreamError:
    response = exc.response
    status = response.status_code
    if status == 429:
        return UpstreamRateLimited(
            "The upstream is rate limiting requests; retry later.",
            retry_after=response.headers.get("Retry-After"),
        )
    if status in (400, 413, 422):
        return UpstreamRejected(
            f"The upstream rejected the request: {_excerpt(_message_of(response))}",
            code="upstream_rejected",
            upstream_status=status,
        )
    if 400 <= status < 500:
        return UpstreamRefused(
            f"The upstream refused the gateway (HTTP {status}); check its token and model ids.",
            code="upstream_refused",
            upstream_status=status,
        )
    return UpstreamServerError(
        f"The upstream failed (HTTP {status}).",
        code="upstream_server_error",
        upstream_status=status,
    )


def _message_of(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error if error is not None else body)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_UPSTREAM_MESSAGE_CHARS:
        return text
    return text[:MAX_UPSTREAM_MESSAGE_CHARS] + "…"
