"""Cancel a non-streamed request's upstream work when its client goes away.

Starlette cancels a streaming response when the client disconnects, but a plain handler
runs to the end; an abandoned generation would hold its upstream connection and slot
for nothing. The client's answer is never sent: the status 499 is for the logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import Receive

from llm_gateway.errors import ClientDisconnected

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        # The work records its own cancellation; wait for it to finish doing so.
        await asyncio.wait({task})
        raise ClientDisconnected(
            "The client closed the connection before the answer.", code="client_closed_request"
        )
    return task.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
