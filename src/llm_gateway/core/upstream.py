"""What the core needs of an upstream, whichever kind the app wires in (``huggingface``:
:class:`llm_gateway.upstream.client.Upstream`; ``openai``:
:class:`llm_gateway.upstream.openai.OpenAIUpstream`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
)


class Upstream(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def complete(self, request: CompletionRequest, model: str) -> Completion: ...

    def stream(self, request: CompletionRequest, model: str) -> AsyncIterator[Chunk]:
        """The answer's chunks; a stream that ends without finishing raises."""
        ...

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings: ...
