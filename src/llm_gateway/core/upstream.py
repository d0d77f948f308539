"""What the core needs of an upstream: the one seam it calls, as httpx's client knows only
``BaseTransport``. The app hands in the concrete adapter of the configured kind
(:class:`~llm_gateway.upstream.client.HuggingFaceUpstream`,
:class:`~llm_gateway.upstream.openai.OpenAIUpstream`); the core imports none.

Each call is one attempt for one resolved model id (the core resolves aliases, retries
and falls back); failures arrive as :class:`~llm_gateway.errors.UpstreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from llm_gateway.core.types import (
    Chunk,
    Completion,
    CompletionTask,
    Embeddings,
    EmbeddingTask,
)


class Upstream(Protocol):
    async def complete(self, request: CompletionTask, model: str) -> Completion: ...

    def stream(self, request: CompletionTask, model: str) -> AsyncIterator[Chunk]:
        """The chunks as the upstream sends them, the usage last; the response is released
        when it ends. A stream the upstream ends without finishing raises."""
        ...

    async def embed(self, request: EmbeddingTask, model: str) -> Embeddings: ...
