"""The tracer provider, built from the standard ``OTEL_*`` variables.

The SDK reads them itself: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the
resource; the service is ``llm-gateway`` when neither names one), ``OTEL_TRACES_SAMPLER``
and ``OTEL_TRACES_SAMPLER_ARG`` (the sampler; ``parentbased_always_on`` by default),
``OTEL_EXPORTER_OTLP_*`` (the OTLP/HTTP exporter's endpoint, headers, timeout) and
``OTEL_BSP_*`` (the batch processor). The provider is the app's own, not the process's
global one: two apps in one process (the tests) keep their spans apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from starlette.middleware import Middleware

from llm_gateway import __version__
from llm_gateway.settings import Settings, UpstreamApi, UpstreamKind
from llm_gateway.telemetry.export import span_processor
from llm_gateway.telemetry.middleware import TraceMiddleware
from llm_gateway.telemetry.spans import OtelTracer, Upstream

DEFAULT_SERVICE_NAME = "llm-gateway"
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# Where InferenceClient sends a request routed through Inference Providers.
PROVIDERS_ROUTER = "router.huggingface.co"


@dataclass(frozen=True)
class Tracing:
    provider: TracerProvider
    tracer: OtelTracer
    middleware: Middleware

    @classmethod
    def build(cls, upstreams: Mapping[str, Settings], environ: Mapping[str, str]) -> Tracing:
        """``upstreams``: the settings of each upstream of the routing table, by name."""
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(span_processor())
        otel = provider.get_tracer("llm_gateway", __version__)
        capture = environ.get(CAPTURE_CONTENT, "").strip().lower() == "true"
        described = {name: upstream_of(each) for name, each in upstreams.items()}
        tracer = OtelTracer(otel, described, capture_content=capture)
        return cls(provider, tracer, Middleware(TraceMiddleware, tracer=otel))

    def shutdown(self) -> None:
        """Export the spans still batched, then stop."""
        self.provider.shutdown()


def upstream_of(settings: Settings) -> Upstream:
    """What the attempt spans say of the upstream: the provider (``openai`` for the openai
    kind, which speaks OpenAI's REST API whoever serves it), and the first base URL's host
    and port (never its credentials)."""
    if settings.upstream_kind is UpstreamKind.PROVIDERS:
        return Upstream("huggingface", PROVIDERS_ROUTER, 443)
    provider = "openai" if settings.upstream_api is UpstreamApi.OPENAI else "huggingface"
    url = urlsplit(settings.upstream_endpoints[0])
    port = url.port or (443 if url.scheme == "https" else 80)
    return Upstream(provider, url.hostname or "", port)
