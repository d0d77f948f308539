"""What an upstream sends is read as data: headers parsed strictly, messages scrubbed; the
boundary maps what the client library raises, and nothing of ours."""

from __future__ import annotations

import json

import pytest

from llm_gateway.errors import ErrorReason, UpstreamBadResponse, UpstreamRejected
from llm_gateway.upstream.errors import mapped_errors
from llm_gateway.upstream.statuses import from_status, retry_after_seconds


@pytest.mark.parametrize("value", ["²", "٣", "1.5", "-1", "soon", "", "9" * 20])
def test_an_unreadable_retry_after_reads_as_none(value: str) -> None:
    assert retry_after_seconds(value) is None


def test_a_retry_after_reads_as_seconds_or_a_date() -> None:
    assert retry_after_seconds(" 3 ") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("bug", [KeyError("choices"), TypeError("x"), AttributeError("x")])
def test_an_exception_of_ours_crosses_the_boundary_as_it_is(bug: Exception) -> None:
    def misread() -> None:
        raise bug

    with pytest.raises(type(bug)) as raised, mapped_errors():
        misread()

    assert raised.value is bug


@pytest.mark.parametrize("body", ["{", "[" * 100_000])
def test_what_the_client_library_raises_on_an_unreadable_body_is_a_bad_response(
    body: str,
) -> None:
    with pytest.raises(UpstreamBadResponse) as raised, mapped_errors():
        json.loads(body)

    assert raised.value.code == "upstream_bad_response"
    assert raised.value.reason is ErrorReason.BAD_RESPONSE


@pytest.mark.parametrize(
    "body",
    [
        # vLLM and SGLang: OpenAI's words, an HTTP status for a code.
        '{"object":"error","message":"This model\'s maximum context length is 4096 tokens. '
        'However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}',
        # llama.cpp's own server.
        '{"error":{"code":400,"message":"the request exceeds the available context size, '
        'try increasing it","type":"exceed_context_size_error"}}',
        # TGI.
        '{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. '
        'Given: 4000 `inputs` tokens and 200 `max_new_tokens`","error_type":"validation"}',
    ],
)
def test_a_too_long_prompt_in_a_servers_own_words_gets_openais_code(body: str) -> None:
    error = from_status(400, None, body)

    assert isinstance(error, UpstreamRejected)
    assert error.code == "context_length_exceeded"


def test_an_upstreams_own_code_is_kept_over_the_wording() -> None:
    body = '{"error":{"message":"maximum context length is 8","code":"prompt_too_long"}}'

    assert from_status(400, None, body).code == "prompt_too_long"
