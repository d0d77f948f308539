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


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
RequestLogDep = Annotated[RequestLog, Depends(get_request_log)]
FaultHeader = Annotated[
    str | None,
    Header(
        alias="X-Simulator-Fault",
        description="Ask the simulator behind the gateway for one fault (rate_limit, "
        "server_error, unavailable, hang, drop, malformed). Forwarded only when the "
        "gateway's upstream is the simulator.",
        max_length=32,
    ),
]
