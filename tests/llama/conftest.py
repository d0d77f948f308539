"""The llama leg's servers: llama.cpp's server twice (chat, embeddings), gateways in front.

Session-scoped: each server loads its model once (a second or two) and answers in
milliseconds after. The server answers one request at a time, so tests stay sequential.
Gateways: the chat server behind each upstream kind (``huggingface``, ``openai``), the
embedding server behind the ``openai`` kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from gguf import PoolingType

from llm_gateway.ports import free_port
from tests.helpers import EMBEDDING_MODEL, KINDS, MODEL, Gateway, either_kind, start_gateway
from tests.llama.model import write_model
from tests.llama.server import LlamaServer, server_python
from tests.servers import started


@pytest.fixture(scope="session")
def llama_python() -> Path:
    return server_python()


@pytest.fixture(scope="session")
def llama_url(llama_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chat server, serving the tiny llama as ``MODEL``: the id the gateway sends."""
    model = write_model(tmp_path_factory.mktemp("llama") / "chat.gguf")
    with started(LlamaServer(llama_python, model, MODEL, free_port())) as server:
        yield server.url


@pytest.fixture(scope="session")
def llama_embedding_url(
    llama_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The embedding server (``--embedding true``), the model mean-pooled."""
    model = tmp_path_factory.mktemp("llama") / "embedding.gguf"
    write_model(model, pooling=PoolingType.MEAN)
    server = LlamaServer(llama_python, model, EMBEDDING_MODEL, free_port(), embedding=True)
    with started(server):
        yield server.url


@pytest.fixture(scope="session")
def llama_gateway(llama_url: str) -> Iterator[Gateway]:
    """The chat server behind the default kind, ``huggingface`` (InferenceClient)."""
    yield from in_front(llama_url, "huggingface")


@pytest.fixture(scope="session")
def llama_openai_gateway(llama_url: str) -> Iterator[Gateway]:
    """The chat server behind the ``openai`` kind: OpenAI's own routes, the gateway's relay."""
    yield from in_front(llama_url, "openai")


@pytest.fixture(scope="session")
def llama_embedding_gateway(llama_embedding_url: str) -> Iterator[Gateway]:
    """The embedding server behind the ``openai`` kind."""
    yield from in_front(llama_embedding_url, "openai")


@pytest.fixture(params=KINDS)
def either_gateway(
    request: pytest.FixtureRequest, llama_gateway: Gateway, llama_openai_gateway: Gateway
) -> Gateway:
    """The chat server behind the upstream kind the test is parametrized with."""
    return either_kind(request, llama_gateway, llama_openai_gateway)


@pytest.fixture(scope="session")
def openai_sdk() -> Iterator[Callable[[str], openai.OpenAI]]:
    """The openai SDK on a server's or a gateway's URL: one client a URL, without retries."""
    clients: dict[str, openai.OpenAI] = {}

    def client(url: str) -> openai.OpenAI:
        if url not in clients:
            clients[url] = openai.OpenAI(
                base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30.0
            )
        return clients[url]

    yield client
    for each in clients.values():
        each.close()


def in_front(url: str, kind: str) -> Iterator[Gateway]:
    """A gateway of the upstream ``kind`` in front of a real server: no simulator (no fault
    headers sent), and time for its slowest answer (a second or two on a loaded machine)."""
    return start_gateway(
        url, upstream_api=kind, upstream_is_simulator=False, upstream_timeout_seconds=30.0
    )
