"""Anthropic's Messages API in the core's terms: a request becomes a
:class:`~llm_gateway.core.types.CompletionTask` (OpenAI's chat shape, which every
upstream reads), and an answer becomes Anthropic's message.

Where the two dialects differ:

- ``system`` (a string, or text blocks) is the first message, role ``system``.
- A user turn's ``tool_result`` blocks are ``tool`` messages, ahead of its other blocks
  (OpenAI wants a tool's answer right after the call); an ``is_error`` result is prefixed
  ``Error:``, as no upstream has the flag. An assistant turn's ``tool_use`` blocks are its
  ``tool_calls``, their input as JSON text (a turn of calls alone has no ``content``); its
  ``thinking`` blocks are dropped.
- ``image`` blocks are ``image_url`` parts (base64 as a data: URL); a turn of text blocks
  only is one string, its blocks a line apart.
- ``output_config.format`` (structured output) is a ``json_schema`` response format.
- ``tool_choice`` ``any`` is ``required`` and ``tool`` a named function;
  ``disable_parallel_tool_use`` goes upstream as ``parallel_tool_calls``, and ``top_k``
  unchanged, with the fields the core does not know.
- Finish reasons: ``length`` is ``max_tokens``, ``tool_calls`` (or any other after a tool
  call) ``tool_use``, TGI's ``stop_sequence`` ``stop_sequence``; anything else
  ``end_turn``: OpenAI's ``stop`` does not tell a stop sequence from the model's own end.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from llm_gateway.core.types import Completion, CompletionTask, Endpoint, Origin, estimate_tokens
from llm_gateway.errors import UpstreamBadResponse
from llm_gateway.protocol.anthropic import (
    AnthropicAssistantMessage,
    AnthropicTool,
    AnthropicUsage,
    AnthropicUserMessage,
    CountTokensRequest,
    ImageBlock,
    MessageResponse,
    MessagesRequest,
    OutputFormat,
    StopReason,
    TextBlock,
    TextOut,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceParam,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseOut,
    UrlSource,
)

_STOP_REASONS: dict[str | None, StopReason] = {
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
}


def completion_task(body: MessagesRequest, origin: Origin) -> CompletionTask:
    """The core's request to answer ``body``: its prompt's, and how to sample."""
    prompt = prompt_task(body, origin)
    extra = prompt.extra if body.top_k is None else {**prompt.extra, "top_k": body.top_k}
    return replace(
        prompt,
        stop=body.stop_sequences,
        stream=body.stream,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        extra=extra,
    )


def prompt_task(body: CountTokensRequest, origin: Origin) -> CompletionTask:
    """The core's request of ``body``'s prompt: its messages, tools and tool choice, and
    the fields the core does not know."""
    extra: dict[str, Any] = {}
    choice = body.tool_choice
    serial = None if isinstance(choice, ToolChoiceNone | None) else choice.disable_parallel_tool_use
    if serial is not None:
        extra["parallel_tool_calls"] = not serial
    # An empty list of tools is no tools, and a choice among none means nothing.
    tools = [_tool(tool) for tool in body.tools or ()] or None
    output = body.output_config.format if body.output_config is not None else None
    return CompletionTask(
        origin=origin,
        endpoint=Endpoint.MESSAGES,
        model=body.model,
        messages=_messages(body),
        tools=tools,
        tool_choice=None if tools is None else _tool_choice(choice),
        response_format=None if output is None else _response_format(output),
        extra=extra,
    )


def input_tokens(request: CompletionTask) -> int:
    """The prompt's tokens as the gateway estimates them for its rate limits
    (:func:`estimate_tokens`), tool definitions included: an estimate, since no tokenizer
    runs in the gateway."""
    chars = request.prompt_chars + (len(json.dumps(request.tools)) if request.tools else 0)
    return estimate_tokens(chars)


def message(completion: Completion, message_id: str, stop: list[str] | None) -> MessageResponse:
    choice = completion.choices[0]
    content: list[TextOut | ToolUseOut] = [
        ToolUseOut(id=call.id, name=call.name, input=tool_input(call.arguments))
        for call in choice.tool_calls
    ]
    if choice.text or not content:
        content.insert(0, TextOut(text=choice.text or ""))
    reason, sequence = stop_reason(choice.finish_reason, bool(choice.tool_calls), stop)
    return MessageResponse(
        id=message_id,
        content=content,
        model=completion.model,
        stop_reason=reason,
        stop_sequence=sequence,
        usage=AnthropicUsage(
            input_tokens=completion.usage.prompt_tokens,
            output_tokens=completion.usage.completion_tokens,
        ),
    )


def stop_reason(
    finish_reason: str | None, called: bool, stop: list[str] | None
) -> tuple[StopReason, str | None]:
    """Anthropic's stop reason, and the stop sequence met when the upstream said one was
    and only one was asked for (which one, no upstream tells)."""
    reason = _STOP_REASONS.get(finish_reason) or ("tool_use" if called else "end_turn")
    met = stop[0] if reason == "stop_sequence" and stop is not None and len(stop) == 1 else None
    return reason, met


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as Anthropic's ``input``, which must be a JSON object."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UpstreamBadResponse(
            "The model called a tool with arguments that are not a JSON object.",
            code="upstream_bad_response",
        )
    return value


def _messages(body: CountTokensRequest) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    system = body.system
    if isinstance(system, list):
        system = _joined(system)
    if system:
        sent.append({"role": "system", "content": system})
    for turn in body.messages:
        sent.extend(_user(turn) if isinstance(turn, AnthropicUserMessage) else [_assistant(turn)])
    return sent


def _user(turn: AnthropicUserMessage) -> list[dict[str, Any]]:
    if isinstance(turn.content, str):
        return [{"role": "user", "content": turn.content}]
    sent = [_tool_result(block) for block in turn.content if isinstance(block, ToolResultBlock)]
    parts = [block for block in turn.content if not isinstance(block, ToolResultBlock)]
    if parts or not sent:
        texts = [block for block in parts if isinstance(block, TextBlock)]
        content = _joined(texts) if len(texts) == len(parts) else [_part(p) for p in parts]
        sent.append({"role": "user", "content": content})
    return sent


def _assistant(turn: AnthropicAssistantMessage) -> dict[str, Any]:
    if isinstance(turn.content, str):
        return {"role": "assistant", "content": turn.content}
    texts = [block for block in turn.content if isinstance(block, TextBlock)]
    calls = [
        {
            "id": block.id,
            "type": "function",
            "function": {"name": block.name, "arguments": json.dumps(block.input)},
        }
        for block in turn.content
        if isinstance(block, ToolUseBlock)
    ]
    sent: dict[str, Any] = {"role": "assistant"}
    text = _joined(texts)
    if text or not calls:
        sent["content"] = text
    if calls:
        # A turn of calls alone has no content, not a null one: llama-cpp-python's server
        # refuses a null (a 500), and OpenAI's API takes either.
        sent["tool_calls"] = calls
    return sent


def _tool_result(block: ToolResultBlock) -> dict[str, Any]:
    content = block.content if isinstance(block.content, str) else _joined(block.content)
    if block.is_error:
        content = f"Error: {content}"
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": content}


def _part(block: TextBlock | ImageBlock) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    source = block.source
    if isinstance(source, UrlSource):
        url = source.url
    else:
        url = f"data:{source.media_type};base64,{source.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _joined(blocks: list[TextBlock]) -> str:
    return "\n".join(block.text for block in blocks)


def _tool(tool: AnthropicTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _response_format(output: OutputFormat) -> dict[str, Any]:
    # OpenAI's json_schema format needs a name, Anthropic's has none.
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": output.schema_}}


def _tool_choice(choice: ToolChoiceParam | None) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, ToolChoiceTool):
        return {"type": "function", "function": {"name": choice.name}}
    return "required" if isinstance(choice, ToolChoiceAny) else choice.type
