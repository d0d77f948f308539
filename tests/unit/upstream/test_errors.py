"""What an upstream sends is read as data: headers parsed strictly, messages scrubbed."""

from __future__ import annotations

import pytest

from llm_gateway.upstream.statuses import retry_after_seconds


@pytest.mark.parametrize("value", ["²", "٣", "1.5", "-1", "soon", "", "9" * 20])
def test_an_unreadable_retry_after_reads_as_none(value: str) -> None:
    assert retry_after_seconds(value) is None


def test_a_retry_after_reads_as_seconds_or_a_date() -> None:
    assert retry_after_seconds(" 3 ") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
