"""The request and response shapes that cross HTTP, one module per endpoint family.

Imports nothing but pydantic. Names are re-exported here, where routes import them from.
"""

from llm_gateway.protocol.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCallOut,
    FunctionDelta,
    TextPart,
    ToolCallDelta,
    ToolCallOut,
)
from llm_gateway.protocol.common import (
    ErrorDetail,
    ErrorResponse,
    ModelCard,
    ModelList,
    Usage,
)
from llm_gateway.protocol.completions import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    TextCompletion,
)
from llm_gateway.protocol.embeddings import (
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
)
from llm_gateway.protocol.generate import GenerateRequest, GenerateResponse, GenerateStreamEvent

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "CompletionChoice",
    "CompletionLogprobs",
    "CompletionRequest",
    "Delta",
    "Embedding",
    "EmbeddingList",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "ErrorDetail",
    "ErrorResponse",
    "FunctionCallOut",
    "FunctionDelta",
    "GenerateRequest",
    "GenerateResponse",
    "GenerateStreamEvent",
    "ModelCard",
    "ModelList",
    "ToolCallDelta",
    "ToolCallOut",
    "TextCompletion",
    "TextPart",
    "Usage",
]
