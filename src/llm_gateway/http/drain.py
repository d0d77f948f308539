"""Graceful shutdown: on SIGTERM, stop being ready first, then drain.

uvicorn's own SIGTERM handling stops accepting connections and waits for the requests in
flight, up to its graceful-shutdown timeout. This module chains onto that handler so that
``/readyz`` fails the moment SIGTERM arrives, and, with ``shutdown_delay_seconds``, keeps
serving for that long first: long enough for a load balancer that polls readiness to
stop sending traffic, where no preStop hook does it.

When ``drain_seconds`` have passed since the drain began, ``cut_off`` ends the streams
still open, each with an error frame and ``[DONE]``; uvicorn's timeout is a little
longer (:data:`CUT_OFF_GRACE_SECONDS`), so those last frames go out before it cancels
whatever is left, which would end a stream with neither.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

logger = logging.getLogger(__name__)

# How long after the cut-off uvicorn's graceful shutdown still waits.
CUT_OFF_GRACE_SECONDS = 1


@dataclass(slots=True)
class Readiness:
    """What ``/readyz`` answers: ready once started, not while starting or draining."""

    ready: bool = False


def fail_readiness_on_sigterm(
    readiness: Readiness, delay: float, drain_seconds: float, cut_off: Callable[[], None]
) -> None:
    # Signals reach the main thread only; servers run in threads (tests) keep uvicorn's.
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    drain = signal.getsignal(signal.SIGTERM)
    if not callable(drain):
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not readiness.ready:  # a second SIGTERM: drain now
            drain(signum, frame)
            return
        readiness.ready = False
        logger.info("SIGTERM: /readyz now fails; draining in %g s", delay)
        loop.call_later(delay, drain, signum, frame)
        loop.call_later(delay + drain_seconds, cut_off)

    signal.signal(signal.SIGTERM, on_sigterm)
