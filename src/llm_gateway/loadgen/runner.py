"""Run a load: keep the arrival schedule, cap the requests in flight, report progress.

Arrivals are open-loop: a request is due at its offset whatever happened to the earlier
ones. When ``concurrency`` requests are already in flight, an arrival is counted as
skipped rather than queued, so a stalled gateway cannot grow an unbounded backlog and the
run still ends on time: arrivals stop at ``duration`` and every request in flight is
bounded by ``timeout``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_gateway.loadgen.client import Result, new_client, send
from llm_gateway.loadgen.plan import Arrival, Mix, arrival_offsets
from llm_gateway.loadgen.report import Progress, Summary, summarize

ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class LoadConfig:
    url: str
    mix: Mix
    rate: float  # arrivals per second, on average
    duration: float  # seconds during which requests arrive
    max_requests: int | None = None  # stop after this many arrivals, if sooner
    concurrency: int = 64
    timeout: float = 90.0  # seconds for one whole request, stream included
    arrival: Arrival = Arrival.POISSON
    seed: int | None = None
    api_key: str | None = None


@dataclass
class _Tally:
    arrived: int = 0
    sent: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0


async def run(
    config: LoadConfig,
    *,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 1.0,
    stop: asyncio.Event | None = None,
) -> Summary:
    """Drive ``config``'s load against the gateway and summarize what happened.

    Setting ``stop`` ends the run early: no more arrivals, requests in flight are
    cancelled and counted as such.
    """
    stop = stop or asyncio.Event()
    rng = random.Random(config.seed)
    tally = _Tally()
    results: list[Result] = []
    in_flight: set[asyncio.Task[Result]] = set()
    loop = asyncio.get_running_loop()
    url = config.url.rstrip("/")

    def finished(task: asyncio.Task[Result]) -> None:
        in_flight.discard(task)
        if task.cancelled():
            return
        result = task.result()
        results.append(result)
        if result.ok:
            tally.ok += 1
        else:
            tally.failed += 1

    async with new_client(config.timeout, config.concurrency, config.api_key) as client:
        start = loop.time()
        reporter = None
        if on_progress is not None:
            reporter = asyncio.create_task(
                _report(on_progress, progress_interval, start, tally, in_flight)
            )
        try:
            for offset in arrival_offsets(config.rate, config.arrival, rng):
                if tally.arrived == config.max_requests:
                    break
                if offset >= config.duration:
                    # The sending window is the whole duration, not up to the last arrival.
                    await _stopped_before(stop, start + config.duration)
                    break
                if await _stopped_before(stop, start + offset):
                    break
                # Drawn for skipped arrivals too, so a seed gives the same plan at any speed.
                spec = config.mix.draw(rng)
                tally.arrived += 1
                if len(in_flight) >= config.concurrency:
                    tally.skipped += 1
                    continue
                task = asyncio.create_task(send(client, url, spec, config.timeout))
                task.add_done_callback(finished)
                in_flight.add(task)
                tally.sent += 1
            sending_seconds = min(loop.time() - start, config.duration)
            await _drain(in_flight, stop)
        finally:
            cancelled = len(in_flight)
            await _cancel(*in_flight, *([reporter] if reporter else []))
        elapsed = loop.time() - start
    return summarize(
        results,
        url=url,
        target_rate=config.rate,
        elapsed_seconds=elapsed,
        sending_seconds=sending_seconds,
        arrived=tally.arrived,
        skipped=tally.skipped,
        cancelled=cancelled,
    )


async def _stopped_before(stop: asyncio.Event, deadline: float) -> bool:
    """Wait until the loop time ``deadline``; ``True`` if ``stop`` was set by then."""
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0 and not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return False
    return stop.is_set()


async def _drain(in_flight: set[asyncio.Task[Result]], stop: asyncio.Event) -> None:
    """Wait for the requests in flight to finish, or for ``stop``."""
    if not in_flight:
        return
    all_done = asyncio.create_task(asyncio.wait(set(in_flight)))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({all_done, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelling the wait leaves the requests it waited for alone.
        await _cancel(all_done, stopped)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _report(
    on_progress: ProgressCallback,
    interval: float,
    start: float,
    tally: _Tally,
    in_flight: set[asyncio.Task[Result]],
) -> None:
    loop = asyncio.get_running_loop()
    last_time, last_sent = start, 0
    while True:
        await asyncio.sleep(interval)
        now = loop.time()
        rate = (tally.sent - last_sent) / (now - last_time)
        on_progress(
            Progress(
                elapsed=now - start,
                sent=tally.sent,
                in_flight=len(in_flight),
                ok=tally.ok,
                failed=tally.failed,
                skipped=tally.skipped,
                rate=rate,
            )
        )
        last_time, last_sent = now, tally.sent
