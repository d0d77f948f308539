"""The SLO row: availability and latency against their objectives, and burn rates.

The panels compute their windows from the raw metrics, not from the recording
rules, so that the dashboard works on any Prometheus that scrapes a gateway. They
mirror the rule templates (charts/llm-monitor/rules/availability-slo.yaml and
latency-slo.yaml): same SLIs, same burn-rate windows and factors. The objectives
and the latency threshold are dashboard variables whose defaults are the chart's
(values.yaml), with the threshold's choices from its schema.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.builders import stat, timeseries
from scripts.dashboards.board import Row
from scripts.dashboards.panels import Steps, Target, stat_panel, timeseries_panel
from scripts.dashboards.selectors import STATUS_5XX, rate, ratio_over
from scripts.dashboards.variables import custom
from scripts.render_rules import CHART, RuleValues

DEFAULTS = RuleValues.from_chart()
# The requests the latency SLO covers (latency-slo.yaml): non-streamed completions that
# succeeded or failed. Streams run to their last byte by design (time to first token
# watches them); cancelled and rejected requests are timed by the client or the shedder.
LATENCY_SLI = ('stream="false"', 'outcome=~"success|error"')
# Burn-rate factors of the alerts, drawn as threshold lines.
BURN_STEPS: Steps = (("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4))
# The long windows of the alerts' window pairs (1h/5m, 6h/30m, 1d/2h, 3d/6h).
ALERT_WINDOWS = (
    ("1h", "1h (pages at 14.4x)"),
    ("6h", "6h (pages at 6x)"),
    ("1d", "1d (ticket at 3x)"),
    ("3d", "3d (ticket at 1x)"),
)

ERRORS = f"(sum({rate('http_requests_total', STATUS_5XX)}) or vector(0))"
REQUESTS = f"sum({rate('http_requests_total')})"
TIMED = f"sum({rate('llm_gateway_request_duration_seconds_count', *LATENCY_SLI)})"
BELOW_THRESHOLD = 'le="$latency_threshold"'
FAST = f"sum({rate('llm_gateway_request_duration_seconds_bucket', *LATENCY_SLI, BELOW_THRESHOLD)})"
SLOW = f"({TIMED}\n - {FAST})"


def _threshold_choices() -> list[str]:
    schema = json.loads((CHART / "values.schema.json").read_text())
    choices: list[str] = schema["properties"]["prometheusRule"]["properties"][
        "latencyThresholdSeconds"
    ]["enum"]
    return choices


def variables() -> list[grafana.CustomVariable]:
    return [
        custom(
            "availability_objective",
            "Availability SLO",
            sorted({"0.99", "0.995", "0.999", DEFAULTS.availability_objective}),
            DEFAULTS.availability_objective,
            "Share of requests not answered with 5xx; keep equal to the chart's "
            "prometheusRule.availabilityObjective.",
        ),
        custom(
            "latency_objective",
            "Latency SLO",
            sorted({"0.95", "0.99", "0.995", "0.999", DEFAULTS.latency_objective}),
            DEFAULTS.latency_objective,
            "Share of non-streamed completions faster than the threshold; keep equal to the "
            "chart's prometheusRule.latencyObjective.",
        ),
        custom(
            "latency_threshold",
            "Latency SLO threshold (s)",
            _threshold_choices(),
            DEFAULTS.latency_threshold_seconds,
            "A bucket boundary of llm_gateway_request_duration_seconds; keep equal to the "
            "chart's prometheusRule.latencyThresholdSeconds.",
        ),
    ]


def _burn_rate_stat(sli: str, bad: str, total: str, objective: str) -> stat.Panel:
    return stat_panel(
        f"{sli} burn rate by alert window",
        f"How fast the {sli.lower()} error budget burns over the long window of each alert "
        "window pair, in multiples of the budget: 1 spends exactly the 30-day budget in 30 "
        "days. The alert also needs the short window (5m, 30m, 2h, 6h) above the same "
        "factor, and its `for:` duration.",
        "none",
        [
            Target(f"{ratio_over(bad, total, window)}\n/ (1 - ${objective})", legend, instant=True)
            for window, legend in ALERT_WINDOWS
        ],
        width=6,
        thresholds=BURN_STEPS,
        decimals=1,
        names=True,
        horizontal=True,
    )


def _over_range(
    title: str, description: str, bad: str, total: str, legend: str, good: tuple[float, float]
) -> stat.Panel:
    return stat_panel(
        title,
        description,
        "percentunit",
        [Target(f"1 - (\n{ratio_over(bad, total, '$__range')}\n)", legend, instant=True)],
        width=6,
        decimals=3,
        thresholds=(("red", None), ("orange", good[0]), ("green", good[1])),
    )


def _burn_rate(
    title: str, description: str, bad: str, total: str, objective: str
) -> timeseries.Panel:
    return timeseries_panel(
        title,
        description,
        "none",
        [Target(f"{bad}\n/\n{total}\n/ (1 - ${objective})", "burn rate")],
        width=12,
        thresholds=BURN_STEPS,
        threshold_lines=True,
        min_value=0,
    )


def row() -> Row:
    return Row(
        "SLOs",
        [
            _over_range(
                "Availability over the time range",
                "Share of all requests not answered with 5xx over the dashboard's time range, "
                "against the $availability_objective objective (LlmGatewayErrorBudgetBurn).",
                ERRORS,
                REQUESTS,
                "availability",
                (0.99, 0.995),
            ),
            _burn_rate_stat("Availability", ERRORS, REQUESTS, "availability_objective"),
            _burn_rate(
                "Availability error budget burn rate",
                "5xx ratio of all requests divided by the error budget (1 - objective), in "
                "multiples of the budget: 1 spends the 30-day budget in exactly 30 days. Lines "
                "at 14.4 and 6 (page) and 1 (ticket) are the factors of "
                "LlmGatewayErrorBudgetBurn, which also needs them sustained over its windows.",
                ERRORS,
                REQUESTS,
                "availability_objective",
            ),
            _over_range(
                "Fast non-streamed completions over the time range",
                "Share of non-streamed /generate and /v1/chat/completions requests (success or "
                "error) faster than $latency_threshold s over the dashboard's time range, "
                "against the $latency_objective objective (LlmGatewayLatencyBudgetBurn). "
                "Streams are left out: see Time to first token.",
                SLOW,
                TIMED,
                "fast completions",
                (0.95, 0.99),
            ),
            _burn_rate_stat("Latency", SLOW, TIMED, "latency_objective"),
            _burn_rate(
                "Latency error budget burn rate",
                "Share of non-streamed completions slower than $latency_threshold s divided by "
                "the latency error budget (1 - objective), in multiples of the budget. Lines at "
                "14.4 and 6 (page) and 1 (ticket) are the factors of "
                "LlmGatewayLatencyBudgetBurn.",
                SLOW,
                TIMED,
                "latency_objective",
            ),
        ],
    )
