from __future__ import annotations

import random

import pytest

from llm_gateway.simulator.pacing import Pacer


def test_zero_latency_is_instant_and_draws_zero_delays() -> None:
    pacer = Pacer(0.0, 0.0, 0.5, random.Random(0))

    assert pacer.instant
    assert pacer.first_token() == 0.0
    assert pacer.whole(100) == 0.0


def test_any_latency_is_not_instant() -> None:
    assert not Pacer(0.0, 0.01, 0.0, random.Random(0)).instant
    assert not Pacer(0.1, 0.0, 0.0, random.Random(0)).instant


def test_without_jitter_delays_are_exact() -> None:
    pacer = Pacer(0.2, 0.02, 0.0, random.Random(0))

    assert pacer.first_token() == 0.2
    assert pacer.next_token() == 0.02
    assert pacer.whole(11) == pytest.approx(0.2 + 10 * 0.02)


def test_jitter_keeps_delays_within_the_fraction() -> None:
    pacer = Pacer(1.0, 0.5, 0.2, random.Random(0))

    firsts = [pacer.first_token() for _ in range(1000)]
    nexts = [pacer.next_token() for _ in range(1000)]

    assert 0.8 <= min(firsts) < max(firsts) <= 1.2
    assert 0.4 <= min(nexts) < max(nexts) <= 0.6
