"""Exception handlers: every error leaves the gateway in the envelope of its door
(``envelopes``: the one of ``errors``, or Anthropic's on the Messages API)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from llm_gateway.errors import GatewayError, InvalidRequest, ValidationFailed
from llm_gateway.http import envelopes
from llm_gateway.http.context import RequestContext
from llm_gateway.logs import log_each_error_once, mark_logged

logger = logging.getLogger(__name__)

# Validation messages name at most this many problems; the first ones are what to fix.
MAX_REPORTED_PROBLEMS = 5
_HTTP_CODES = {
    404: ("not_found", "No such endpoint: {path}."),
    405: ("method_not_allowed", "{method} is not allowed on {path}."),
    413: ("body_too_large", "The request body exceeds the gateway's limit of {limit} bytes."),
}


def error_response(
    error: GatewayError, context: RequestContext | None, status: int | None = None
) -> JSONResponse:
    """The error in its door's envelope, its code noted for the access line; ``status``
    overrides the error's own."""
    if context is not None:
        context.error_code = error.code
    status, body = envelopes.rendered(error, context, status or error.status)
    return JSONResponse(body, status_code=status, headers=error.headers)


def install(app: FastAPI, max_body_bytes: int) -> None:
    def render(request: Request, exc: GatewayError, status: int | None = None) -> JSONResponse:
        return error_response(exc, RequestContext.find(request.scope), status)

    async def gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        return render(request, exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        if any(problem["type"] == "json_invalid" for problem in problems):
            return render(
                request, InvalidRequest("The body is not valid JSON.", code="invalid_json")
            )
        described = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in problems[:MAX_REPORTED_PROBLEMS]
        ]
        first = ".".join(str(part) for part in problems[0]["loc"][1:]) if problems else None
        error = ValidationFailed(
            "Invalid request: " + "; ".join(described) + ".",
            code="invalid_body",
            param=first or None,
        )
        return render(request, error)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code, template = _HTTP_CODES.get(exc.status_code, ("http_error", "{detail}"))
        message = template.format(
            path=request.url.path, method=request.method, limit=max_body_bytes, detail=exc.detail
        )
        response = render(request, InvalidRequest(message, code=code), exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug of ours: logged here, once, with the request it broke (see logs.LoggedOnce).
        context = RequestContext.find(request.scope)
        request_id = context.request_id if context is not None else None
        logger.error(
            "unhandled error while serving %s (request %s)",
            request.url.path,
            request_id,
            exc_info=exc,
        )
        mark_logged(exc)
        response = render(
            request, GatewayError("The gateway failed unexpectedly.", code="internal_error")
        )
        # This response bypasses the request-context middleware, which adds the id elsewhere.
        if request_id is not None:
            response.headers["X-Request-Id"] = request_id
        return response

    log_each_error_once()

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
