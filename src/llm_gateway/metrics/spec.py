"""What a metric is, as documented (:class:`MetricSpec`), and the bucket boundaries
the families share, as named constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

NAMESPACE = "llm_gateway"
HTTP_PREFIX = "http"
APP_NAME = "llm-gateway"

# Labels the scrape sets on every series: Prometheus (job, instance) and the Prometheus
# Operator's ServiceMonitor and PodMonitor jobs (the rest). A series label of one of
# these names would be renamed exported_<name> (honor_labels: false).
TARGET_LABELS = frozenset(
    ("job", "instance", "namespace", "service", "pod", "container", "endpoint", "node")
)

# gen_ai.client.operation.duration (seconds), extended for long generations.
OPERATION_DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
    163.84,
)
# gen_ai.client.token.usage (tokens), cut at one million: no request carries more.
TOKEN_USAGE_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
# gen_ai.server.time_to_first_token (seconds).
TIME_TO_FIRST_TOKEN_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
# gen_ai.server.time_per_output_token (seconds).
TIME_PER_OUTPUT_TOKEN_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
)
# Time spent waiting for an upstream slot (seconds): short by design, the queue is bounded.
QUEUE_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The gateway's own share of a request (seconds): milliseconds when healthy; the top
# buckets catch queueing and retry backoff.
OVERHEAD_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# How late the event loop ran a timer (seconds): well under a millisecond when idle; tens
# of milliseconds are the cycle collector's full passes or a saturated core.
EVENT_LOOP_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# A round trip to the rate-limit store (seconds): loopback to a distant zone, and the timeout.
STORE_ROUND_TRIP_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
# HTTP request duration (seconds): LLM calls run far past prometheus-client's 10 s default.
HTTP_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as documented: the reference in docs/metrics.md is generated from these."""

    name: str  # as exposed, without the _total/_bucket suffixes prometheus-client adds
    kind: type[MetricWrapperBase]
    documentation: str
    labels: tuple[str, ...]
    unit: str
    example: str  # a PromQL query that answers a question with it
    buckets: tuple[float, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        taken = TARGET_LABELS.intersection(self.labels)
        if taken:
            raise ValueError(f"{self.name}: the scrape would rename its labels {sorted(taken)}")

    @property
    def type(self) -> str:
        return self.kind.__name__.lower()

    def create(self, registry: CollectorRegistry) -> Any:
        extra = dict(self.options)
        if self.buckets is not None:
            extra["buckets"] = self.buckets
        name = self.name.removeprefix(f"{NAMESPACE}_").removesuffix("_total")
        return self.kind(
            name,
            self.documentation,
            self.labels,
            namespace=NAMESPACE,
            registry=registry,
            **extra,
        )
