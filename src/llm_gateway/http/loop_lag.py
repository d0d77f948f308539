"""How late the event loop runs a timer: the time it stood still.

Everything a worker serves shares one event loop; while it stands still (a full pass of
the cycle collector, a saturated core, code that blocks), every request and stream of
the worker waits. A timer due every :data:`INTERVAL_SECONDS` is run late by that much;
each lateness is observed as ``llm_gateway_event_loop_lag_seconds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

INTERVAL_SECONDS = 0.25


async def watch_event_loop_lag(
    record: Callable[[float], None], interval: float = INTERVAL_SECONDS
) -> None:
    """Record the event loop's lateness every ``interval`` seconds, until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        record(max(0.0, loop.time() - due))
