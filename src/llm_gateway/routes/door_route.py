"""How a door is served: FastAPI's route, without FastAPI's generic request handler.

A door is ``async def door(body: SomeRequest, call: CallDep) -> Response``. FastAPI
documents it from that signature as any route (OpenAPI, the body's schema). Serving it,
FastAPI's handler is written for every signature there is: its telemetry hooks, the
endpoint's context, a Content-Type parsed by the email package and the dependency solver
took a tenth of a request's instructions (1.992 → 1.793 M without it,
bench/instructions.py). This handler does what FastAPI's does for that one signature,
in its order:

1. the body read as JSON when its Content-Type is JSON (``application/json`` or
   ``application/*+json``), or names none and FastAPI's ``strict_content_type`` is off
   (it is on by default since FastAPI 0.132; older releases have it off); an empty body
   is missing; any other is handed on as bytes, which the validation refuses. JSON that
   does not parse is ``json_invalid``;
2. the Call made (:func:`~llm_gateway.routes.deps.get_call`: a bad X-Simulator-* header
   is refused here, before the body is validated);
3. the body validated by FastAPI's own ``request_body_to_args``, with the field FastAPI
   made of it: the same validation, the same errors, located under ``body``;
4. the door awaited, its Response returned as it is.

A route of any other signature (another dependency, a parameter, an answer FastAPI
serializes) is served by FastAPI's own handler. Dependencies given where a door's router
is included (``include_router(..., dependencies=...)``) would not run: ``create_app``
gives none, and authentication is a middleware (``http/auth.py``).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from llm_gateway.routes.deps import get_call

# The body sent nothing (as FastAPI tells a missing body from an empty JSON value).
_MISSING = object()


class DoorRoute(APIRoute):
    """A door's route (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        field, dependant = self.body_field, self.dependant
        answers = typing.get_type_hints(self.endpoint).get("return")
        if (
            field is None
            or len(dependant.body_params) != 1
            or [sub.call for sub in dependant.dependencies] != [get_call]
            or dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or not (isinstance(answers, type) and issubclass(answers, Response))
        ):
            return super().get_route_handler()
        door = self.endpoint
        strict = getattr(self, "strict_content_type", False)  # FastAPI 0.132 and later
        if isinstance(strict, DefaultPlaceholder):
            strict = strict.value

        async def serve(request: Request) -> Response:
            body = await _json_body(request, strict)
            call = await get_call(request)
            if body is _MISSING:
                body, errors = None, [{"type": "missing", "loc": ("body",),
                                       "msg": "Field required", "input": None}]  # fmt: skip
            else:
                # FastAPI's own validation of a single body, unembedded (as a door takes it).
                values, errors = await request_body_to_args([field], body, False)
                body = values[field.name]
            if errors:
                raise RequestValidationError(errors, body=body)
            response: Response = await door(body, call)
            return response

        return serve


async def _json_body(request: Request, strict: bool) -> Any:
    """The body as FastAPI hands it to the validation: parsed JSON, bytes, or missing."""
    raw = await request.body()
    if not raw:
        return _MISSING
    content_type = request.headers.get("content-type")
    if not (_is_json(content_type) if content_type else not strict):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                 "input": {}, "ctx": {"error": exc.msg}}  # fmt: skip
        raise RequestValidationError([error], body=exc.doc) from exc
    except (UnicodeDecodeError, RecursionError) as exc:  # not UTF-8; nested too deep
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _is_json(content_type: str) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON (as the email package
    splits a Content-Type: its parameters off, a type without one slash is text/plain)."""
    kind = content_type.partition(";")[0].strip().lower()
    if kind.count("/") != 1:
        return False
    main, sub = kind.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))
