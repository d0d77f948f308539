"""The llama leg's own setup: llama.cpp loads the written models as the tests assume."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import EMBEDDING_MODEL
from tests.llama.model import BOS, IM_END, IM_START, SPACE, WIDTH, vocabulary

pytestmark = pytest.mark.llama


def test_the_server_tokenizes_words_whole_controls_as_one_and_the_rest_by_bytes(
    llama_url: str,
) -> None:
    tokens = vocabulary()[0]

    response = httpx.post(f"{llama_url}/extras/tokenize", json={"input": "hello world\n"})
    controls = httpx.post(f"{llama_url}/extras/tokenize", json={"input": IM_START + IM_END})

    assert response.status_code == 200
    ids = [tokens.index(t) for t in (BOS, f"{SPACE}hello", f"{SPACE}world", "<0x0A>")]
    assert response.json()["tokens"] == ids
    assert controls.json()["tokens"] == [tokens.index(t) for t in (BOS, IM_START, IM_END)]


def test_the_embedding_server_answers_one_mean_pooled_vector_per_input(
    llama_embedding_url: str,
) -> None:
    response = httpx.post(
        f"{llama_embedding_url}/v1/embeddings",
        json={"model": EMBEDDING_MODEL, "input": ["hello world", "the weather in Paris"]},
        timeout=30.0,
    )

    assert response.status_code == 200
    answer = response.json()
    assert [item["index"] for item in answer["data"]] == [0, 1]
    vectors = [item["embedding"] for item in answer["data"]]
    assert [len(vector) for vector in vectors] == [WIDTH, WIDTH]
    assert vectors[0] != vectors[1]
    assert answer["usage"]["prompt_tokens"] > 0
