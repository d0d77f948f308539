from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from huggingface_hub import AsyncInferenceClient

from llm_gateway.faults import FAULT_HEADER
from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.integration.simulator.sse import Seen
from tests.servers import run_server

# Short enough to keep hang tests quick, long enough for a loaded CI machine: the
# simulator serves from a thread of the tests' process, and at 0.25 s a clean-clone CI
# run once timed out an answer (an embeddings request, test_fault_parameters.py).
CLIENT_TIMEOUT_SECONDS = 0.5

HfClients = Callable[[str | None], AsyncInferenceClient]


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    """A zero-latency, fault-free simulator shared by the session; faults come by header."""
    settings = SimulatorSettings(time_to_first_token_seconds=0, time_per_token_seconds=0, seed=0)
    with run_server(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
async def hf_clients(simulator_url: str) -> AsyncIterator[HfClients]:
    """One AsyncInferenceClient per fault header, kept for the session.

    Each client takes a tenth of a second to build (its SSL context), and huggingface_hub
    sets headers per client, not per call.
    """
    clients: dict[str | None, AsyncInferenceClient] = {}

    def client_for(fault: str | None) -> AsyncInferenceClient:
        if fault not in clients:
            clients[fault] = AsyncInferenceClient(
                base_url=simulator_url,
                headers={} if fault is None else {FAULT_HEADER: fault},
                timeout=CLIENT_TIMEOUT_SECONDS,
            )
        return clients[fault]

    yield client_for
    for client in clients.values():
        await client.close()


@pytest.fixture
def hf_client(hf_clients: HfClients) -> AsyncInferenceClient:
    return hf_clients(None)


@pytest.fixture(scope="session")
async def openai_client(simulator_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(
        base_url=f"{simulator_url}/v1",
        api_key="unused",
        max_retries=0,
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    async with client:
        yield client


@pytest.fixture
async def http(simulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator_url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
        yield client


@pytest.fixture
def request_id() -> str:
    """An X-Request-Id of the test's own, to ask the simulator what it saw."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def seen(http: httpx.AsyncClient) -> Seen:
    async def attempts(request_id: str) -> list[dict[str, Any]]:
        response = await http.get(f"/simulator/requests/{request_id}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        return response.json()  # type: ignore[no-any-return]

    return attempts
