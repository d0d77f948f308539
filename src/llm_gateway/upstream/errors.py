"""How the upstream's failures become the gateway's errors.

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
error status to text_generation  ``TextGenerationError`` subclasses,          as the
                                  the ``HfHubHTTPError`` as ``__cause__``       status
error frame inside a stream       ``TextGenerationError`` subclasses          400/502
================================  ===========================================  =====
"""

from __future__ import annotations

from collections.abc import Iterator
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
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# How much of an upstream 4xx message is passed on to the client.
MAX_UPSTREAM_MESSAGE_CHARS = 500


@contextmanager
def mapped_errors() -> Iterator[None]:
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
        if isinstance(exc.__cause__, HfHubHTTPError):
            # text_generation names TGI's error_type; the status is on the HTTP error.
            raise _from_status(exc.__cause__) from exc
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
