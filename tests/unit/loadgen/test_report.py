"""The summary: counts add up, percentiles are the textbook ones, text and JSON agree."""

from __future__ import annotations

import json

import pytest

from llm_gateway.core.types import Endpoint
from llm_gateway.loadgen.client import Result
from llm_gateway.loadgen.report import Progress, Summary, percentiles, render, summarize

GENERATE, CHAT = Endpoint.GENERATE, Endpoint.CHAT_COMPLETIONS


def result(endpoint: Endpoint = GENERATE, **fields: object) -> Result:
    values: dict[str, object] = {
        "model": "a",
        "stream": False,
        "fault": None,
        "status": 200,
        "error": None,
        "latency": 1.0,
    }
    return Result(endpoint=endpoint, **{**values, **fields})  # type: ignore[arg-type]


def summary_of(results: list[Result], **overrides: object) -> Summary:
    options: dict[str, object] = {
        "url": "http://gw",
        "target_rate": 10.0,
        "elapsed_seconds": 3.0,
        "sending_seconds": 2.0,
        "arrived": len(results),
        "skipped": 0,
        "cancelled": 0,
    }
    return summarize(results, **{**options, **overrides})  # type: ignore[arg-type]


def test_percentiles_interpolate_between_observations() -> None:
    values = [float(v) for v in range(1, 101)]

    cuts = percentiles(values)

    assert cuts == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})


def test_percentiles_of_one_value_are_that_value_and_of_none_are_absent() -> None:
    assert percentiles([0.3]) == {"p50": 0.3, "p95": 0.3, "p99": 0.3}
    assert percentiles([]) == {}


def test_percentiles_stay_within_the_observed_range() -> None:
    cuts = percentiles([1.0, 2.0])

    assert all(1.0 <= value <= 2.0 for value in cuts.values())


RESULTS = [
    result(GENERATE, latency=0.1, prompt_tokens=4, completion_tokens=10),
    result(GENERATE, latency=0.3, stream=True, time_to_first_byte=0.05, completion_tokens=6),
    result(CHAT, latency=0.2, model="b", completion_tokens=8),
    result(CHAT, status=429, error="upstream_rate_limited", fault="rate_limit", latency=0.01),
    result(
        CHAT,
        stream=True,
        status=200,
        error="upstream_unreachable",
        fault="drop",
        mid_stream=True,
        time_to_first_byte=0.02,
        latency=0.5,
    ),
    result(GENERATE, status=None, error="client_timeout", fault="hang", latency=9.0),
]


def test_counts_add_up_by_endpoint_status_error_and_fault() -> None:
    summary = summary_of(RESULTS, arrived=8, skipped=2)

    assert (summary.arrived, summary.sent, summary.skipped) == (8, 6, 2)
    assert (summary.ok, summary.failed) == (3, 3)
    assert summary.statuses == {
        "chat_completions": {"200": 2, "429": 1},
        "generate": {"200": 2, "no_response": 1},
    }
    assert sum(sum(counts.values()) for counts in summary.statuses.values()) == summary.sent
    assert summary.models == {"a": 5, "b": 1}
    assert summary.errors == {
        "client_timeout": 1,
        "upstream_rate_limited": 1,
        "upstream_unreachable": 1,
    }
    assert summary.mid_stream_errors == 1
    assert summary.faults == {"drop": 1, "hang": 1, "rate_limit": 1}
    assert summary.tokens == {"prompt": 4, "completion": 24}
    assert summary.achieved_rate == 3.0


def test_cancelled_requests_count_as_sent_but_not_as_answered() -> None:
    summary = summary_of(RESULTS[:2], cancelled=3)

    assert (summary.sent, summary.ok, summary.failed, summary.cancelled) == (5, 2, 0, 3)


def test_latency_covers_successes_only_overall_and_per_endpoint() -> None:
    summary = summary_of(RESULTS)

    assert summary.latency["all"].count == 3
    assert summary.latency["all"].percentiles["p50"] == pytest.approx(0.2)
    assert summary.latency["all"].max == pytest.approx(0.3)
    assert summary.latency["generate"].count == 2
    assert summary.latency["chat_completions"].percentiles["p99"] == pytest.approx(0.2)


def test_time_to_first_byte_covers_successful_streams_only() -> None:
    summary = summary_of(RESULTS)

    assert summary.time_to_first_byte["all"].count == 1
    assert summary.time_to_first_byte["generate"].max == pytest.approx(0.05)
    assert summary.time_to_first_byte["chat_completions"].count == 0


def test_the_json_summary_carries_every_count() -> None:
    data = json.loads(json.dumps(summary_of(RESULTS).to_dict()))

    assert data["sent"] == 6
    assert data["achieved_rate"] == 3.0
    assert data["errors"]["client_timeout"] == 1
    assert data["latency"]["all"]["percentiles"]["p95"] > 0
    assert data["time_to_first_byte"]["chat_completions"] == {
        "count": 0,
        "percentiles": {},
        "max": None,
    }


def test_the_text_summary_shows_statuses_errors_and_percentiles() -> None:
    text = render(summary_of(RESULTS))

    assert "6 sent in 2.0 s (3.0/s, target 10/s)" in text
    assert "generate           200: 2  no_response: 1" in text
    assert "upstream_rate_limited" in text
    assert "1 mid-stream" in text
    assert "p50 0.200" in text
    assert "time to first byte" in text
    assert "24 completion, 4 prompt" in text


def test_the_text_summary_of_an_empty_run_still_renders() -> None:
    text = render(summary_of([], sending_seconds=0.0))

    assert "0 sent" in text
    assert "time to first byte" not in text


def test_a_progress_line_says_where_the_run_stands() -> None:
    line = Progress(
        elapsed=3.04, sent=60, in_flight=4, ok=50, failed=6, skipped=1, rate=19.96
    ).line()

    assert line == "[   3.0 s] sent 60  in flight 4  ok 50  errors 6  skipped 1  rate 20.0/s"
