"""What the LangChain tests of both dialects share: a tool, a round trip through it, and a
stream merged as LangChain merges it.

Imported by the client test modules only (not by ``tests.helpers``): LangChain is not
installed where the suite runs at the lowest versions.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import tool


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def assert_tool_round_trip(model: BaseChatModel) -> None:
    """``model`` with ``multiply`` bound calls it, then answers its result in words."""
    bound = model.bind_tools([multiply])

    asked = bound.invoke([HumanMessage("What is 6 times 7?")])
    (call,) = asked.tool_calls  # type: ignore[attr-defined]
    answer = bound.invoke(
        [HumanMessage("What is 6 times 7?"), asked, ToolMessage("42", tool_call_id=call["id"])]
    )

    assert call["name"] == "multiply"
    assert set(call["args"]) == {"a", "b"}
    assert isinstance(call["args"]["a"], int)
    assert answer.content and not answer.tool_calls  # type: ignore[attr-defined]


def merged_stream(model: Runnable[str, object], prompt: str) -> AIMessageChunk:
    """The chunks ``model`` streams for ``prompt``, added up into one."""
    merged: AIMessageChunk | None = None
    for chunk in model.stream(prompt):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    return merged


def assert_streamed_tool_call(model: BaseChatModel) -> None:
    """``model`` told to call ``multiply`` streams the call, its arguments typed."""
    merged = merged_stream(model.bind_tools([multiply], tool_choice="multiply"), "6 times 7?")

    (call,) = merged.tool_calls
    assert call["name"] == "multiply"
    assert isinstance(call["args"]["b"], int)
