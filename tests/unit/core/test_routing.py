"""The core's router: a model name to its route, its fallbacks in order, its cap applied."""

from __future__ import annotations

from typing import cast

import pytest

from llm_gateway.core.routing import ModelRoute, Router
from llm_gateway.core.types import CompletionTask, EmbeddingTask, Endpoint, ModelKind, Origin
from llm_gateway.core.upstream import Upstream
from llm_gateway.errors import InvalidRequest, ModelNotFound

# The router only hands the upstreams back: any object stands for one here.
UPSTREAMS = {name: cast(Upstream, object()) for name in ("vllm", "hf")}


def chat(model: str | None, max_tokens: int | None = None) -> CompletionTask:
    return CompletionTask(
        origin=Origin("r1"), endpoint=Endpoint.CHAT_COMPLETIONS, model=model, max_tokens=max_tokens
    )


ROUTER = Router(
    [
        ModelRoute("small", "vllm", "org/small", fallbacks=("medium", "large"), max_tokens=64),
        ModelRoute("medium", "hf", "org/medium", fallbacks=("large", "tiny")),
        ModelRoute("large", "hf", "org/large", aliases=("big",)),
        ModelRoute("tiny", "vllm", "org/tiny"),
        ModelRoute("e5", "vllm", "org/e5", ModelKind.EMBEDDING),
    ],
    UPSTREAMS,
)


def test_a_name_or_an_alias_resolves_to_its_model_and_upstream() -> None:
    route = ROUTER.resolve(chat("big"))

    assert (route.model.name, route.model.model_id) == ("large", "org/large")
    assert route.upstream is UPSTREAMS["hf"]
    assert ROUTER.resolve(chat(None)).model.name == "small"
    assert ROUTER.resolve(EmbeddingTask(Origin("r2"), None, ["x"])).model.name == "e5"


def test_fallbacks_are_tried_depth_first_each_model_once() -> None:
    chain = ROUTER.chain(ROUTER.resolve(chat("small")))

    assert [route.model.name for route in chain] == ["small", "medium", "large", "tiny"]


def test_a_cap_bounds_what_is_asked_and_fills_in_what_is_not() -> None:
    route = ROUTER.resolve(chat("small"))

    assert route.capped(chat("small", 1000)).max_tokens == 64
    assert route.capped(chat("small")).max_tokens == 64
    asked = chat("small", 10)
    assert route.capped(asked) is asked


def test_a_model_of_the_other_kind_is_a_400_and_an_unknown_one_a_404() -> None:
    with pytest.raises(InvalidRequest, match="'e5' is not a chat model"):
        ROUTER.resolve(chat("e5"))
    with pytest.raises(ModelNotFound, match="Available: big, large, medium, small, tiny"):
        ROUTER.resolve(chat("mistral"))


def test_a_table_without_embedding_models_answers_embeddings_with_a_404() -> None:
    router = Router([ModelRoute("small", "vllm", "org/small")], UPSTREAMS)

    with pytest.raises(ModelNotFound, match="serves no embedding model"):
        router.resolve(EmbeddingTask(Origin("r2"), None, ["x"]))
    assert router.prices == {}
