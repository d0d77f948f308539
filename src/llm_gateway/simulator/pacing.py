"""How long the simulated model takes: time to first token, then time per token, with jitter."""

from __future__ import annotations

import random


class Pacer:
    """Draws delays, each ``base * uniform(1 - jitter, 1 + jitter)``.

    ``instant`` is true when both bases are zero; callers then skip sleeping altogether, which
    keeps the zero-latency benchmark path free of timer and scheduler work.
    """

    def __init__(
        self,
        time_to_first_token: float,
        time_per_token: float,
        jitter: float,
        rng: random.Random,
    ) -> None:
        self._first = time_to_first_token
        self._per_token = time_per_token
        self._jitter = jitter
        self._rng = rng
        self.instant = time_to_first_token == 0 and time_per_token == 0

    def _jittered(self, base: float) -> float:
        if base == 0 or self._jitter == 0:
            return base
        return base * self._rng.uniform(1 - self._jitter, 1 + self._jitter)

    def first_token(self) -> float:
        return self._jittered(self._first)

    def next_token(self) -> float:
        return self._jittered(self._per_token)

    def whole(self, tokens: int, first: float | None = None) -> float:
        """The delay before a non-streamed body: the same time a stream of ``tokens`` takes,
        its first token after ``first`` seconds if given."""
        first_token = self._jittered(self._first) if first is None else first
        return first_token + self._jittered(self._per_token * max(tokens - 1, 0))
