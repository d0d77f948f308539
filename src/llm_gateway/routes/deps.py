"""The dependency every completion route takes: its :class:`Call`.

``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop
per dependency per request for what are dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from llm_gateway.core.gateway import Gateway
from llm_gateway.core.relay import Relay
from llm_gateway.core.types import (
    Completion,
    CompletionRequest,
    EmbeddingInput,
    EmbeddingRequest,
    Embeddings,
    Endpoint,
)
from llm_gateway.errors import ValidationFailed
from llm_gateway.faults import MAX_FAULT_TIMES, Fault, FaultRequest, UnknownFaultError
from llm_gateway.http.context import RequestContext
from llm_gateway.http.disconnect import unless_disconnected


@dataclass(slots=True)
class Call:
    """What a completion route needs besides its body: the core, the request's context
    (with the caller's API key alias, None when keys are off), the X-Simulator-* headers
    it sent, and the HTTP request itself."""

    gateway: Gateway
    context: RequestContext
    simulator_headers: dict[str, str]
    http: Request

    def completion_request(
        self,
        endpoint: Endpoint,
        model: str | None,
        stop: str | list[str] | None,
        stream: bool,
        **fields: Any,
    ) -> CompletionRequest:
        """The internal request, as the client asked for it; the core validates it."""
        return CompletionRequest(
            request_id=self.context.request_id,
            endpoint=endpoint,
            model=model,
            stop=[stop] if isinstance(stop, str) else stop,
            stream=stream,
            client=self.context.client,
            simulator_headers=self.simulator_headers,
            **fields,
        )

    def embedding_request(
        self, model: str | None, input: EmbeddingInput, dimensions: int | None
    ) -> EmbeddingRequest:
        return EmbeddingRequest(
            request_id=self.context.request_id,
            model=model,
            input=input,
            dimensions=dimensions,
            client=self.context.client,
            simulator_headers=self.simulator_headers,
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        return await unless_disconnected(self.http, self.gateway.complete(request, self.context))

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await unless_disconnected(self.http, self.gateway.embed(request, self.context))

    async def stream(self, request: CompletionRequest) -> Relay:
        # Until the first chunk; from then on the streaming response watches the client.
        return await unless_disconnected(self.http, self.gateway.stream(request, self.context))


async def get_simulator_headers(
    request: Request,
    # Declared for the schema only (typed without None, so it offers no "null"): checked
    # below, and only when the upstream is the simulator; to any other, nothing is sent.
    fault: Annotated[
        str,
        Header(
            alias="X-Simulator-Fault",
            description="Ask the simulator behind the gateway for one fault. Forwarded, with "
            "every X-Simulator-* header, only when the gateway's upstream is the simulator; "
            "ignored otherwise.",
            json_schema_extra={"enum": [f.value for f in Fault]},
        ),
    ] = None,  # type: ignore[assignment]
    fault_times: Annotated[
        str,
        Header(
            alias="X-Simulator-Fault-Times",
            description="Apply X-Simulator-Fault to the first N attempts of this request only.",
            json_schema_extra={"type": "integer", "minimum": 1, "maximum": MAX_FAULT_TIMES},
        ),
    ] = None,  # type: ignore[assignment]
) -> dict[str, str]:
    if not request.app.state.settings.upstream_is_simulator:
        return {}
    headers = {k: v for k, v in request.headers.items() if k.startswith("x-simulator-")}
    try:
        asked = FaultRequest.from_headers(headers)
    except UnknownFaultError as exc:
        raise ValidationFailed(str(exc), code="invalid_body", param=exc.header) from None
    if asked.times is not None and asked.times > MAX_FAULT_TIMES:
        raise ValidationFailed(
            f"X-Simulator-Fault-Times is at most {MAX_FAULT_TIMES}.",
            code="invalid_body",
            param="X-Simulator-Fault-Times",
        )
    return headers


async def get_call(
    request: Request,
    simulator_headers: Annotated[dict[str, str], Depends(get_simulator_headers)],
) -> Call:
    return Call(
        gateway=request.app.state.gateway,
        context=RequestContext.of(request.scope),
        simulator_headers=simulator_headers,
        http=request,
    )


CallDep = Annotated[Call, Depends(get_call)]
