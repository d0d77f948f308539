"""The numbers a run leaves behind: counts, error kinds, latency percentiles, tokens.

Latency percentiles cover successful requests only, so that a fault drill's timeouts do
not pass for a slow gateway; failures are counted by kind instead.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llm_gateway.core.types import Endpoint
from llm_gateway.loadgen.client import Result

PERCENTILES = (50, 95, 99)
NO_RESPONSE = "no_response"  # the status of a request that got no HTTP response
ALL = "all"


def percentiles(values: Sequence[float], points: Iterable[int] = PERCENTILES) -> dict[str, float]:
    """``{"p50": ..., ...}`` of ``values``, interpolated; empty when there are none."""
    if not values:
        return {}
    if len(values) == 1:
        return {f"p{point}": values[0] for point in points}
    # "inclusive" keeps every percentile within the observed range.
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {f"p{point}": cuts[point - 1] for point in points}


@dataclass(frozen=True)
class Distribution:
    count: int
    percentiles: dict[str, float]
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        return cls(len(values), percentiles(values), max(values, default=None))


@dataclass(frozen=True)
class Summary:
    url: str
    target_rate: float
    elapsed_seconds: float  # from the first arrival until the last answer
    sending_seconds: float  # from the first arrival until the schedule ended
    arrived: int  # requests the schedule produced
    sent: int
    skipped: int  # arrived while the concurrency cap was reached, never sent
    cancelled: int  # in flight when the run was interrupted
    ok: int
    failed: int
    statuses: dict[str, dict[str, int]]  # endpoint -> status code -> requests
    models: dict[str, int]  # model asked for -> requests
    errors: dict[str, int]  # error kind -> requests
    mid_stream_errors: int  # errors that arrived as a frame after a 200
    faults: dict[str, int]  # faults asked for, among the requests sent
    latency: dict[str, Distribution]  # "all" and each endpoint, successes only
    time_to_first_byte: dict[str, Distribution]  # streams, successes only
    tokens: dict[str, int] = field(default_factory=dict)  # "prompt", "completion"

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.sending_seconds if self.sending_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "achieved_rate": self.achieved_rate}


def summarize(
    results: Sequence[Result],
    *,
    url: str,
    target_rate: float,
    elapsed_seconds: float,
    sending_seconds: float,
    arrived: int,
    skipped: int,
    cancelled: int,
) -> Summary:
    statuses: dict[str, Counter[str]] = {}
    for result in results:
        status = str(result.status) if result.status is not None else NO_RESPONSE
        statuses.setdefault(result.endpoint.value, Counter())[status] += 1
    successes = [result for result in results if result.ok]
    return Summary(
        url=url,
        target_rate=target_rate,
        elapsed_seconds=elapsed_seconds,
        sending_seconds=sending_seconds,
        arrived=arrived,
        sent=len(results) + cancelled,
        skipped=skipped,
        cancelled=cancelled,
        ok=len(successes),
        failed=len(results) - len(successes),
        statuses={endpoint: _sorted(counts) for endpoint, counts in sorted(statuses.items())},
        models=_sorted(Counter(result.model for result in results)),
        errors=_sorted(Counter(result.error for result in results if result.error)),
        mid_stream_errors=sum(result.mid_stream for result in results),
        faults=_sorted(Counter(result.fault for result in results if result.fault)),
        latency=_by_endpoint([(result.endpoint, result.latency) for result in successes]),
        time_to_first_byte=_by_endpoint(
            [
                (result.endpoint, result.time_to_first_byte)
                for result in successes
                if result.time_to_first_byte is not None
            ]
        ),
        tokens={
            "prompt": sum(result.prompt_tokens for result in results),
            "completion": sum(result.completion_tokens for result in results),
        },
    )


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items()))


def _by_endpoint(samples: Sequence[tuple[Endpoint, float]]) -> dict[str, Distribution]:
    distributions = {ALL: Distribution.of([value for _, value in samples])}
    for endpoint in Endpoint:
        values = [value for where, value in samples if where is endpoint]
        distributions[endpoint.value] = Distribution.of(values)
    return distributions


def render(summary: Summary) -> str:
    """The summary as a few aligned blocks of text, for people."""
    lines = [
        f"loadgen against {summary.url}: {summary.sent} sent in {summary.sending_seconds:.1f} s "
        f"({summary.achieved_rate:.1f}/s, target {summary.target_rate:g}/s), "
        f"all answered after {summary.elapsed_seconds:.1f} s",
        f"  ok {summary.ok}  failed {summary.failed}  skipped {summary.skipped} "
        f"(concurrency cap)  cancelled {summary.cancelled}",
        "",
        "requests by endpoint and status:",
    ]
    for endpoint, counts in summary.statuses.items():
        text = "  ".join(f"{status}: {count}" for status, count in counts.items())
        lines.append(f"  {endpoint:<18} {text}")
    lines += ["", "requests by model:"]
    lines += [f"  {model:<40} {count}" for model, count in summary.models.items()]
    if summary.errors:
        lines += ["", f"errors by kind ({summary.mid_stream_errors} mid-stream):"]
        lines += [f"  {kind:<28} {count}" for kind, count in summary.errors.items()]
    if summary.faults:
        faults = "  ".join(f"{fault}: {count}" for fault, count in summary.faults.items())
        lines += ["", f"faults asked for: {faults}"]
    lines += ["", "latency of successes (s):"]
    lines += _distribution_lines(summary.latency)
    if summary.time_to_first_byte[ALL].count:
        lines += ["time to first byte of successful streams (s):"]
        lines += _distribution_lines(summary.time_to_first_byte)
    lines += [
        "",
        f"tokens received: {summary.tokens['completion']} completion, "
        f"{summary.tokens['prompt']} prompt",
    ]
    return "\n".join(lines)


def _distribution_lines(distributions: dict[str, Distribution]) -> list[str]:
    lines = []
    for name, distribution in distributions.items():
        if not distribution.count:
            continue
        cuts = "  ".join(
            f"{point} {value:.3f}" for point, value in distribution.percentiles.items()
        )
        lines.append(
            f"  {name:<18} n={distribution.count:<6} {cuts}  max {distribution.max or 0.0:.3f}"
        )
    return lines


@dataclass(frozen=True)
class Progress:
    """Where a run stands; ``rate`` is the send rate over the last progress interval."""

    elapsed: float
    sent: int
    in_flight: int
    ok: int
    failed: int
    skipped: int
    rate: float

    def line(self) -> str:
        return (
            f"[{self.elapsed:6.1f} s] sent {self.sent}  in flight {self.in_flight}  "
            f"ok {self.ok}  errors {self.failed}  skipped {self.skipped}  "
            f"rate {self.rate:.1f}/s"
        )
