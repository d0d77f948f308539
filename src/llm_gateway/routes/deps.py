"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from llm_gateway.core import Gateway
from llm_gateway.logs import RequestLog


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_request_log(request: Request) -> RequestLog:
    log: RequestLog = request.scope["state"]["request_log"]
    return log


def get_client(request: Request) -> str | None:
    """The API key alias the auth middleware found; None when keys are off."""
    client: str | None = request.scope["state"].get("client")
    return client


def get_simulator_headers(
    request: Request,
    fault: Annotated[
        str | None,
        Header(
            alias="X-Simulator-Fault",
            description="Ask the simulator behind the gateway for one fault (rate_limit, "
            "server_error, unavailable, hang, drop, malformed), with X-Simulator-Fault-Times "
            "for the first N attempts only. Forwarded only when the gateway's upstream is "
            "the simulator.",
            max_length=32,
        ),
    ] = None,
) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith("x-simulator-")}


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
RequestLogDep = Annotated[RequestLog, Depends(get_request_log)]
ClientDep = Annotated[str | None, Depends(get_client)]
SimulatorHeadersDep = Annotated[dict[str, str], Depends(get_simulator_headers)]
