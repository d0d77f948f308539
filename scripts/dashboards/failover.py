"""The Resilience row's failover panels: retries, fallbacks, continued streams, skipped
frames and circuits, by model (README, "Failover").

Each panel that an alert watches names it: LlmGatewayRetriesHigh (rules/upstream.yaml),
LlmGatewayStreamsContinued and LlmGatewayCircuitOpen (rules/failover.yaml), computed as
the rules compute them.
"""

from __future__ import annotations

from scripts.dashboards.panels import (
    Target,
    stat_panel,
    state_timeline_panel,
    timeseries_panel,
)
from scripts.dashboards.selectors import MODEL, rate, sel

STREAMED = 'stream="true"'

# Retries per request that tried a model, as LlmGatewayRetriesHigh computes it: every
# upstream call is a first attempt or a retry, so calls - retries counts the requests
# (original or handed over by a fallback) that tried the model.
RETRIES = f"sum by (model) ({rate('llm_gateway_upstream_retries_total', MODEL)})"
CALLS = f"sum by (model) ({rate('llm_gateway_upstream_request_duration_seconds_count', MODEL)})"
RETRIES_PER_REQUEST = f"{RETRIES}\n/\n({CALLS}\n - {RETRIES})"
# Continuations per streamed request a model finished, as LlmGatewayStreamsContinued
# computes it: a continued request is counted under the model that continued it.
CONTINUED_PER_STREAM = (
    f"sum by (model) ({rate('llm_gateway_stream_continuations_total', MODEL)})\n/\n"
    f"sum by (model) ({rate('llm_gateway_requests_total', MODEL, STREAMED)})"
)

PANELS = [
    timeseries_panel(
        "Upstream retries/s by reason",
        "Upstream attempts made again on the same model after a retryable failure, per "
        "second, by the reason the previous attempt failed (rate_limited, server_error, "
        "connection, bad_response; timeout only for models with retry_timeouts) and model. "
        "Retries hide upstream trouble from clients, at the cost of latency and upstream "
        "capacity.",
        "reqps",
        [
            Target(
                f"sum by (reason, model) ({rate('llm_gateway_upstream_retries_total', MODEL)})",
                "{{reason}} {{model}}",
            )
        ],
        width=8,
    ),
    timeseries_panel(
        "Retries per request by model",
        "Retries per request that tried the model: upstream retries divided by the calls "
        "that were first attempts. LlmGatewayRetriesHigh fires when it stays above the "
        "0.1 line for 15 minutes: an early sign of upstream trouble, before errors reach "
        "clients.",
        "short",
        [Target(RETRIES_PER_REQUEST, "{{model}}")],
        width=8,
        thresholds=(("green", None), ("orange", 0.1)),
        threshold_lines=True,
        min_value=0,
    ),
    timeseries_panel(
        "Fallbacks/s by reason",
        "Requests handed to a fallback model per second, by the model they went to and "
        "why: error (the model before kept failing), circuit_open (its circuit was open), "
        "context_window (the prompt was too long for it), content_policy (its content "
        "policy refused it) or continuation (a stream it broke is continued there).",
        "reqps",
        [
            Target(
                f"sum by (reason, model) ({rate('llm_gateway_fallbacks_total', MODEL)})",
                "{{reason}} to {{model}}",
            )
        ],
        width=8,
    ),
    timeseries_panel(
        "Stream continuations/s by reason",
        "Streams that broke after tokens reached the client and were continued from the "
        "partial answer, per second, by the model asked to continue and why the stream "
        "broke: timeout (no token within stall_timeout_seconds), connection (the "
        "connection cut), server_error (an end without a finish reason) or bad_response "
        "(more unreadable frames than max_skipped_frames).",
        "reqps",
        [
            Target(
                f"sum by (reason, model) ({rate('llm_gateway_stream_continuations_total', MODEL)})",
                "{{reason}} on {{model}}",
            )
        ],
        width=8,
    ),
    timeseries_panel(
        "Continuations per streamed request",
        "Stream continuations divided by the streamed requests the model finished (a "
        "continued request is counted under the model that continued it). "
        "LlmGatewayStreamsContinued fires when it stays above the 2 % line for 15 "
        "minutes: an upstream, or a proxy before it, is breaking streams.",
        "percentunit",
        [Target(CONTINUED_PER_STREAM, "{{model}}")],
        width=8,
        thresholds=(("green", None), ("orange", 0.02)),
        threshold_lines=True,
        min_value=0,
    ),
    timeseries_panel(
        "Skipped stream frames/s by model",
        "Unreadable frames (not JSON, or JSON of the wrong shape) in upstream streams, "
        "passed over instead of relayed, per second, by model. Up to max_skipped_frames per "
        "attempt the client never notices; beyond, the stream counts as broken.",
        "cps",
        [
            Target(
                f"sum by (model) ({rate('llm_gateway_stream_frames_skipped_total', MODEL)})",
                "{{model}}",
            )
        ],
        width=8,
    ),
    state_timeline_panel(
        "Circuits open by model",
        "Open while a model's circuit is open or half-open in any gateway process (the "
        "circuit is per process): its requests go straight to its fallbacks, and one at a "
        "time probes it after each cool-down. LlmGatewayCircuitOpen fires when one stays "
        "open for 5 minutes. A model shows once its circuit first opened.",
        [Target(f"max by (model) ({sel('llm_gateway_circuit_open', MODEL)})", "{{model}}")],
        [(0, "closed", "green"), (1, "open", "red")],
        width=16,
    ),
    stat_panel(
        "Circuit openings",
        "Times each model's circuit opened over the dashboard's time range: after "
        "circuit_failures failed attempts in a row, or a failed probe. Many openings of a "
        "circuit that is closed now is a flapping model.",
        "short",
        [
            Target(
                "sum by (model) "
                f"(increase({sel('llm_gateway_circuit_opened_total', MODEL)}[$__range]))",
                "{{model}}",
                instant=True,
            )
        ],
        width=8,
        thresholds=(("green", None), ("orange", 1)),
        decimals=0,
        names=True,
        horizontal=True,
    ),
]
