"""The core's answer as a Responses API object: output items, status, usage, and the
request fields the response object echoes.

The first choice's text becomes one ``message`` item with one ``output_text`` part (left
out when the model only called tools), each tool call a ``function_call`` item whose
``call_id`` is the upstream's call id. A ``length`` finish makes the response
``incomplete`` (``max_output_tokens``), as a ``content_filter`` one does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from llm_gateway.core.types import GeneratedChoice, TokenUsage
from llm_gateway.protocol.responses import (
    FunctionTool,
    FunctionToolCall,
    IncompleteDetails,
    IncompleteReason,
    ItemStatus,
    LogProb,
    OtherToolChoice,
    OutputItem,
    OutputMessage,
    OutputTextPart,
    Response,
    ResponseError,
    ResponsesRequest,
    ResponseStatus,
    ResponseUsage,
    TextConfig,
)

# Chat finish reasons that leave a response incomplete, and the reason it gives.
_INCOMPLETE: dict[str, IncompleteReason] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every snapshot of one response shares: its ids, creation time, the model that
    answers and the request it echoes."""

    request_id: str
    created_at: int
    model: str
    body: ResponsesRequest

    @property
    def response_id(self) -> str:
        return f"resp_{self.request_id}"

    def item_id(self, prefix: str, output_index: int) -> str:
        """An output item's id: ``msg_...`` for messages, ``fc_...`` for function calls."""
        return f"{prefix}_{self.request_id}_{output_index}"

    def response(
        self,
        status: ResponseStatus,
        output: list[OutputItem],
        usage: TokenUsage | None = None,
        *,
        finish_reason: str | None = None,
        error: ResponseError | None = None,
    ) -> Response:
        body = self.body
        choice = body.tool_choice
        reason = _INCOMPLETE.get(finish_reason or "")
        if reason is not None and status == "completed":
            status = "incomplete"
        return Response(
            id=self.response_id,
            created_at=self.created_at,
            status=status,
            completed_at=int(time.time()) if status == "completed" else None,
            error=error,
            incomplete_details=None if reason is None else IncompleteDetails(reason=reason),
            instructions=body.instructions,
            max_output_tokens=body.max_output_tokens,
            model=self.model,
            output=output,
            parallel_tool_calls=body.parallel_tool_calls is not False,
            temperature=body.temperature,
            text=body.text or TextConfig(),
            # Refused before the upstream was called (translate.responses_request).
            tool_choice="auto" if choice is None or isinstance(choice, OtherToolChoice) else choice,
            tools=[tool for tool in body.tools or () if isinstance(tool, FunctionTool)],
            top_logprobs=body.top_logprobs,
            top_p=body.top_p,
            usage=None if usage is None else response_usage(usage),
            user=body.user,
            metadata=body.metadata or {},
        )

    def answer(self, choice: GeneratedChoice, usage: TokenUsage) -> Response:
        """The whole response to a request that was not streamed."""
        status = item_status(choice.finish_reason)
        output: list[OutputItem] = []
        if choice.text or not choice.tool_calls:
            part = OutputTextPart(text=choice.text or "", logprobs=logprobs(choice.logprobs))
            output.append(OutputMessage(id=self.item_id("msg", 0), status=status, content=[part]))
        output.extend(
            FunctionToolCall(
                id=self.item_id("fc", index),
                status=status,
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
            )
            for index, call in enumerate(choice.tool_calls, start=len(output))
        )
        return self.response("completed", output, usage, finish_reason=choice.finish_reason)


def wire(response: Response) -> dict[str, Any]:
    """The response object as sent: ``user``, ``usage`` and the text format's optional
    fields left out when they have no value, as the published schema types them without
    null (the other fields it allows as null)."""
    dumped: dict[str, Any] = response.model_dump(by_alias=True)
    for key in ("user", "usage"):
        if dumped[key] is None:
            del dumped[key]
    dumped["text"] = response.text.model_dump(by_alias=True, exclude_none=True)
    return dumped


def item_status(finish_reason: str | None) -> ItemStatus:
    return "incomplete" if finish_reason in _INCOMPLETE else "completed"


def response_usage(usage: TokenUsage) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def logprobs(chat: dict[str, Any] | None) -> list[LogProb]:
    """Chat's ``{"content": [...]}`` log probabilities as the Responses API lists them."""
    return [
        LogProb(
            token=entry["token"],
            logprob=entry["logprob"],
            bytes=_bytes(entry),
            top_logprobs=[
                {"token": top["token"], "logprob": top["logprob"], "bytes": _bytes(top)}
                for top in entry.get("top_logprobs") or ()
            ],
        )
        for entry in (chat or {}).get("content") or ()
    ]


def _bytes(entry: dict[str, Any]) -> list[int]:
    # Required by the published schema; an upstream that sent none gets the token's UTF-8.
    sent = entry.get("bytes")
    return list(sent) if sent is not None else list(entry["token"].encode())
