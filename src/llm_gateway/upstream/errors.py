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
unparsable body                   ``json.JSONDecodeError`` and friends          502
error status to text_generation  ``TextGenerationError`` subclasses,          as the
                                  the ``HfHubHTTPError`` as ``__cause__``       status
too many redirects, bad encoding  ``httpx2.TooManyRedirects``, ``DecodingError``  502
error frame inside a stream       ``TextGenerationError`` subclasses          400/502
no route through the providers   ``ValueError`` preparing the request (see      502
(model not served, no token)      :mod:`llm_gateway.upstream.hub`)
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
    """Any exception an upstream call raises, as one of ours.

    ``secrets`` are scrubbed from every upstream message passed on to the client.
    """
    try:
        yield
    except UpstreamError:
        raise
    except (InferenceTimeoutError, httpx2.TimeoutException) as exc:
        raise UpstreamTimeout(
            "The upstream sent nothing within the upstream timeout.", code="upstream_timeout"
        ) from exc
    except HfHubHTTPError as exc:
        raise _from_status(exc, secrets) from exc
    except GenerationValidationError as exc:
        raise UpstreamRejected(
            f"The upstream rejected the request: {_excerpt(str(exc), secrets)}",
            code="upstream_rejected",
        ) from exc
    except TextGenerationError as exc:
        if isinstance(exc.__cause__, HfHubHTTPError):
            # text_generation names TGI's error_type; the status is on the HTTP error.
            raise _from_status(exc.__cause__, secrets) from exc
        raise UpstreamServerError(
            "The upstream reported an error while generating.", code="upstream_generation_error"
        ) from exc
    except httpx2.TransportError as exc:
        raise UpstreamUnreachable(
            f"The upstream connection failed ({type(exc).__name__}).", code="upstream_unreachable"
        ) from exc
    except (httpx2.HTTPError, httpx2.StreamError) as exc:
        # Redirect loops, undecodable bodies: the upstream's doing, whatever the name.
        raise UpstreamBadResponse(
            f"The upstream answered with a response the gateway cannot read "
            f"({type(exc).__name__}).",
            code="upstream_bad_response",
        ) from exc
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,  # JSON nested deeper than the parser goes
    ) as exc:
        raise UpstreamBadResponse(
            "The upstream answered with a response the gateway cannot read.",
            code="upstream_bad_response",
        ) from exc


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
