"""Shared fixtures: a zero-latency simulator and a gateway in front of it, on loopback.

Servers are session-scoped and shared by every test that needs them; each test reads
metric deltas rather than absolute values, so tests stay independent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from llm_gateway.ports import free_port
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import Gateway, installed, start_gateway
from tests.hostile import HostileUpstream
from tests.openai_schemas import recorded
from tests.servers import RedisServer, run_redis, run_server


@pytest.fixture(scope="session")
def promtool() -> str:
    return installed("promtool")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on loopback, shared: tests keep to API key aliases of their own."""
    workdir = tmp_path_factory.mktemp("redis")
    with run_redis(installed("redis-server"), free_port(), workdir) as server:
        yield server


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    settings = SimulatorSettings(
        time_to_first_token_seconds=0.0, time_per_token_seconds=0.0, hang_seconds=5.0, seed=7
    )
    with run_server(create_simulator_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def gateway(simulator_url: str) -> Iterator[Gateway]:
    """The gateway in front of the simulator, of the kind a URL alone means: openai."""
    yield from start_gateway(simulator_url)


@pytest.fixture(scope="session")
def hf_gateway(simulator_url: str) -> Iterator[Gateway]:
    """The same simulator through the huggingface upstream kind (InferenceClient, on TGI's
    and TEI's routes for completions and embeddings)."""
    yield from start_gateway(simulator_url, upstream_api="huggingface")


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
def hostile() -> Iterator[HostileUpstream]:
    """A hostile upstream on loopback; each request picks its behaviour by request id."""
    with HostileUpstream().running() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def unreachable_gateway() -> Iterator[Gateway]:
    """A gateway whose upstream port has nothing listening."""
    yield from start_gateway(f"http://127.0.0.1:{free_port()}")


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    """The openai SDK's async client on the shared gateway, without retries."""
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0
    ) as sdk:
        yield sdk


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    recorded.take()  # what an earlier test's teardown left is not this test's


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fails a test that received an answer breaking OpenAI's published schemas (checked
    on the gateway's side: tests/openai_schemas), with what broke them."""
    yield
    found = recorded.take()
    if found:
        listed = "\n".join(found[:20])
        pytest.fail(f"answers break OpenAI's published schemas:\n{listed}", pytrace=False)
