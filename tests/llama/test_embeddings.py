"""Embeddings in front of llama.cpp's embedding server (``--embedding true``, mean pooling),
through the ``openai`` kind: the server's own vectors, as floats or base64, and its usage.

llama-cpp-python ignores ``encoding_format`` and answers floats; the gateway encodes them
when the client asks for base64 (little-endian float32, as OpenAI sends them). The
``huggingface`` kind sends embeddings to TEI's root route instead, which this server does
not serve (issue 20): it is not tested here.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import numpy as np
import openai
import pytest

from tests.helpers import EMBEDDING_MODEL, Gateway
from tests.llama.model import WIDTH

pytestmark = pytest.mark.llama

INPUTS = ["hello world", "the weather in Paris", "Rome"]
EMBEDDINGS = {"model": EMBEDDING_MODEL, "api": "embeddings"}


def test_embeddings_through_the_gateway_are_the_servers_vectors_with_its_usage(
    openai_sdk: Callable[[str], openai.OpenAI],
    llama_embedding_url: str,
    llama_embedding_gateway: Gateway,
) -> None:
    direct, through = openai_sdk(llama_embedding_url), openai_sdk(llama_embedding_gateway.url)
    before = llama_embedding_gateway.sample("llm_gateway_prompt_tokens_total", **EMBEDDINGS)

    answer = direct.embeddings.create(model=EMBEDDING_MODEL, input=INPUTS, encoding_format="float")
    relayed = through.embeddings.create(model="e5", input=INPUTS, encoding_format="float")

    vectors = [item.embedding for item in answer.data]
    assert [len(vector) for vector in vectors] == [WIDTH] * len(INPUTS)
    assert [item.embedding for item in relayed.data] == vectors
    assert [item.index for item in relayed.data] == [0, 1, 2]
    assert relayed.model == EMBEDDING_MODEL
    assert relayed.usage == answer.usage
    assert llama_embedding_gateway.sample("llm_gateway_prompt_tokens_total", **EMBEDDINGS) == (
        before + answer.usage.prompt_tokens
    )


def test_base64_embeddings_through_the_gateway_decode_to_the_servers_floats(
    llama_embedding_url: str, llama_embedding_gateway: Gateway
) -> None:
    successes = {**EMBEDDINGS, "stream": "false", "outcome": "success"}
    before = llama_embedding_gateway.sample("llm_gateway_requests_total", **successes)
    body = {"input": INPUTS, "encoding_format": "base64"}

    direct = httpx.post(
        f"{llama_embedding_url}/v1/embeddings", json={**body, "model": EMBEDDING_MODEL}, timeout=30
    )
    through = httpx.post(
        f"{llama_embedding_gateway.url}/v1/embeddings", json={**body, "model": "e5"}, timeout=30
    )

    assert (direct.status_code, through.status_code) == (200, 200)
    floats = [item["embedding"] for item in direct.json()["data"]]
    assert all(isinstance(vector, list) for vector in floats)  # the server's answer: floats
    encoded = [item["embedding"] for item in through.json()["data"]]
    decoded = [np.frombuffer(base64.b64decode(text), dtype="<f4").tolist() for text in encoded]
    assert decoded == floats
    assert through.json()["usage"] == direct.json()["usage"]
    assert llama_embedding_gateway.sample("llm_gateway_requests_total", **successes) == before + 1
