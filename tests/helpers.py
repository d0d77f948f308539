"""What tests share besides fixtures: the models, a gateway handle, waits, ports, parsers.

Test modules import from here (and from ``tests.servers``), never from one another.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

import psutil
import pytest
from huggingface_hub import AsyncInferenceClient
from prometheus_client import CollectorRegistry
from pydantic import AliasChoices

from llm_gateway.app import create_app
from llm_gateway.http.server import http_protocol
from llm_gateway.settings import Settings
from llm_gateway.upstream.client import HuggingFaceUpstream
from llm_gateway.upstream.openai import OpenAIUpstream
from tests.openai_schemas import conforming
from tests.servers import run_server

MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
NEMO = "mistralai/Mistral-Nemo-Instruct-2407"
EMBEDDING_MODEL = "intfloat/multilingual-e5-large"
# Short enough that a simulated hang costs the suite little, long enough for loopback.
UPSTREAM_TIMEOUT_SECONDS = 0.5

# An AsyncInferenceClient for a fault header (None: no fault).
HfClients = Callable[[str | None], AsyncInferenceClient]


@dataclass
class Gateway:
    url: str
    registry: CollectorRegistry
    settings: Settings

    def sample(self, name: str, **labels: str) -> float:
        """A metric sample's current value, 0 when the series does not exist yet."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def core_requests(self, api: str, model: str = MODEL) -> float:
        """Requests of door ``api`` for ``model`` that reached the gateway core, however
        they ended: unchanged by one refused before it."""
        return sum(
            self.sample(
                "llm_gateway_requests_total", model=model, api=api, stream=stream, outcome=outcome
            )
            for stream in ("true", "false")
            for outcome in ("success", "error", "rejected", "cancelled")
        )

    def estimated_tokens(self, model: str) -> tuple[float, float]:
        """The prompt and completion tokens of ``model`` counted so far as estimates."""
        name = "llm_gateway_estimated_tokens_total"
        return self.sample(name, model=model, type="prompt"), self.sample(
            name, model=model, type="completion"
        )


# The environment variable of each gateway setting; of one read from a variable of another
# name (LLM_GATEWAY_UPSTREAM_KIND, HF_TOKEN), the first.
SETTING_VARIABLES = [
    str(field.validation_alias.choices[0])
    if isinstance(field.validation_alias, AliasChoices)
    else f"LLM_GATEWAY_{name.upper()}"
    for name, field in Settings.model_fields.items()
]

# The upstream kinds, for tests that run on each (see either_kind).
KINDS = ("huggingface", "openai")


def either_kind(request: pytest.FixtureRequest, huggingface: Gateway, openai: Gateway) -> Gateway:
    """The gateway of the kind a test is parametrized with: a module runs its tests on
    both kinds by overriding its ``gateway`` fixture with this."""
    return openai if request.param == "openai" else huggingface


def installed(tool: str) -> str:
    """The path of a tool the suite needs; a failure naming its install script if missing."""
    path = shutil.which(tool)
    if path is None:
        scripts = {"helm": "install-helm.sh", "redis-server": "install-redis.sh"}
        script = f"scripts/{scripts.get(tool, 'install-prometheus.sh')}"
        pytest.fail(f"{tool} is not on PATH; install it with {script}", pytrace=False)
    return path


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test when it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def start_gateway(
    upstream_url: str,
    upstream: Callable[[Settings], HuggingFaceUpstream | OpenAIUpstream] | None = None,
    environment: Mapping[str, str] | None = None,
    **overrides: object,
) -> Iterator[Gateway]:
    """A gateway in front of ``upstream_url``; ``upstream`` builds its adapter (by default
    the app's own, from the settings). ``environment`` is set while the app is built (the
    ``OTEL_*`` variables the factory reads), and only then."""
    options: dict[str, object] = {
        "upstream_url": upstream_url,
        "upstream_is_simulator": True,
        "upstream_timeout_seconds": UPSTREAM_TIMEOUT_SECONDS,
        "models": {"mistral": MODEL, "nemo": NEMO},
        "embedding_models": {"e5": EMBEDDING_MODEL},
        "max_body_bytes": 64 * 1024,
        "max_prompt_chars": 10_000,
        # One attempt: each fault test sees its fault once. Retries have their own gateway.
        "retry_attempts": 1,
        "retry_backoff_seconds": 0.01,
    }
    settings = Settings(**{**options, **overrides})  # type: ignore[arg-type]
    registry = CollectorRegistry()
    adapter = None if upstream is None else upstream(settings)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (environment or {}).items():
            patch.setenv(name, value)
        app = create_app(settings, registry=registry, upstream=adapter)
    with run_server(conforming(app), http=http_protocol(settings)) as url:
        yield Gateway(url=url, registry=registry, settings=settings)


def sse_payloads(body: str) -> list[str]:
    """The ``data:`` payloads of a Server-Sent Events body, in order."""
    return [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: ")]


def connections_to(url: str) -> set[tuple[str, int]]:
    """Local ends of this process's open TCP connections to ``url`` (the gateway's, here)."""
    port = urlparse(url).port
    return {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(os.getpid()).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }
