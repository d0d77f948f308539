"""Shared fixtures: a zero-latency simulator and a gateway in front of it, on loopback.

Servers are session-scoped and shared by every test that needs them; each test reads
metric deltas rather than absolute values, so tests stay independent.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from llm_gateway.app import create_app
from llm_gateway.settings import Settings
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.servers import run_server

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
NEMO = "mistralai/Mistral-Nemo-Instruct-2407"
# Short enough that a simulated hang costs the suite little, long enough for loopback.
UPSTREAM_TIMEOUT_SECONDS = 0.5


@dataclass
class Gateway:
    url: str
    registry: CollectorRegistry
    settings: Settings

    def sample(self, name: str, **labels: str) -> float:
        """A metric sample's current value, 0 when the series does not exist yet."""
        return self.registry.get_sample_value(name, labels) or 0.0


def installed(tool: str) -> str:
    """The path of a tool the suite needs; a failure naming its install script if missing."""
    path = shutil.which(tool)
    if path is None:
        script = "scripts/install-helm.sh" if tool == "helm" else "scripts/install-prometheus.sh"
        pytest.fail(f"{tool} is not on PATH; install it with {script}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return installed("promtool")


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test when it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def start_gateway(upstream_url: str, **overrides: object) -> Iterator[Gateway]:
    options: dict[str, object] = {
        "upstream_url": upstream_url,
        "upstream_is_simulator": True,
        "upstream_timeout_seconds": UPSTREAM_TIMEOUT_SECONDS,
        "models": {"mistral": MODEL, "nemo": NEMO},
        "max_body_bytes": 64 * 1024,
        "max_prompt_chars": 10_000,
        # One attempt: each fault test sees its fault once. Retries have their own gateway.
        "retry_attempts": 1,
        "retry_backoff_seconds": 0.01,
    }
    settings = Settings(**{**options, **overrides})  # type: ignore[arg-type]
    registry = CollectorRegistry()
    with run_server(create_app(settings, registry=registry)) as url:
        yield Gateway(url=url, registry=registry, settings=settings)


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.0, hang_seconds=5.0, seed=7
    )
    with run_server(create_simulator_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def gateway(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(simulator_url)


@pytest.fixture(scope="session")
def slow_simulator_url() -> Iterator[str]:
    """A simulator whose streams last seconds, for tests that abandon them midway."""
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.05, jitter=0.0, seed=7
    )
    with run_server(create_simulator_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def slow_gateway(slow_simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(slow_simulator_url, upstream_timeout_seconds=5.0)


@pytest.fixture(scope="session")
def unreachable_gateway() -> Iterator[Gateway]:
    """A gateway whose upstream port has nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield from start_gateway(f"http://127.0.0.1:{port}")
