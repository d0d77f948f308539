"""The load plan: fault mixes are validated, draws follow the fractions, arrivals the rate."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter

import pytest

from llm_gateway.faults import Fault
from llm_gateway.loadgen.plan import (
    FAULTS,
    Arrival,
    Endpoint,
    Mix,
    PlanError,
    arrival_offsets,
    parse_faults,
)


def test_fault_names_are_the_simulators_faults() -> None:
    assert set(FAULTS) == {fault.value for fault in Fault} - {"none"}


def test_parse_faults_reads_name_fraction_pairs() -> None:
    assert parse_faults(["rate_limit=0.05", " HANG =0.01"]) == {"rate_limit": 0.05, "hang": 0.01}


def test_parse_faults_accepts_fractions_that_add_up_to_exactly_one() -> None:
    mix = parse_faults(["drop=0.7", "hang=0.2", "malformed=0.1"])

    assert sum(mix.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["teapot=0.1"], "Unknown fault 'teapot'"),
        (["rate_limit"], "not name=fraction"),
        (["rate_limit=lots"], "not a number"),
        (["rate_limit=1.5"], "between 0 and 1"),
        (["rate_limit=-0.1"], "between 0 and 1"),
        (["drop=0.1", "drop=0.2"], "given twice"),
        (["drop=0.6", "hang=0.5"], "add up to 1.1"),
    ],
)
def test_parse_faults_refuses_bad_mixes(specs: list[str], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_faults(specs)


def test_a_mix_needs_a_model() -> None:
    with pytest.raises(PlanError, match="at least one model"):
        Mix(models=())


def test_a_seed_replays_the_same_requests() -> None:
    mix = Mix(models=("a", "b"), faults={"drop": 0.5})

    first = [mix.draw(random.Random(3)) for _ in range(20)]
    second = [mix.draw(random.Random(3)) for _ in range(20)]

    assert first == second


def test_draws_follow_the_fractions() -> None:
    mix = Mix(
        models=("a", "b"),
        stream_fraction=0.25,
        chat_fraction=0.75,
        max_tokens=7,
        faults={"rate_limit": 0.2, "hang": 0.1},
    )
    rng = random.Random(11)
    draws = [mix.draw(rng) for _ in range(10_000)]

    def share(count: int) -> float:
        return count / len(draws)

    assert share(sum(d.stream for d in draws)) == pytest.approx(0.25, abs=0.02)
    assert share(sum(d.endpoint is Endpoint.CHAT_COMPLETIONS for d in draws)) == pytest.approx(
        0.75, abs=0.02
    )
    faults = Counter(d.fault for d in draws)
    assert share(faults["rate_limit"]) == pytest.approx(0.2, abs=0.02)
    assert share(faults["hang"]) == pytest.approx(0.1, abs=0.02)
    assert share(faults[None]) == pytest.approx(0.7, abs=0.02)
    assert {d.model for d in draws} == {"a", "b"}
    assert {d.max_tokens for d in draws} == {7}


def test_fractions_of_zero_and_one_are_absolute() -> None:
    mix = Mix(models=("a",), stream_fraction=0.0, chat_fraction=1.0)
    rng = random.Random(0)

    draws = [mix.draw(rng) for _ in range(500)]

    assert not any(d.stream or d.fault for d in draws)
    assert all(d.endpoint is Endpoint.CHAT_COMPLETIONS for d in draws)


def test_uniform_arrivals_come_at_a_fixed_interval() -> None:
    offsets = list(itertools.islice(arrival_offsets(4.0, Arrival.UNIFORM, random.Random()), 5))

    assert offsets == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_poisson_arrivals_average_the_rate() -> None:
    offsets = list(itertools.islice(arrival_offsets(20.0, Arrival.POISSON, random.Random(5)), 5001))
    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]

    assert offsets[0] == 0.0
    assert min(gaps) > 0
    assert statistics.fmean(gaps) == pytest.approx(1 / 20, rel=0.05)
    # Exponential gaps: as spread as they are long, unlike a fixed interval.
    assert statistics.stdev(gaps) == pytest.approx(1 / 20, rel=0.1)


def test_arrivals_need_a_positive_rate() -> None:
    with pytest.raises(PlanError, match="positive"):
        next(arrival_offsets(0.0, Arrival.UNIFORM, random.Random()))
