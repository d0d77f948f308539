"""The chat request as a Hugging Face upstream takes it, and what no such upstream can serve.

Everything OpenAI's request schema allows is accepted (``protocol/chat.py``); what a
Hugging Face chat route cannot serve at all is refused here, before any upstream call,
with a 400 ``unsupported_feature`` naming the field: audio and file content parts, audio
output, custom tools, web search and the deprecated function calling (``functions``,
``function_call``: the gateway answers tool calls, which those clients do not read).
The rest is translated: the developer role becomes system, the deprecated function role
a tool message, a refusal in an earlier answer its text, ``allowed_tools`` the allowed
tools alone.
"""

from __future__ import annotations

from typing import Any, NoReturn

from llm_gateway.errors import InvalidRequest
from llm_gateway.protocol import ChatCompletionRequest, ChatMessage, TextPart
from llm_gateway.protocol.chat import (
    AllowedToolsChoice,
    AssistantTurn,
    AudioPart,
    CustomTool,
    CustomToolCall,
    FilePart,
    FunctionMessage,
    NamedCustomChoice,
    RefusalPart,
)


def refuse_unservable(body: ChatCompletionRequest) -> None:
    """Raises a 400 for the first feature of ``body`` no Hugging Face upstream serves."""
    extra = body.model_extra or {}
    for message in body.messages:
        for part in message.content if isinstance(message.content, list) else ():
            if isinstance(part, AudioPart | FilePart):
                refuse(f"{part.type} content parts", "no Hugging Face chat route takes them")
        if isinstance(message, AssistantTurn) and any(
            isinstance(call, CustomToolCall) for call in message.tool_calls or ()
        ):
            refuse("custom tool calls", "custom tools are OpenAI's")
    if any(isinstance(tool, CustomTool) for tool in body.tools or ()):
        refuse("custom tools", "custom tools are OpenAI's", "tools")
    if isinstance(body.tool_choice, NamedCustomChoice):
        refuse("a custom tool choice", "custom tools are OpenAI's", "tool_choice")
    if extra.get("audio") is not None or "audio" in (extra.get("modalities") or ()):
        refuse("audio output", "no Hugging Face chat route answers audio", "audio")
    if extra.get("web_search_options") is not None:
        refuse("web search", "no Hugging Face chat route searches", "web_search_options")
    for field in ("functions", "function_call"):
        if extra.get(field) is not None:
            refuse(
                f"`{field}` (deprecated function calling)",
                "the gateway answers tool calls; use `tools` and `tool_choice`",
                field,
            )


def refuse(feature: str, why: str, param: str = "messages") -> NoReturn:
    raise InvalidRequest(
        f"The gateway does not support {feature}: {why}.", code="unsupported_feature", param=param
    )


def upstream_message(message: ChatMessage) -> dict[str, Any]:
    """The message as sent upstream: the developer role as system (Hugging Face's chat
    templates know no other), the function role as tool, text-only parts (a refusal's
    included) joined into one string, null keys left out."""
    sent = message.model_dump(exclude_none=True, by_alias=True)
    if message.role == "developer":
        sent["role"] = "system"
    elif isinstance(message, FunctionMessage):
        sent.update(role="tool", content=message.content or "")
    content = message.content
    if isinstance(content, list) and all(isinstance(p, TextPart | RefusalPart) for p in content):
        sent["content"] = "".join(
            part.text if isinstance(part, TextPart) else part.refusal
            for part in content
            if isinstance(part, TextPart | RefusalPart)
        )
    if isinstance(message, AssistantTurn) and message.refusal is not None:
        # What the model said, when it refused: its text, to a template.
        del sent["refusal"]
        sent["content"] = sent.get("content") or message.refusal
    return sent


def upstream_tools(body: ChatCompletionRequest) -> tuple[list[dict[str, Any]] | None, Any]:
    """The tools and tool choice sent upstream; ``allowed_tools`` as the allowed tools
    alone, its mode the choice."""
    tools = [tool.model_dump(exclude_none=True) for tool in body.tools or ()]
    choice = body.tool_choice
    if isinstance(choice, AllowedToolsChoice):
        allowed = {_name(tool.get("function")) for tool in choice.allowed_tools.tools}
        tools = [tool for tool in tools if tool["function"]["name"] in allowed]
        return tools or None, choice.allowed_tools.mode
    return tools or None, dumped(choice)


def _name(function: Any) -> Any:
    return function.get("name") if isinstance(function, dict) else None


def dumped(value: Any) -> Any:
    return (
        value.model_dump(exclude_none=True, by_alias=True)
        if hasattr(value, "model_dump")
        else value
    )
