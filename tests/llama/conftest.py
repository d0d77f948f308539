"""The llama leg's servers: llama.cpp's server twice (chat, embeddings), a gateway in front.

Session-scoped: each server loads its model once (a second or two) and answers in
milliseconds after. The server answers one request at a time, so tests stay sequential.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gguf import PoolingType

from llm_gateway.ports import free_port
from tests.helpers import EMBEDDING_MODEL, MODEL, Gateway, start_gateway
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
    """A gateway whose one upstream is the chat server, as an operator would set it up."""
    yield from start_gateway(llama_url, upstream_is_simulator=False, upstream_timeout_seconds=30.0)
