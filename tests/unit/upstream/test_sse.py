"""One line of an OpenAI-style event stream: its JSON object, or why it is unreadable."""

from __future__ import annotations

import pytest

from llm_gateway.errors import UpstreamBadResponse, UpstreamRejected, UpstreamServerError
from llm_gateway.upstream import sse


@pytest.mark.parametrize(
    "line",
    [
        "data: {",
        "data: [1]",
        "data: " + "[" * 100_000,
        'data: {"a": 1} {}',
        "data: ",
        'data: {"a": nan}',
        "data: {'a': 1}",
    ],
)
def test_an_unreadable_stream_line_is_a_bad_response(line: str) -> None:
    with pytest.raises(UpstreamBadResponse):
        sse.sse_payload(line)


@pytest.mark.parametrize("line", ['data:{"a":1}', 'data:  {"a": 1}\t ', 'data: {"a":1}\r'])
def test_a_frame_is_read_whatever_the_spaces_around_it(line: str) -> None:
    assert sse.sse_payload(line) == {"a": 1}


@pytest.mark.parametrize(
    ("value", "read"),
    [
        # What orjson refuses and the standard library's json takes is taken as before.
        ("NaN", float("nan")),
        ("-Infinity", float("-inf")),
        ("1e400", float("inf")),
        ('"\\ud800"', "\ud800"),
        ('"caf\u00e9 \\u00e9"', "caf\u00e9 \u00e9"),
        ("[1, 2.5, null, true]", [1, 2.5, None, True]),
    ],
)
def test_what_a_frame_holds_is_read_as_the_standard_librarys_json_reads_it(
    value: str, read: object
) -> None:
    frame = sse.sse_payload('data: {"v": 0, "v": ' + value + "}")  # the last one, as json
    assert frame is not None
    assert repr(frame["v"]) == repr(read)  # repr: NaN is not equal to itself


@pytest.mark.parametrize("line", ["", ": keep-alive", "event: message", sse.DONE_LINE])
def test_lines_without_a_frame_are_none(line: str) -> None:
    assert sse.sse_payload(line) is None


def test_an_error_frame_raises_the_upstreams_message_and_code_without_secrets() -> None:
    line = 'data: {"error": {"message": "key sk-secret is over quota", "code": "quota"}}'
    with pytest.raises(UpstreamServerError) as raised:
        sse.sse_payload(line, ("sk-secret",))
    assert raised.value.code == "upstream_generation_error"
    assert "over quota" in str(raised.value)
    assert "[quota]" in str(raised.value)
    assert "sk-secret" not in str(raised.value)


def test_a_validation_error_frame_is_the_clients_fault() -> None:
    line = 'data: {"error": "Input validation error: too long", "error_type": "validation"}'
    with pytest.raises(UpstreamRejected) as raised:
        sse.sse_payload(line)
    assert "too long" in str(raised.value)
