"""Inference Providers' routing, resolved off the event loop and sent through the gateway's pool.

Before it sends a chat completion, ``AsyncInferenceClient`` prepares the request
synchronously, in the caller's thread. For provider ``auto`` that is local (the router picks
the provider). For a named provider it asks the Hub which id the provider knows the model by
(``GET {HF_ENDPOINT}/api/models/{model}?expand=inferenceProviderMapping``), and for
``hf-inference`` whether the model generates text (``GET {HF_ENDPOINT}/api/models/{model}``),
with huggingface_hub's synchronous session, and caches the answer per model (not a failure).
On the event loop, a slow Hub held every request and ``/healthz`` for as long as it took.

:func:`prepare` runs that same preparation step in a worker thread, once per model, before the
client does: the client then finds the answers cached. The Hub requests it makes go through
:class:`PoolBridge`, under huggingface_hub's synchronous session: back on the event loop,
through the gateway's pool, so they get the upstream's transport (TLS, resolver, token hooks)
and a bound on their total time. Any other synchronous huggingface_hub call in the process
goes out as it would have without the gateway.

The preparation step is ``get_provider_helper(...).prepare_request(...)`` from
huggingface_hub's private ``inference._providers`` module, what ``chat_completion`` calls. A
huggingface_hub without it leaves the resolution where the library does it (:func:`available`).
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass
from typing import Any

import httpx2

try:
    from huggingface_hub.inference import _providers as providers
except ImportError:  # pragma: no cover - a huggingface_hub that reorganised its internals
    providers = None  # type: ignore[assignment]

# Longest one Hub request may take, from sending it to the end of its body.
HUB_TIMEOUT_SECONDS = 10.0
# Headers describing a body that httpx2 has already decoded and measured.
_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class _Loan:
    pool: httpx2.AsyncClient
    loop: asyncio.AbstractEventLoop


# Set only inside prepare()'s worker thread, so the event loop's thread never waits on itself.
_lent: contextvars.ContextVar[_Loan | None] = contextvars.ContextVar(
    "llm_gateway_hub_loan", default=None
)


def available() -> bool:
    """Whether this huggingface_hub has the preparation step :func:`prepare` runs."""
    return hasattr(providers, "get_provider_helper")


def prepare(
    pool: httpx2.AsyncClient,
    loop: asyncio.AbstractEventLoop,
    provider: str,
    model: str,
    token: str | None,
) -> None:
    """In a worker thread: what ``chat_completion`` prepares for ``model``, cached by the library.

    Raises what the preparation raises: huggingface_hub's HTTP errors for the Hub's answers,
    httpx2's for the transport, ``ValueError`` when the provider does not serve the model.
    """
    loan = _lent.set(_Loan(pool, loop))
    try:
        helper = providers.get_provider_helper(
            provider,  # type: ignore[arg-type]  # any name: an unknown one is a ValueError
            task="conversational",
            model=model,
        )
        helper.prepare_request(inputs=[], parameters={}, headers={}, model=model, api_key=token)
    finally:
        _lent.reset(loan)


class PoolBridge(httpx2.BaseTransport):
    """A synchronous transport that sends a worker thread's requests through the gateway's pool."""

    def __init__(self) -> None:
        self._direct = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        loan = _lent.get()
        if loan is None:
            return self._direct.handle_request(request)
        future = asyncio.run_coroutine_threadsafe(_send(loan.pool, request), loan.loop)
        # The coroutine bounds itself; this only guards against a loop that stopped running it.
        return future.result(timeout=HUB_TIMEOUT_SECONDS + 1)

    def close(self) -> None:
        self._direct.close()


async def _send(pool: httpx2.AsyncClient, request: httpx2.Request) -> httpx2.Response:
    try:
        async with asyncio.timeout(HUB_TIMEOUT_SECONDS):
            response = await pool.request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
    except TimeoutError as exc:
        raise httpx2.ReadTimeout("the Hub did not answer in time", request=request) from exc
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _BODY_FRAMING]
    return httpx2.Response(
        response.status_code, headers=headers, content=response.content, request=request
    )


def session_factory(event_hooks: dict[str, list[Any]]) -> httpx2.Client:
    """huggingface_hub's synchronous session, with its own ``event_hooks``, over the bridge."""
    return httpx2.Client(
        transport=PoolBridge(), event_hooks=event_hooks, follow_redirects=True, timeout=None
    )
