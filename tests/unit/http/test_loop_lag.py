"""The event loop's lateness: a loop held still shows in what the watcher records."""

from __future__ import annotations

import asyncio
import time

from llm_gateway.http.loop_lag import watch_event_loop_lag

INTERVAL = 0.01
HELD = 0.1


async def test_a_loop_held_still_is_recorded_as_late_by_about_that_long() -> None:
    lags: list[float] = []
    first = asyncio.Event()

    def record(seconds: float) -> None:
        lags.append(seconds)
        first.set()

    watcher = asyncio.create_task(watch_event_loop_lag(record, INTERVAL))
    try:
        await asyncio.wait_for(first.wait(), 5)
        # Just after an observation: the next timer falls due while the loop is held.
        time.sleep(HELD)  # blocks the event loop, as a full collection does
        seen = len(lags)
        async with asyncio.timeout(5):
            while len(lags) == seen:
                await asyncio.sleep(0)
    finally:
        watcher.cancel()

    assert all(lag >= 0 for lag in lags)
    assert lags[seen] >= HELD - INTERVAL - 0.01
