from __future__ import annotations

import random
from collections import Counter

import pytest

from llm_gateway.faults import Fault, FaultRequest, UnknownFaultError, parse_fault
from llm_gateway.simulator.faults import FaultPicker
from llm_gateway.simulator.settings import SimulatorSettings


@pytest.mark.parametrize("fault", list(Fault))
def test_every_fault_name_parses(fault: Fault) -> None:
    assert parse_fault(fault.value) is fault


def test_fault_header_is_read_leniently() -> None:
    assert parse_fault(" Rate_Limit ") is Fault.RATE_LIMIT


def test_absent_fault_header_leaves_the_choice_to_the_rates() -> None:
    assert parse_fault(None) is None


def test_unknown_fault_header_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownFaultError, match="expected one of: none, rate_limit"):
        parse_fault("explode")


def test_requested_fault_overrides_the_rates() -> None:
    picker = FaultPicker({Fault.SERVER_ERROR: 1.0}, random.Random(0))

    assert picker.pick(FaultRequest(Fault.NONE)) is Fault.NONE
    assert picker.pick(FaultRequest(Fault.HANG)) is Fault.HANG


class _NoDraws(random.Random):
    def random(self) -> float:
        raise AssertionError("no fault configured, yet the picker drew a number")


def test_zero_rates_pick_no_fault_without_drawing() -> None:
    picker = FaultPicker({Fault.DROP: 0.0, Fault.HANG: 0.0}, _NoDraws())

    assert picker.pick(FaultRequest()) is Fault.NONE


def test_rates_set_how_often_each_fault_happens() -> None:
    rates = {Fault.RATE_LIMIT: 0.2, Fault.DROP: 0.3}
    picker = FaultPicker(rates, random.Random(1))

    counts = Counter(picker.pick(FaultRequest()) for _ in range(10_000))

    assert counts[Fault.RATE_LIMIT] == pytest.approx(2_000, rel=0.1)
    assert counts[Fault.DROP] == pytest.approx(3_000, rel=0.1)
    assert counts[Fault.NONE] == pytest.approx(5_000, rel=0.1)


def test_a_seed_replays_the_same_faults() -> None:
    settings = SimulatorSettings(server_error_rate=0.5, seed=42)

    picker_a = FaultPicker.from_settings(settings)
    picker_b = FaultPicker.from_settings(settings)

    assert [picker_a.pick(FaultRequest()) for _ in range(50)] == [
        picker_b.pick(FaultRequest()) for _ in range(50)
    ]


def test_fault_times_applies_a_fault_to_the_first_attempts_of_a_request_only() -> None:
    picker = FaultPicker({}, random.Random(0))
    headers = {"x-simulator-fault": "unavailable", "x-simulator-fault-times": "2"}
    first = FaultRequest.from_headers({**headers, "x-request-id": "a"})
    other = FaultRequest.from_headers({**headers, "x-request-id": "b"})

    picks = [picker.pick(first), picker.pick(other), picker.pick(first), picker.pick(first)]

    assert picks == [Fault.UNAVAILABLE, Fault.UNAVAILABLE, Fault.UNAVAILABLE, Fault.NONE]


def test_fault_times_must_be_a_positive_integer() -> None:
    with pytest.raises(UnknownFaultError, match="X-Simulator-Fault-Times"):
        FaultRequest.from_headers({"x-simulator-fault-times": "0"})
