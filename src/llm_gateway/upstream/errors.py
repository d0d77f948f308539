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

Whatever else an upstream sends is data, not code: a ``Retry-After`` is read as seconds
(an unreadable one is dropped, never relayed as sent), and a message relayed to the
client has the gateway's secrets (its token, any bearer credential or ``hf_`` token the
upstream echoes back) scrubbed first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# How much of an upstream 4xx message is passed on to the client.
MAX_UPSTREAM_MESSAGE_CHARS = 500
REDACTED = "[redacted]"
# Credentials of any kind an upstream may echo back, besides the gateway's own token.
_CREDENTIALS = re.compile(r"(?i)(?<=bearer )[^\s\"',;]+|\bhf_[A-Za-z0-9]{8,}")
_DELAY_SECONDS = re.compile(r"[0-9]{1,9}")


@contextmanager
def mapped_errors(secrets: Collection[str] = ()) -> Iterator[None]:
    """What ``huggingface_hub`` raises inside the block, as one of ours (see :func:`mapped`)."""
    try:
        yield
    except Exception as exc:
        error = mapped(exc, secrets)
        if error is exc:
            raise
        raise error from exc


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
    if isinstance(exc, InferenceTimeoutError | httpx2.TimeoutException):
        return UpstreamTimeout(
            "The upstream sent nothing within the upstream timeout.", code="upstream_timeout"
        )
    if isinstance(exc, HfHubHTTPError):
        return _from_status(exc, secrets)
    if isinstance(exc, GenerationValidationError):
        return UpstreamRejected(
            f"The upstream rejected the request: {_excerpt(str(exc), secrets)}",
            code="upstream_rejected",
        )
    if isinstance(exc, TextGenerationError):
        if isinstance(exc.__cause__, HfHubHTTPError):
            # text_generation names TGI's error_type; the status is on the HTTP error.
            return _from_status(exc.__cause__, secrets)
        return UpstreamServerError(
            "The upstream reported an error while generating.", code="upstream_generation_error"
        )
    if isinstance(exc, httpx2.TransportError):
        return UpstreamUnreachable(
            f"The upstream connection failed ({type(exc).__name__}).", code="upstream_unreachable"
        )
    if isinstance(exc, httpx2.HTTPError | httpx2.StreamError):
        # Redirect loops, undecodable bodies: the upstream's doing, whatever the name.
        return UpstreamBadResponse(
            f"The upstream answered with a response the gateway cannot read "
            f"({type(exc).__name__}).",
            code="upstream_bad_response",
        )
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
        f"Inference Providers routing failed: {_excerpt(str(exc), secrets)}",
        code="upstream_refused",
    )


def _from_status(exc: HfHubHTTPError, secrets: Collection[str]) -> UpstreamError:
    response = exc.response
    status = response.status_code
    if status == 429:
        return UpstreamRateLimited(
            "The upstream is rate limiting requests; retry later.",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status in (400, 413, 422):
        return UpstreamRejected(
            f"The upstream rejected the request: {_excerpt(_message_of(response), secrets)}",
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


def _excerpt(text: str, secrets: Collection[str]) -> str:
    """The start of an upstream's message, on one line, with no credential in it."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _CREDENTIALS.sub(REDACTED, " ".join(text.split()))
    if len(text) <= MAX_UPSTREAM_MESSAGE_CHARS:
        return text
    return text[:MAX_UPSTREAM_MESSAGE_CHARS] + "…"


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (delay-seconds or an HTTP date); None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    if not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
