from __future__ import annotations

from llm_gateway.faults import Fault
from llm_gateway.simulator.attempts import Attempt, AttemptLog
from llm_gateway.simulator.faults import MAX_TRACKED_REQUESTS

ATTEMPT = Attempt("m", stream=True, max_tokens=5, prefill=3, fault=Fault.STALL)


def test_an_attempt_is_reported_with_its_fault_by_name() -> None:
    assert ATTEMPT.as_json() == {
        "model": "m",
        "stream": True,
        "prefill": 3,
        "fault": "stall",
        "max_tokens": 5,
    }


def test_requests_without_an_id_are_not_kept() -> None:
    log = AttemptLog()

    log.record(None, ATTEMPT)

    assert log.of("None") == [] and log.of("") == []


def test_the_least_recently_seen_request_id_is_forgotten_first() -> None:
    log = AttemptLog()
    log.record("oldest", ATTEMPT)
    log.record("refreshed", ATTEMPT)
    for index in range(MAX_TRACKED_REQUESTS - 2):
        log.record(str(index), ATTEMPT)
    log.record("refreshed", ATTEMPT)

    log.record("newest", ATTEMPT)

    assert log.of("oldest") == []
    assert log.of("refreshed") == [ATTEMPT, ATTEMPT]
    assert log.of("newest") == [ATTEMPT]
