"""A Responses API request as the core's completion request: the fields of a chat one.

``instructions`` become the first (system) message and ``input`` the rest: messages keep
their role (``developer`` goes upstream as ``system``, as on the chat door, and system
messages in a row are joined into one, as Mistral's chat templates want), a run of
``function_call`` items becomes one assistant turn's ``tool_calls`` (joined to the
assistant message just before it, if any), and each ``function_call_output`` a tool
message. ``text.format`` becomes ``response_format``, ``max_output_tokens`` ``max_tokens``.

Refused with a 400 naming what: what needs OpenAI's stored state (the gateway keeps none),
built-in tools (the upstream models run no tools of their own), files.
"""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import InvalidRequest
from llm_gateway.protocol.chat import JsonObjectFormat
from llm_gateway.protocol.responses import (
    ContentPart,
    FunctionCall,
    FunctionCallOutput,
    FunctionChoice,
    FunctionTool,
    InputFile,
    InputImage,
    InputItem,
    JsonSchemaFormat,
    Message,
    OtherItem,
    Refusal,
    ResponsesRequest,
)

LOGPROBS = "message.output_text.logprobs"
# Chat's image detail levels; OpenAI's "original" is left to the upstream's default.
_DETAILS = ("auto", "low", "high")


def completion_fields(body: ResponsesRequest) -> dict[str, Any]:
    """The keyword fields of the core's ``CompletionTask`` (origin, model and stream aside)."""
    _refuse_stored_state(body)
    logprobs = LOGPROBS in (body.include or ())
    extra = dict(body.model_extra or {})
    if body.parallel_tool_calls is not None:
        # Not a parameter of InferenceClient's: it travels with the unknown fields.
        extra["parallel_tool_calls"] = body.parallel_tool_calls
    return {
        "messages": messages(body),
        "max_tokens": body.max_output_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "tools": _tools(body),
        "tool_choice": _tool_choice(body),
        "response_format": _response_format(body),
        "logprobs": logprobs or None,
        "top_logprobs": body.top_logprobs if logprobs else None,
        "extra": extra,
    }


def _refuse_stored_state(body: ResponsesRequest) -> None:
    stored = {
        "previous_response_id": body.previous_response_id is not None,
        "conversation": body.conversation is not None,
        "prompt": body.prompt is not None,
        "background": bool(body.background),
    }
    for field, sent in stored.items():
        if sent:
            raise InvalidRequest(
                f"`{field}` needs responses, conversations or prompts stored on the server; "
                "this gateway is stateless and stores none. Send the whole conversation in "
                "`input` instead.",
                code="unsupported_parameter",
                param=field,
            )


def messages(body: ResponsesRequest) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    if body.instructions is not None:
        sent.append({"role": "system", "content": body.instructions})
    if isinstance(body.input, str):
        sent.append({"role": "user", "content": body.input})
        return sent
    for index, item in enumerate(body.input):
        _add(sent, item, f"input[{index}]")
    return sent


def _add(sent: list[dict[str, Any]], item: InputItem, where: str) -> None:
    if isinstance(item, Message):
        role = "system" if item.role == "developer" else item.role
        content = _content(item.content, where)
        last: dict[str, Any] = sent[-1] if sent else {"role": None, "content": None}
        joined = isinstance(content, str) and isinstance(last.get("content"), str)
        if role == last["role"] == "system" and joined:
            # Mistral's chat templates take one system message, and instructions are one.
            last["content"] = f"{last['content']}\n\n{content}"
        else:
            sent.append({"role": role, "content": content})
    elif isinstance(item, FunctionCall):
        call = {
            "id": item.call_id,
            "type": "function",
            "function": {"name": item.name, "arguments": item.arguments},
        }
        turn = sent[-1] if sent and sent[-1]["role"] == "assistant" else None
        if turn is None:
            sent.append({"role": "assistant", "tool_calls": [call]})
        else:
            turn.setdefault("tool_calls", []).append(call)
    elif isinstance(item, FunctionCallOutput):
        output = item.output
        content = output if isinstance(output, str) else "".join(part.text for part in output)
        sent.append({"role": "tool", "tool_call_id": item.call_id, "content": content})
    elif isinstance(item, OtherItem):
        raise InvalidRequest(
            f"Input items of type {item.type!r} are not supported: the gateway takes "
            "messages, function_call and function_call_output items (item references need "
            "stored responses, and built-in tool calls run on OpenAI's side).",
            code="unsupported_input",
            param=f"{where}.type",
        )
    # A reasoning item: chat models take none back, so it is left out.


def _content(content: str | list[ContentPart], where: str) -> str | list[dict[str, Any]]:
    """A string, or chat's content parts: text-only lists joined into one string, as the
    chat door sends them (Hugging Face's chat templates want strings)."""
    if isinstance(content, str):
        return content
    parts = [_part(part, f"{where}.content[{index}]") for index, part in enumerate(content)]
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def _part(part: ContentPart, where: str) -> dict[str, Any]:
    if isinstance(part, InputImage):
        if part.image_url is None:
            raise InvalidRequest(
                "An input_image needs an image_url: a file_id names a file stored by "
                "OpenAI, and this gateway stores none.",
                code="unsupported_input",
                param=f"{where}.image_url",
            )
        image: dict[str, Any] = {"url": part.image_url}
        if part.detail in _DETAILS:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, InputFile):
        raise InvalidRequest(
            "input_file parts are not supported: no Hugging Face chat route takes files.",
            code="unsupported_input",
            param=where,
        )
    text = part.refusal if isinstance(part, Refusal) else part.text
    return {"type": "text", "text": text}


def _tools(body: ResponsesRequest) -> list[dict[str, Any]] | None:
    if body.tools is None:
        return None
    tools = []
    for index, tool in enumerate(body.tools):
        if not isinstance(tool, FunctionTool):
            raise InvalidRequest(
                f"The tool type {tool.type!r} is not supported: the gateway offers function "
                "tools only. Built-in tools (web search, file search, code interpreter, "
                "computer use, image generation, MCP, shell) run on OpenAI's side.",
                code="unsupported_tool",
                param=f"tools[{index}]",
            )
        function = tool.model_dump(exclude_none=True, exclude={"type"})
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(body: ResponsesRequest) -> str | dict[str, Any] | None:
    choice = body.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "function": {"name": choice.name}}
    raise InvalidRequest(
        f"A tool_choice of type {choice.type!r} is not supported: the gateway offers "
        "none, auto, required, or a function by name.",
        code="unsupported_tool",
        param="tool_choice",
    )


def _response_format(body: ResponsesRequest) -> dict[str, Any] | None:
    kind = None if body.text is None else body.text.format
    if isinstance(kind, JsonSchemaFormat):
        schema = kind.model_dump(exclude_none=True, exclude={"type"}, by_alias=True)
        return {"type": "json_schema", "json_schema": schema}
    if isinstance(kind, JsonObjectFormat):
        return {"type": "json_object"}
    return None
