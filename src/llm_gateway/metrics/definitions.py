"""Every metric the gateway exposes, listed in one place; each family is declared in its
own module of :mod:`llm_gateway.metrics.families`.

Two layers share one ``/metrics`` exposition:

* HTTP metrics come from starlette-exporter (``http_*``), created by
  :mod:`llm_gateway.metrics.http` so that ``http_requests_total{handler="/generate"}``
  holds the route template, never the raw path.
* LLM metrics (``llm_gateway_*``) are recorded only through the typed methods of
  :class:`llm_gateway.metrics.recorder.Recorder`, so the endpoints can never disagree.

Bucket boundaries follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.server.time_to_first_token``, ``gen_ai.server.time_per_output_token``).
Every label takes its values from a small fixed set: the routing table's model names and
upstream base URLs, :mod:`llm_gateway.core.types`' enums and upstream status codes.
No label is named like a target label Prometheus or the Prometheus Operator sets
(:data:`~llm_gateway.metrics.spec.TARGET_LABELS`): the scrape would rename it
``exported_<name>``. The door a request came in by is ``api``, an upstream pool
endpoint's base URL ``upstream_url``.
"""

from __future__ import annotations

from llm_gateway.metrics.families.clients import CLIENT_METRICS
from llm_gateway.metrics.families.pool import POOL_METRICS
from llm_gateway.metrics.families.protections import PROTECTION_METRICS
from llm_gateway.metrics.families.requests import REQUEST_METRICS
from llm_gateway.metrics.families.resilience import RESILIENCE_METRICS
from llm_gateway.metrics.spec import MetricSpec

# In the order they are registered, which is the exposition's (and docs/metrics.md's).
LLM_METRICS: dict[str, MetricSpec] = {
    "requests": REQUEST_METRICS["requests"],
    "request_duration": REQUEST_METRICS["request_duration"],
    "upstream_duration": REQUEST_METRICS["upstream_duration"],
    "prompt_tokens": REQUEST_METRICS["prompt_tokens"],
    "completion_tokens": REQUEST_METRICS["completion_tokens"],
    "estimated_tokens": REQUEST_METRICS["estimated_tokens"],
    "tokens_per_request": REQUEST_METRICS["tokens_per_request"],
    "time_to_first_token": REQUEST_METRICS["time_to_first_token"],
    "time_per_output_token": REQUEST_METRICS["time_per_output_token"],
    "tool_calls": REQUEST_METRICS["tool_calls"],
    "upstream_errors": REQUEST_METRICS["upstream_errors"],
    "upstream_in_flight": REQUEST_METRICS["upstream_in_flight"],
    "retries": REQUEST_METRICS["retries"],
    "fallbacks": REQUEST_METRICS["fallbacks"],
    "stream_continuations": RESILIENCE_METRICS["stream_continuations"],
    "skipped_frames": RESILIENCE_METRICS["skipped_frames"],
    "circuit_open": RESILIENCE_METRICS["circuit_open"],
    "circuit_opened": RESILIENCE_METRICS["circuit_opened"],
    "queue_wait": PROTECTION_METRICS["queue_wait"],
    "queued": PROTECTION_METRICS["queued"],
    "shed": PROTECTION_METRICS["shed"],
    "rate_limited": PROTECTION_METRICS["rate_limited"],
    "endpoint_in_flight": POOL_METRICS["endpoint_in_flight"],
    "endpoint_requests": POOL_METRICS["endpoint_requests"],
    "endpoint_time_to_first_byte": POOL_METRICS["endpoint_time_to_first_byte"],
    "endpoint_addresses": POOL_METRICS["endpoint_addresses"],
    "endpoint_ejected": POOL_METRICS["endpoint_ejected"],
    "endpoint_ejections": POOL_METRICS["endpoint_ejections"],
    "rate_limit_store_errors": PROTECTION_METRICS["rate_limit_store_errors"],
    "rate_limit_store_duration": PROTECTION_METRICS["rate_limit_store_duration"],
    "auth_failures": PROTECTION_METRICS["auth_failures"],
    "client_requests": CLIENT_METRICS["client_requests"],
    "client_tokens": CLIENT_METRICS["client_tokens"],
    "cost": CLIENT_METRICS["cost"],
    "overhead": REQUEST_METRICS["overhead"],
    "event_loop_lag": REQUEST_METRICS["event_loop_lag"],
    "build_info": REQUEST_METRICS["build_info"],
}
