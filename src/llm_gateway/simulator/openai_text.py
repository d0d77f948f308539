"""OpenAI's other routes: ``POST /v1/completions`` (legacy text completions) and
``POST /v1/embeddings``, as vLLM, llama.cpp and TEI serve them.

The same text model, vectors, faults and pacing as the chat route and the TGI and TEI
routes, in OpenAI's shapes: a completion is one choice per prompt (the stop sequence
dropped, as OpenAI does; ``echo`` puts the prompt first), streamed as ``text_completion``
frames closed by ``data: [DONE]``, with usage when ``stream_options.include_usage``
asks; embeddings come as lists of floats, or base64 of little-endian float32 values.
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.faults import Fault, FaultRequest
from llm_gateway.simulator.attempts import Attempt
from llm_gateway.simulator.openai_api import (
    DONE_FRAME,
    MALFORMED_BODY,
    MALFORMED_FRAME,
    error_response,
    fault_before_generation,
    parsed,
)
from llm_gateway.simulator.protocol import CompletionRequest, EmbeddingsRequest
from llm_gateway.simulator.responses import json_body, json_text
from llm_gateway.simulator.simulation import NOT_FOR_EMBEDDINGS, InvalidRequestError, Simulation
from llm_gateway.simulator.tei_api import vector
from llm_gateway.simulator.textmodel import (
    Completion,
    FinishReason,
    alternatives,
    count_tokens,
)


class OpenAITextRoutes:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def routes(self) -> list[Route]:
        return [
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def completions(self, request: Request) -> Response:
        simulation = self.simulation
        read = await parsed(request, CompletionRequest.model_validate_json)
        if isinstance(read, Response):
            return read
        requested_fault, body = read
        try:
            max_tokens = simulation.max_tokens(body.max_tokens)
        except InvalidRequestError as exc:
            return error_response(400, str(exc), "invalid_request_error", "invalid_request")
        prompts = body.prompts()
        prompt_tokens = sum(count_tokens(prompt) for prompt in prompts)
        fault, answer = fault_before_generation(
            simulation,
            requested_fault,
            Attempt(body.model, body.stream, body.max_tokens),
            prompt_tokens=prompt_tokens,
            param="prompt",
        )
        if answer is not None:
            return answer

        completions = [
            simulation.text.complete(
                prompt, seed=body.seed, max_tokens=max_tokens, stop=body.stop_sequences()
            )
            for prompt in prompts
        ]
        completion_tokens = sum(len(c.tokens) for c in completions)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        envelope = (
            f'{{"id":"cmpl-{uuid.uuid4().hex}","object":"text_completion",'
            f'"created":{int(time.time())},"model":{json_text(body.model)}'
        )
        echoes = prompts if body.echo else [""] * len(prompts)
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            return self._stream(
                envelope,
                completions,
                echoes,
                usage if include_usage else None,
                fault,
                requested_fault,
                body,
            )
        choices = [
            {
                "index": index,
                "text": echo + completion.text,
                "logprobs": _logprobs(completion, body.logprobs, len(echo)),
                "finish_reason": _finish(completion),
            }
            for index, (echo, completion) in enumerate(zip(echoes, completions, strict=True))
        ]
        payload = f'{envelope},"choices":{json_text(choices)},"usage":{json_text(usage)}}}'
        return simulation.whole(
            fault,
            requested_fault,
            payload.encode(),
            tokens=completion_tokens,
            malformed=MALFORMED_BODY,
        )

    def _stream(
        self,
        envelope: str,
        completions: list[Completion],
        echoes: list[str],
        usage: dict[str, int] | None,
        fault: Fault,
        requested: FaultRequest,
        body: CompletionRequest,
    ) -> Response:
        def frame(index: int, text: str, logprobs: Any, reason: str | None) -> bytes:
            choice = {"index": index, "text": text, "logprobs": logprobs, "finish_reason": reason}
            return f'data: {envelope},"choices":[{json_text(choice)}]}}\n\n'.encode()

        tokens = []
        for index, (echo, completion) in enumerate(zip(echoes, completions, strict=True)):
            if echo:
                tokens.append(frame(index, echo, None, None))
            offset = len(echo)
            for token in completion.tokens:
                piece = Completion((token,), token.text, completion.finish_reason)
                tokens.append(
                    frame(index, token.text, _logprobs(piece, body.logprobs, offset), None)
                )
                offset += len(token.text)
            tokens.append(frame(index, "", None, _finish(completion)))
        tail = (
            b""
            if usage is None
            else f'data: {envelope},"choices":[],"usage":{json_text(usage)}}}\n\n'.encode()
        )
        return self.simulation.stream(
            fault,
            requested,
            head=b"",
            tokens=tokens,
            tail=tail,
            done=DONE_FRAME,
            bad_frame=MALFORMED_FRAME,
        )

    async def embeddings(self, request: Request) -> Response:
        simulation = self.simulation
        size = simulation.settings.embedding_dimensions
        read = await parsed(request, EmbeddingsRequest.model_validate_json)
        if isinstance(read, Response):
            return read
        requested_fault, body = read
        if body.dimensions is not None and body.dimensions > size:
            message = f"dimensions must be at most {size}"
            return error_response(400, message, "invalid_request_error", "invalid_request")
        fault, answer = fault_before_generation(
            simulation,
            requested_fault,
            Attempt(body.model, False, None),
            unplayable=NOT_FOR_EMBEDDINGS,
        )
        if answer is not None:
            return answer
        batch: list[str | list[int]] = list(body.batch())
        dimensions = body.dimensions or size
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": _encoded(vector(item, dimensions), body.encoding_format),
            }
            for index, item in enumerate(batch)
        ]
        tokens = sum(count_tokens(item) if isinstance(item, str) else len(item) for item in batch)
        payload = {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        # An embedding takes the time of one token.
        return simulation.whole(
            fault, requested_fault, json_body(payload), tokens=1, malformed=MALFORMED_BODY
        )


def _encoded(values: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "float":
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _finish(completion: Completion) -> str:
    return "length" if completion.finish_reason is FinishReason.LENGTH else "stop"


def _logprobs(completion: Completion, top: int | None, offset: int) -> dict[str, Any] | None:
    """OpenAI's legacy logprobs of the generated tokens, offsets counted from ``offset``."""
    if top is None:
        return None
    offsets = []
    for token in completion.tokens:
        offsets.append(offset)
        offset += len(token.text)
    return {
        "tokens": [token.text for token in completion.tokens],
        "token_logprobs": [token.logprob for token in completion.tokens],
        "top_logprobs": [
            {alt.text: alt.logprob for alt in alternatives(token, top)}
            for token in completion.tokens
        ]
        if top
        else None,
        "text_offset": offsets,
    }
