"""Continuing a broken stream: the request that asks a model to go on from what the
client already has.

When a stream breaks after tokens reached the client, the gateway sends the conversation
again with the partial answer as the assistant's prefill, in the form the model's server
takes (declared per model in the routing table, ``prefill``), and splices the
continuation into the client's stream (:class:`~llm_gateway.core.relay.Relay`):

* ``continue_final_message``: vLLM's and SGLang's form, a final assistant message with
  ``continue_final_message: true`` and ``add_generation_prompt: false`` beside the
  messages (both servers refuse the two together);
* ``prefix``: Mistral's, the final assistant message marked ``"prefix": true``.

A model with neither (``none``, the default) is never asked to continue: the client gets
the failure as the stream's last frame, as before.
"""

from __future__ import annotations

import dataclasses
import enum

from llm_gateway.core.types import CompletionTask


class Prefill(enum.StrEnum):
    NONE = "none"
    CONTINUE_FINAL_MESSAGE = "continue_final_message"
    PREFIX = "prefix"


def prefilled(
    request: CompletionTask, form: Prefill, partial: str, tokens: int
) -> CompletionTask | None:
    """``request`` asking for the rest of an answer that began with ``partial`` (``tokens``
    tokens of it sent); None when the model takes no prefill, the request is a legacy
    completion, or its ``max_tokens`` is already spent."""
    if form is Prefill.NONE or request.prompt is not None or not partial:
        return None
    max_tokens = request.max_tokens
    if max_tokens is not None:
        max_tokens -= tokens
        if max_tokens < 1:
            return None
    message: dict[str, object] = {"role": "assistant", "content": partial}
    extra = dict(request.extra)
    if form is Prefill.PREFIX:
        message["prefix"] = True
    else:
        extra["continue_final_message"] = True
        extra["add_generation_prompt"] = False
    return dataclasses.replace(
        request, messages=[*request.messages, message], extra=extra, max_tokens=max_tokens
    )
