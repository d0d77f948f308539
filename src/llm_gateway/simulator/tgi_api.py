"""The TGI dialect: ``/generate``, ``/generate_stream``, compat ``/``, ``/info``, ``/health``.

``AsyncInferenceClient(base_url=...).text_generation`` posts to ``/`` with ``"stream"`` in
the body, so that route is the one the gateway really uses. Errors use TGI's envelope,
``{"error": ..., "error_type": ...}``, whose ``error_type`` huggingface_hub turns into its
``OverloadedError``, ``ValidationError`` and friends. As in TGI, streams end without
``data: [DONE]``: the last token frame, carrying ``generated_text``, closes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_gateway.faults import Fault, FaultRequest, UnknownFaultError
from llm_gateway.simulator.attempts import Attempt
from llm_gateway.simulator.protocol import GenerateRequest
from llm_gateway.simulator.responses import json_body, json_text
from llm_gateway.simulator.simulation import InvalidRequestError, Simulation, read_request
from llm_gateway.simulator.textmodel import (
    TOKEN_PATTERN,
    Completion,
    FinishReason,
    Token,
    alternatives,
    count_tokens,
)

# TGI's own statuses, error types and messages; 503 comes from the endpoint's proxy in real
# life. TGI has no content filter nor prefill to refuse.
FAULT_ERRORS = {
    Fault.RATE_LIMIT: (429, "overloaded", "Model is overloaded"),
    Fault.SERVER_ERROR: (500, "incomplete_generation", "Request failed during generation"),
    Fault.UNAVAILABLE: (503, "unavailable", "Service Unavailable"),
    Fault.CONTEXT_LENGTH: (
        422,
        "validation",
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= {limit}. "
        "Given: {tokens} `inputs` tokens and {new} `max_new_tokens`",
    ),
}
# What TGI's routes cannot play: the faults above lacks, and a stream without [DONE] (TGI's
# streams never have one).
UNPLAYABLE = frozenset({Fault.CONTENT_FILTER, Fault.REJECT_PREFILL, Fault.NO_DONE})
FINISH_REASONS = {
    FinishReason.LENGTH: "length",
    FinishReason.END_OF_TEXT: "eos_token",
    FinishReason.STOP_SEQUENCE: "stop_sequence",
}
MALFORMED_BODY = b'[{"generated_text":"'
MALFORMED_FRAME = b'data: {"index":0,"token":{"id":\n\n'
T = TypeVar("T")


def error_response(
    status: int, message: str, error_type: str, *, retry_after: int | None = None
) -> Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    body = json_body({"error": message, "error_type": error_type})
    return Response(body, status, headers, media_type="application/json")


async def parsed(request: Request, read: Callable[[bytes], T]) -> tuple[FaultRequest, T] | Response:
    """The request's fault header and its body read by ``read``, or the error refusing
    them, in TGI's envelope (TEI's too): 400 for an unknown fault, 422 for a bad body."""

    def refuse(exc: ValueError) -> Response:
        return error_response(
            400 if isinstance(exc, UnknownFaultError) else 422, str(exc), "validation"
        )

    return await read_request(request, read, refuse)


def fault_before_generation(
    simulation: Simulation,
    requested: FaultRequest,
    attempt: Attempt,
    *,
    prompt_tokens: int = 0,
    new_tokens: int = 0,
    unplayable: frozenset[Fault] = UNPLAYABLE,
) -> tuple[Fault, Response | None]:
    """:meth:`Simulation.fault_before_generation` in TGI's (and TEI's) dialect; a context
    too long is ``prompt_tokens`` plus ``new_tokens``."""

    def status_error(fault: Fault, retry_after: int | None) -> Response:
        status, error_type, message = FAULT_ERRORS[fault]
        if fault is Fault.CONTEXT_LENGTH:
            limit = max(prompt_tokens + new_tokens - 1, 0)
            message = message.format(limit=limit, tokens=prompt_tokens, new=new_tokens)
        return error_response(status, message, error_type, retry_after=retry_after)

    return simulation.fault_before_generation(
        requested,
        attempt,
        status_error=status_error,
        gave_up=error_response(504, "The model did not answer in time.", "timeout"),
        unplayable=unplayable,
    )


class TGIRoutes:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def routes(self) -> list[Route]:
        return [
            Route("/generate", self.generate, methods=["POST"]),
            Route("/generate_stream", self.generate_stream, methods=["POST"]),
            Route("/info", self.info, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
        ]

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def info(self, request: Request) -> Response:
        settings = self.simulation.settings
        payload = {
            "model_id": settings.models[0],
            "model_sha": None,
            "model_dtype": "torch.float16",
            "model_device_type": "cuda",
            "max_best_of": 1,
            "max_stop_sequences": 4,
            "max_input_tokens": settings.max_tokens_limit,
            "max_total_tokens": 2 * settings.max_tokens_limit,
            "router": "llm-gateway-simulator",
            "version": "simulator",
            "sha": None,
            "docker_label": None,
        }
        return Response(json_body(payload), media_type="application/json")

    async def generate(self, request: Request) -> Response:
        return await self._handle(request, stream=False, wrap_in_list=False)

    async def generate_stream(self, request: Request) -> Response:
        return await self._handle(request, stream=True, wrap_in_list=False)

    async def compat_generate(self, request: Request) -> Response:
        # TGI answers its compat route with a one-element list, the shape api-inference used.
        return await self._handle(request, stream=None, wrap_in_list=True)

    async def _handle(
        self, request: Request, *, stream: bool | None, wrap_in_list: bool
    ) -> Response:
        simulation = self.simulation
        read = await parsed(request, GenerateRequest.model_validate_json)
        if isinstance(read, Response):
            return read
        requested_fault, body = read
        try:
            max_tokens = simulation.max_tokens(body.parameters.max_new_tokens)
        except InvalidRequestError as exc:
            return error_response(422, str(exc), "validation")
        streaming = body.stream if stream is None else stream

        # A TGI server serves one model, whatever the request says.
        attempt = Attempt(simulation.settings.models[0], streaming, body.parameters.max_new_tokens)
        fault, answer = fault_before_generation(
            simulation,
            requested_fault,
            attempt,
            prompt_tokens=count_tokens(body.inputs),
            new_tokens=max_tokens,
        )
        if answer is not None:
            return answer

        parameters = body.parameters
        completion = simulation.text.complete(
            body.inputs,
            seed=parameters.seed,
            max_tokens=max_tokens,
            stop=parameters.stop or (),
            include_stop=True,
        )
        details = None
        if parameters.details:
            details = {
                "finish_reason": FINISH_REASONS[completion.finish_reason],
                "generated_tokens": len(completion.tokens),
                "seed": parameters.seed,
            }
        top = parameters.top_n_tokens or 0
        if streaming:
            if details is not None:
                details["input_length"] = count_tokens(body.inputs)
            return self._stream(completion, details, fault, requested_fault, top)

        payload: dict[str, object] = {"generated_text": completion.text}
        if details is not None:
            tokens = [_token_payload(token) for token in completion.tokens]
            prefill = []
            if parameters.decoder_input_details:
                # The prompt's tokens; TGI gives the first no logprob.
                prefill = [
                    {"id": index, "text": text, "logprob": None}
                    for index, text in enumerate(TOKEN_PATTERN.findall(body.inputs))
                ]
            payload["details"] = {**details, "prefill": prefill, "tokens": tokens}
            if top:
                payload["details"]["top_tokens"] = [  # type: ignore[index]
                    [_token_payload(alt) for alt in alternatives(token, top)]
                    for token in completion.tokens
                ]
        return simulation.whole(
            fault,
            requested_fault,
            json_body([payload] if wrap_in_list else payload),
            tokens=len(completion.tokens),
            malformed=MALFORMED_BODY,
        )

    def _stream(
        self,
        completion: Completion,
        details: dict[str, object] | None,
        fault: Fault,
        requested: FaultRequest,
        top: int,
    ) -> Response:
        last_index = len(completion.tokens) - 1
        frames = []
        for index, token in enumerate(completion.tokens):
            if index == last_index:
                generated = json_text(completion.text)
                details_json = "null" if details is None else json_text(details)
            else:
                generated = details_json = "null"
            token_json = (
                f'{{"id":{token.id},"text":{token.text_json},"logprob":{token.logprob!r},'
                '"special":false}'
            )
            top_json = (
                json_text([_token_payload(alt) for alt in alternatives(token, top)])
                if top
                else "null"
            )
            frames.append(
                f'data: {{"index":{index},"token":{token_json},"generated_text":{generated},'
                f'"details":{details_json},"top_tokens":{top_json}}}\n\n'.encode()
            )
        return self.simulation.stream(
            fault,
            requested,
            head=b"",
            tokens=frames,
            tail=b"",
            done=b"",
            bad_frame=MALFORMED_FRAME,
        )


def _token_payload(token: Token) -> dict[str, object]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": False}
