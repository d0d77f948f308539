"""Cancel a request's upstream work when its client goes away.

A plain handler runs to the end, and a streaming response writes to a closed connection
without a word from the server; an abandoned generation would hold its upstream
connection and slot for nothing. The client's answer is never sent: the status 499 is
for the logs. (Starlette's streaming response watches for the client in an anyio task
group, which formats the task's repr when it cancels the other task: about 20 us a
stream; :mod:`llm_gateway.routes.streaming` watches with :func:`until_disconnected`.)
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
    """Await ``work`` in this task; if the client goes first, cancel it and raise."""
    return await until_disconnected(request.receive, work)


async def until_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """:func:`unless_disconnected`, with the ASGI ``receive`` of the request."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _disconnect(receive)
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        # Our own cancellation, not the server's: the work recorded it; answer 499.
        task.uncancel()
        raise ClientDisconnected(
            "The client closed the connection before the answer.", code="client_closed_request"
        ) from None
    finally:
        watcher.cancel()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
