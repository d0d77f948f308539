"""Typed dependencies shared by the routes.

All ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop
per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from llm_gateway.core import Gateway
from llm_gateway.logs import RequestLog
from llm_gateway.simulator.faults import Fault


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def get_request_log(request: Request) -> RequestLog:
    log: RequestLog = request.scope["state"]["request_log"]
    return log


async def get_client(request: Request) -> str | None:
    """The API key alias the auth middleware found; None when keys are off."""
    client: str | None = request.scope["state"].get("client")
    return client


async def get_simulator_headers(
    request: Request,
    # Typed without None so the schema does not offer a header whose value is "null".
    fault: Annotated[
        Fault,
        Header(
            alias="X-Simulator-Fault",
            description="Ask the simulator behind the gateway for one fault. Forwarded, with "
            "every X-Simulator-* header, only when the gateway's upstream is the simulator.",
        ),
    ] = None,  # type: ignore[assignment]
    fault_times: Annotated[
        int,
        Header(
            alias="X-Simulator-Fault-Times",
            description="Apply X-Simulator-Fault to the first N attempts of this request only.",
            ge=1,
            le=100,
        ),
    ] = None,  # type: ignore[assignment]
) -> dict[str, str]:
    # Validated above; forwarded as sent.
    return {k: v for k, v in request.headers.items() if k.startswith("x-simulator-")}


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
RequestLogDep = Annotated[RequestLog, Depends(get_request_log)]
ClientDep = Annotated[str | None, Depends(get_client)]
SimulatorHeadersDep = Annotated[dict[str, str], Depends(get_simulator_headers)]
