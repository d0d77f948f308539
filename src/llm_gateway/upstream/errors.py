"""How the upstream's failures become the gateway's errors.

What ``huggingface_hub`` 2.x raises, checked against the simulator
(``tests/integration/test_upstream_errors.py``; through Inference Providers,
``tests/integration/test_hf_router.py``):

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
unparsable body                   ``json.JSONDecodeError``, ``ValueError``       502
error status to text_generation  ``TextGenerationError`` subclasses,          as the
                                  the ``HfHubHTTPError`` as ``__cause__``       status
too many redirects, bad encoding  ``httpx2.TooManyRedirects``, ``DecodingError``  502
error frame inside a stream       ``TextGenerationError`` subclasses          400/502
no route through the providers   ``ValueError`` preparing the request (see      502
(model not served, no token)      :mod:`llm_gateway.upstream.hub`)
JSON of the wrong shape           ``ValueError`` (huggingface_hub), or           502
                                  ``UpstreamBadResponse`` (our ``wire``)
anything else: a bug of ours      left as it is (``internal_error``)            500
================================  ===========================================  =====

An error status and a failed HTTP exchange become ours in
:mod:`llm_gateway.upstream.statuses`, which the ``openai`` kind shares: the upstream's
message and code kept, secrets scrubbed, a ``Retry-After`` read as seconds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub.errors import (
    HfHubHTTPError,
    InferenceTimeoutError,
    TextGenerationError,
)
from huggingface_hub.errors import ValidationError as GenerationValidationError

from llm_gateway.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
)
from llm_gateway.upstream.statuses import excerpt, from_status, from_transport


@contextmanager
def mapped_errors(secrets: Collection[str] = ()) -> Iterator[None]:
    """What ``huggingface_hub`` raises inside the block, as one of ours (see :func:`mapped`)."""
    try:
        yield
    except Exception as exc:
        error = mapped(exc, secrets)
        if error is exc:
            raise
        try:
            raise error from exc
        finally:
            # The traceback holds this frame: holding the error, the error would hold
            # itself, a cycle left to the cycle collector.
            del error


def mapped(exc: Exception, secrets: Collection[str] = ()) -> Exception:
    """The gateway's error for what an upstream call raised, by a closed table (httpx's
    ``map_httpcore_exceptions``): an exception not in it is returned as it is, so a bug
    of ours stays a bug (a 500 ``internal_error``), never an upstream's fault.

    The table holds what ``huggingface_hub`` and its HTTP client raise, and the
    gateway's own upstream errors (the transport's limits, an answer of the wrong shape
    read in :mod:`~llm_gateway.upstream.wire`), passed on. ``ValueError`` and
    ``RecursionError`` are in it as what ``huggingface_hub`` raises reading a body: a
    ``json.JSONDecodeError``, a body of the wrong shape, JSON nested deeper than the
    parser goes. The blocks around its calls hold nothing else of ours that could raise
    them; the gateway's own reading of an answer happens outside them.

    ``secrets`` are scrubbed from every upstream message passed on to the client.
    """
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, InferenceTimeoutError):
        return from_transport(httpx2.ReadTimeout(str(exc)))
    if isinstance(exc, HfHubHTTPError):
        return _from_status(exc, secrets)
    if isinstance(exc, GenerationValidationError):
        return UpstreamRejected(
            f"The upstream rejected the request: {excerpt(str(exc), secrets)}",
            code="upstream_rejected",
        )
    if isinstance(exc, TextGenerationError):
        if isinstance(exc.__cause__, HfHubHTTPError):
            # text_generation names TGI's error_type; the status is on the HTTP error.
            return _from_status(exc.__cause__, secrets)
        return UpstreamServerError(
            "The upstream reported an error while generating.", code="upstream_generation_error"
        )
    if isinstance(exc, httpx2.HTTPError | httpx2.StreamError):
        return from_transport(exc)
    if isinstance(exc, ValueError | RecursionError):
        return UpstreamBadResponse(
            "The upstream answered with a response the gateway cannot read.",
            code="upstream_bad_response",
        )
    return exc


def unroutable(exc: ValueError, secrets: Collection[str] = ()) -> UpstreamRefused:
    """huggingface_hub could not route a model through Inference Providers (its message says why:
    the provider does not serve the model, no token for the router, an unknown provider)."""
    return UpstreamRefused(
        f"Inference Providers routing failed: {excerpt(str(exc), secrets)}",
        code="upstream_refused",
    )


def _from_status(exc: HfHubHTTPError, secrets: Collection[str]) -> UpstreamError:
    response = exc.response
    return from_status(
        response.status_code, response.headers.get("Retry-After"), response.text, secrets
    )
