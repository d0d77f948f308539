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

An error status becomes ours, the upstream's message and code kept, in
:mod:`llm_gateway.upstream.statuses`, which the ``openai`` kind shares.
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
    """Any exception an upstream call raises, as one of ours.

    ``secrets`` are scrubbed from every upstream message passed on to the client.
    """
    try:
        yield
    except UpstreamError:
        raise
    except InferenceTimeoutError as exc:
        raise from_transport(httpx2.ReadTimeout(str(exc))) from exc
    except httpx2.TimeoutException as exc:
        raise from_transport(exc) from exc
    except HfHubHTTPError as exc:
        raise _from_status(exc, secrets) from exc
    except GenerationValidationError as exc:
        raise UpstreamRejected(
            f"The upstream rejected the request: {excerpt(str(exc), secrets)}",
            code="upstream_rejected",
        ) from exc
    except TextGenerationError as exc:
        if isinstance(exc.__cause__, HfHubHTTPError):
            # text_generation names TGI's error_type; the status is on the HTTP error.
            raise _from_status(exc.__cause__, secrets) from exc
        raise UpstreamServerError(
            "The upstream reported an error while generating.", code="upstream_generation_error"
        ) from exc
    except (httpx2.HTTPError, httpx2.StreamError) as exc:
        raise from_transport(exc) from exc
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
        f"Inference Providers routing failed: {excerpt(str(exc), secrets)}",
        code="upstream_refused",
    )


def _from_status(exc: HfHubHTTPError, secrets: Collection[str]) -> UpstreamError:
    response = exc.response
    return from_status(
        response.status_code, response.headers.get("Retry-After"), response.text, secrets
    )
