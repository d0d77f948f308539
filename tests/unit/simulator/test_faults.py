from __future__ import annotations

import random
from collections import Counter

import pytest

from llm_gateway.faults import Fault, FaultRequest, UnknownFaultError, parse_fault
from llm_gateway.simulator.faults import FaultPicker
from llm_gateway.simulator.settings import SimulatorSettings

TIMES = "x-simulator-fault-times"
ID = "x-request-id"


def asked(value: str, **headers: str) -> FaultRequest:
    return FaultRequest.from_headers({"x-simulator-fault": value, **headers})


@pytest.mark.parametrize("fault", list(Fault))
def test_every_fault_name_parses(fault: Fault) -> None:
    assert parse_fault(fault.value) == (fault, {})


def test_fault_header_is_read_leniently() -> None:
    assert parse_fault(" Rate_Limit ") == (Fault.RATE_LIMIT, {})


def test_absent_fault_header_leaves_the_choice_to_the_rates() -> None:
    assert FaultRequest.from_headers({}).fault is None


def test_unknown_fault_header_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownFaultError, match="expected one of: none, rate_limit"):
        parse_fault("explode")


def test_fault_parameters_are_read_whitespace_and_case_free() -> None:
    request = asked(" DROP ;after = 40;  Model= org/Model-7B:v1 ; until=1700000000.5;period=8;")

    assert request == FaultRequest(
        Fault.DROP, model="org/Model-7B:v1", until=1700000000.5, period=8.0, after=40
    )


def test_each_fault_takes_its_own_parameters() -> None:
    assert asked("slow_first_token; seconds=2.5").seconds == 2.5
    assert asked("hang; seconds=0").seconds == 0.0
    assert asked("rate_limit; retry_after=7").retry_after == 7
    assert asked("unavailable; retry_after=None").retry_after == "none"
    assert asked("stall; after=0").after == 0
    assert asked("malformed_frame; after=5").after == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("drop; after", r"'after' is not key=value"),
        ("drop; after=", r"'after=' is not key=value"),
        ("drop; seconds=1", r"drop takes no 'seconds'; it takes: model, until, period, after"),
        ("rate_limit; after=1", r"rate_limit takes no 'after'"),
        ("drop; colour=red", r"drop takes no 'colour'"),
        ("drop; after=1; after=2", r"'after' is given twice"),
        ("drop; after=-1", r"after=-1 is not a whole number of token frames"),
        ("drop; after=1.5", r"after=1.5 is not a whole number"),
        ("slow_first_token; seconds=soon", r"seconds=soon is not a number of seconds"),
        ("slow_first_token; seconds=nan", r"seconds=nan is not a number of seconds"),
        ("hang; seconds=-2", r"seconds=-2 is not a number of seconds"),
        ("rate_limit; retry_after=later", r"retry_after=later is not whole seconds, or none"),
        ("server_error; until=tomorrow", r"until=tomorrow is not a unix time"),
        ("server_error; period=0", r"period=0 is not a number of seconds above 0"),
    ],
)
def test_bad_fault_parameters_are_refused_naming_the_header(value: str, message: str) -> None:
    with pytest.raises(UnknownFaultError, match=message) as caught:
        asked(value)

    assert str(caught.value).startswith(f"Bad X-Simulator-Fault {value!r}: ")
    assert caught.value.header == "X-Simulator-Fault"


def test_a_fault_for_one_model_spares_the_others_and_their_attempts() -> None:
    picker = FaultPicker({}, random.Random(0))
    request = asked("server_error; model=primary", **{TIMES: "1", ID: "a"})

    picks = [picker.pick(request, model) for model in ("fallback", "primary", "primary")]

    assert picks == [Fault.NONE, Fault.SERVER_ERROR, Fault.NONE]


def test_until_ends_the_fault_at_a_wall_time() -> None:
    now = [100.0]
    picker = FaultPicker({}, random.Random(0), clock=lambda: now[0])
    request = asked("unavailable; until=160")

    before = picker.pick(request)
    now[0] = 160.0
    after = picker.pick(request)

    assert (before, after) == (Fault.UNAVAILABLE, Fault.NONE)


def test_period_makes_the_fault_flap_in_the_first_half_of_each_period() -> None:
    now = [0.0]
    picker = FaultPicker({}, random.Random(0), clock=lambda: now[0])
    request = asked("server_error; period=8")

    picks = []
    for second in range(0, 20, 2):
        now[0] = float(second)
        picks.append(picker.pick(request))

    assert [pick is Fault.SERVER_ERROR for pick in picks] == [
        True, True, False, False, True, True, False, False, True, True
    ]  # fmt: skip


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
