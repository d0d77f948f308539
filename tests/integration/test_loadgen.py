"""loadgen against a real gateway and simulator: its summary agrees with the gateway's metrics.

The gateways here are this module's own, in front of the shared simulators: a load leaves
keep-alive connections in its gateway's upstream pool and requests to count, which tests of
the shared gateways must not see.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from llm_gateway.cli import main
from llm_gateway.loadgen.plan import Arrival, Mix
from llm_gateway.loadgen.report import Progress
from llm_gateway.loadgen.runner import LoadConfig, run
from llm_gateway.ports import free_port
from tests.helpers import MODEL, NEMO, Gateway, start_gateway, wait_for

FAULTS = {
    "rate_limit": 0.1,
    "server_error": 0.05,
    "unavailable": 0.05,
    "hang": 0.05,
    "drop": 0.1,
    "malformed": 0.05,
}
# The gateway's upstream error reason for each error code loadgen sees.
REASONS = {
    "upstream_rate_limited": "rate_limited",
    "upstream_server_error": "server_error",
    # A stream ended without a finish reason (on the openai kind, whose reader passes over
    # a malformed frame where huggingface_hub's stops): an upstream server error too.
    "upstream_stream_incomplete": "server_error",
    "upstream_timeout": "timeout",
    "upstream_unreachable": "connection",
    "upstream_bad_response": "bad_response",
}
HANDLERS = {"generate": "/generate", "chat_completions": "/v1/chat/completions"}


@pytest.fixture(scope="module")
def own_gateway(simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(simulator_url)


@pytest.fixture(scope="module")
def own_slow_gateway(slow_simulator_url: str) -> Iterator[Gateway]:
    yield from start_gateway(slow_simulator_url, upstream_timeout_seconds=5.0)


def total(gateway: Gateway, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for metric in gateway.registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def snapshot(gateway: Gateway) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for endpoint, handler in HANDLERS.items():
        for status in ("200", "429", "502", "504"):
            counts["http", endpoint, status] = total(
                gateway, "http_requests_total", handler=handler, status_code=status
            )
        for outcome in ("success", "error"):
            counts["outcome", endpoint, outcome] = total(
                gateway, "llm_gateway_requests_total", api=endpoint, outcome=outcome
            )
    for reason in REASONS.values():
        counts["reason", reason] = total(
            gateway, "llm_gateway_upstream_errors_total", reason=reason
        )
    counts["completion_tokens"] = total(gateway, "llm_gateway_completion_tokens_total")
    return counts


async def test_a_run_with_faults_adds_up_and_matches_the_gateways_metrics(
    own_gateway: Gateway,
) -> None:
    config = LoadConfig(
        url=own_gateway.url,
        mix=Mix(models=(MODEL, "nemo"), faults=FAULTS, max_tokens=16),
        rate=20.0,
        duration=2.0,
        arrival=Arrival.UNIFORM,
        concurrency=100,
        timeout=5.0,
        # Among this seed's 40 requests, every fault comes both streamed and not.
        seed=158,
    )
    progress: list[Progress] = []
    before = snapshot(own_gateway)

    summary = await run(config, on_progress=progress.append, progress_interval=0.5)

    assert (summary.arrived, summary.sent, summary.skipped, summary.cancelled) == (40, 40, 0, 0)
    assert summary.ok + summary.failed == summary.sent
    assert sum(sum(counts.values()) for counts in summary.statuses.values()) == summary.sent
    assert sum(summary.errors.values()) == summary.failed
    assert set(summary.models) == {MODEL, "nemo"}
    # Every fault asked for became the error the README's table promises, and nothing else.
    assert summary.faults.get("rate_limit", 0) == summary.errors.get("upstream_rate_limited", 0)
    assert summary.faults.get("hang", 0) == summary.errors.get("upstream_timeout", 0)
    assert sum(summary.faults.values()) == summary.failed > 0
    assert set(summary.faults) == set(FAULTS)
    assert summary.mid_stream_errors > 0  # drops after the first tokens of a stream
    assert "no_response" not in str(summary.statuses)
    assert summary.latency["all"].count == summary.ok
    assert summary.tokens["completion"] > 0
    # A line every 0.5 s of a run of at least 2 s, each counting no fewer than the last.
    assert len(progress) >= 3
    sent = [line.sent for line in progress]
    assert sent == sorted(sent) and sent[-1] <= summary.sent

    # Counted by the gateway once each response is complete, which the client may see first.
    expected: Counter[tuple[str, ...]] = Counter()
    for endpoint, statuses in summary.statuses.items():
        for status, count in statuses.items():
            expected["http", endpoint, status] += count
    for endpoint in HANDLERS:
        ok = summary.latency[endpoint].count  # latency covers exactly the successes
        sent = sum(summary.statuses.get(endpoint, {}).values())
        expected["outcome", endpoint, "success"] += ok
        expected["outcome", endpoint, "error"] += sent - ok
    for code, reason in REASONS.items():
        expected["reason", reason] += summary.errors.get(code, 0)
    expected["completion_tokens"] += summary.tokens["completion"]

    def deltas() -> Counter[tuple[str, ...]]:
        after = snapshot(own_gateway)
        return Counter(
            {key: after[key] - before[key] for key in after if after[key] != before[key]}
        )

    await asyncio.to_thread(wait_for, lambda: deltas() == +expected)


def test_the_cli_asks_the_gateway_for_its_models_and_prints_json(own_gateway: Gateway) -> None:
    result = CliRunner().invoke(
        main,
        ["loadgen", "--url", own_gateway.url, "--rate", "50", "--requests", "12", "--json"],
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sent"] == 12
    assert summary["ok"] == 12
    assert set(summary["models"]) <= {MODEL, NEMO, "mistral", "nemo"}
    assert len(summary["models"]) > 1


def test_the_cli_exits_with_1_when_the_gateway_cannot_list_its_models() -> None:
    result = CliRunner().invoke(
        main, ["loadgen", "--url", f"http://127.0.0.1:{free_port()}", "--duration", "1"]
    )

    assert result.exit_code == 1
    assert "cannot list the models" in result.output
    assert "--model" in result.output


async def test_arrivals_beyond_the_concurrency_cap_are_skipped_and_stop_cancels_the_rest(
    own_slow_gateway: Gateway,
) -> None:
    # Streams of 200 tokens at 50 ms each outlast the run: only two are ever in flight.
    config = LoadConfig(
        url=own_slow_gateway.url,
        mix=Mix(models=(MODEL,), stream_fraction=1.0, max_tokens=200),
        rate=20.0,
        duration=10.0,
        arrival=Arrival.UNIFORM,
        concurrency=2,
        timeout=30.0,
    )
    stop = asyncio.Event()

    def stop_after_skips(progress: Progress) -> None:
        if progress.skipped >= 5:
            stop.set()

    summary = await run(config, on_progress=stop_after_skips, progress_interval=0.05, stop=stop)

    assert (summary.sent, summary.cancelled, summary.ok, summary.failed) == (2, 2, 0, 0)
    assert summary.skipped >= 5
    assert summary.arrived == summary.sent + summary.skipped
    assert summary.elapsed_seconds < config.duration
    # Cancelling a request closes its connection: the gateway sees both streams end.
    await asyncio.to_thread(
        wait_for, lambda: total(own_slow_gateway, "llm_gateway_upstream_requests_in_flight") == 0
    )
