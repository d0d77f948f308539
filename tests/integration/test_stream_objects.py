"""A stream's objects, and its request's, are freed as it ends, by reference counting.

Whatever a stream leaves in a reference cycle waits for the cycle collector's next full
pass, which walks every tracked object while the event loop stands still (tens of
milliseconds with a few hundred streams open). Here the collector is off while streams
run through the gateway, finished or broken by the upstream: with no cycle, none of the
core's stream objects outlive their stream. (aiohttp keeps a broken response's error with
its traceback, which holds the reader that holds it: a cycle of its own, small, that holds
none of the gateway's objects.)
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import httpx
import pytest

from llm_gateway.core.measurement import Measurement
from llm_gateway.core.relay import Relay
from llm_gateway.http.context import RequestContext
from tests.helpers import KINDS, Gateway, either_kind, wait_for

STREAMS = 5


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    return either_kind(request, hf_gateway, gateway)


def stream_objects() -> set[int]:
    """The core's objects of a stream, and the request's context, which the ASGI scope
    holds: whatever the context holds is freed with the request, or the scope is not."""
    kinds = Relay | Measurement | RequestContext
    return {id(o) for o in gc.get_objects() if isinstance(o, kinds)}


@pytest.fixture
def left_alive() -> Iterator[Callable[[], set[int]]]:
    """With the collector off, the core's stream objects made since the test began that
    are still alive: not those of an earlier test's streams still ending (in any order)."""
    gc.collect()  # what earlier tests left
    gc.disable()
    try:
        before = stream_objects()
        yield lambda: stream_objects() - before
    finally:
        gc.enable()


@pytest.mark.parametrize("door", ["/v1/chat/completions", "/generate"])
def test_a_finished_stream_leaves_nothing_to_the_cycle_collector(
    gateway: Gateway, door: str, left_alive: Callable[[], set[int]]
) -> None:
    body = (
        {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
        if door == "/v1/chat/completions"
        else {"prompt": "Hello", "max_new_tokens": 8}
    )
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for _ in range(STREAMS):
            with client.stream("POST", door, json={**body, "stream": True}) as response:
                assert response.status_code == 200
                assert b"[DONE]" in response.read()

    # The server ends each stream's task just after its last bytes.
    wait_for(lambda: not left_alive())


@pytest.mark.parametrize("fault", ["drop", "stall"])
def test_a_broken_stream_leaves_nothing_to_the_cycle_collector(
    gateway: Gateway, fault: str, left_alive: Callable[[], set[int]]
) -> None:
    body = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 50, "stream": True}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for _ in range(STREAMS):
            with client.stream(
                "POST", "/v1/chat/completions", json=body, headers={"X-Simulator-Fault": fault}
            ) as response:
                # The break reaches the client as the stream's last frame.
                assert b'"error"' in response.read()

    wait_for(lambda: not left_alive())
