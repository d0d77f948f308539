"""``llm-gateway serve`` as an operator runs it: a real process, its logs, its signals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway.ports import free_port
from llm_gateway.simulator.app import create_app as create_simulator_app
from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import wait_for
from tests.servers import HeaderLog, run_server, silent_listener

STARTUP_SECONDS = 20


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run ``llm-gateway serve``; ready once it logs that it serves completions."""
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("LLM_GATEWAY_", "HF_TOKEN"))
    }
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_gateway", "serve", "--port", str(port), *args],
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    served = Served(process, f"http://127.0.0.1:{port}")

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            served.lines.append(line)
            if f"Uvicorn running on {served.url}" in line:
                served.started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not served.started.wait(STARTUP_SECONDS):
            raise AssertionError("serve did not start:\n" + "".join(served.lines))
        # With --workers, the parent logs its address before the workers listen on it.
        wait_for(lambda: ready(served.url), STARTUP_SECONDS)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join()
        assert process.stderr is not None
        process.stderr.close()


@pytest.fixture(scope="module")
def builtin() -> Iterator[Served]:
    with serve("--log-format", "json") as served:
        yield served


def test_without_token_or_url_it_serves_from_the_builtin_simulator(builtin: Served) -> None:
    response = httpx.post(f"{builtin.url}/generate", json={"prompt": "Hello", "max_new_tokens": 3})
    # The simulator serves OpenAI's routes, the openai kind's: completions, embeddings.
    completion = httpx.post(f"{builtin.url}/v1/completions", json={"prompt": "Hi", "max_tokens": 2})
    embedding = httpx.post(f"{builtin.url}/v1/embeddings", json={"input": "Hello"})

    assert response.status_code == 200
    assert response.json()["usage"]["completion_tokens"] == 3
    assert completion.status_code == 200
    assert completion.json()["usage"]["completion_tokens"] == 2
    assert embedding.status_code == 200
    assert len(embedding.json()["data"]) == 1
    described = httpx.get(f"{builtin.url}/v1/models").json()["upstream"]
    assert re.fullmatch(r"simulator at http://127\.0\.0\.1:\d+ \(openai kind\)", described)
    assert metric_total(builtin.url, "llm_gateway_requests_total") >= 3
    messages = [json.loads(line)["message"] for line in builtin.lines if line.startswith("{")]
    assert any("built-in simulator, upstream kind openai" in message for message in messages)
    assert f"upstream default: serving completions from {described}" in messages


def test_access_log_is_one_json_line_with_request_id_and_tokens(builtin: Served) -> None:
    response = httpx.post(
        f"{builtin.url}/generate",
        json={"prompt": "a private prompt", "max_new_tokens": 2},
        headers={"X-Request-Id": "trace-123"},
    )
    assert response.headers["x-request-id"] == "trace-123"

    def access_line() -> dict[str, object] | None:
        for line in builtin.lines:
            if '"request_id":"trace-123"' in line:
                return dict(json.loads(line))
        return None

    wait_for(lambda: access_line() is not None)
    line = access_line()
    assert line is not None
    assert line["path"] == "/generate"
    assert line["status"] == 200
    assert line["completion_tokens"] == 2
    assert line["outcome"] == "success"
    assert "private prompt" not in "".join(builtin.lines)


def test_sigterm_stops_the_server_cleanly() -> None:
    with serve() as served:
        served.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once shut down, so the exit status names it.
        assert served.process.wait(timeout=30) == -signal.SIGTERM
    log = "".join(served.lines)
    assert "Application shutdown complete" in log
    assert "Traceback" not in log


def metric_total(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_workers_share_one_exposition_private_to_each_gateway() -> None:
    with serve("--workers", "2") as first, serve("--workers", "2") as second:
        with httpx.Client() as client:
            for i in range(12):
                body = {"prompt": f"p{i}", "max_new_tokens": 2, "stream": i % 3 == 0}
                assert client.post(f"{first.url}/generate", json=body).status_code == 200
        # Whichever worker answers the scrape, it sums all of them.
        for _ in range(6):
            assert metric_total(first.url, "llm_gateway_requests_total") == 12
            assert metric_total(first.url, "llm_gateway_completion_tokens_total") == 24
            assert metric_total(first.url, "llm_gateway_upstream_requests_in_flight") == 0
            assert metric_total(first.url, "llm_gateway_build_info") == 1
        assert metric_total(second.url, "llm_gateway_requests_total") == 0
        pids = {
            line.split("[")[1].split("]")[0]
            for line in first.lines
            if "Started server process" in line
        }
        assert len(pids) >= 2


def workers_of(served: Served) -> list[psutil.Process]:
    workers = []
    for child in psutil.Process(served.process.pid).children():
        with contextlib.suppress(psutil.Error):  # gone, or a zombie not yet reaped
            if "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
    return workers


async def test_a_killed_workers_in_flight_gauge_leaves_the_exposition() -> None:
    with serve("--workers", "2") as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:

            async def stream() -> None:
                body = {"prompt": "kill", "max_new_tokens": 4000, "stream": True}
                with contextlib.suppress(httpx.HTTPError):
                    async with client.stream("POST", "/generate", json=body) as response:
                        async for _ in response.aiter_bytes():
                            pass

            streams = [asyncio.create_task(stream()) for _ in range(6)]
            in_flight = "llm_gateway_upstream_requests_in_flight"
            await asyncio.to_thread(wait_for, lambda: metric_total(served.url, in_flight) == 6)
            killed = workers_of(served)
            for worker in killed:
                worker.kill()
            await asyncio.gather(*streams)

            def restarted() -> bool:
                alive = {w.pid for w in workers_of(served)}
                return len(alive) == 2 and not alive & {w.pid for w in killed}

            await asyncio.to_thread(wait_for, restarted, STARTUP_SECONDS)
            await asyncio.to_thread(wait_for, lambda: ready(served.url), STARTUP_SECONDS)
            assert metric_total(served.url, in_flight) == 0
            assert metric_total(served.url, "llm_gateway_requests_total") == 0  # none finished


async def test_sigterm_fails_readiness_then_finishes_every_request_in_flight() -> None:
    streams, plain = 6, 4
    env = {"LLM_GATEWAY_SHUTDOWN_DELAY_SECONDS": "1", "LLM_GATEWAY_DRAIN_SECONDS": "20"}
    with serve(env=env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:

            async def stream() -> str:
                body = {"prompt": "drain", "max_new_tokens": 60, "stream": True}
                async with client.stream("POST", "/generate", json=body) as response:
                    assert response.status_code == 200
                    return "".join([text async for text in response.aiter_text()])

            async def complete() -> int:
                body = {"prompt": "drain", "max_new_tokens": 60}
                return (await client.post("/generate", json=body)).status_code

            requests = [asyncio.create_task(stream()) for _ in range(streams)]
            requests += [asyncio.create_task(complete()) for _ in range(plain)]

            def all_in_flight() -> bool:
                total = metric_total(served.url, "llm_gateway_upstream_requests_in_flight")
                return total == streams + plain

            await asyncio.to_thread(wait_for, all_in_flight)
            served.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(
                wait_for, lambda: httpx.get(f"{served.url}/readyz").status_code == 503
            )
            results = await asyncio.gather(*requests)

        assert served.process.wait(timeout=30) == -signal.SIGTERM
    assert all(body.rstrip().endswith("data: [DONE]") for body in results[:streams])
    assert all('"error"' not in body for body in results[:streams])
    assert results[streams:] == [200] * plain


async def test_requests_still_open_when_the_drain_ends_get_an_error_frame_or_a_503() -> None:
    env = {"LLM_GATEWAY_DRAIN_SECONDS": "1", "LLM_GATEWAY_LOG_FORMAT": "json"}
    with serve(env=env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            # 4000 tokens at the simulator's 20 ms each: far longer than the drain.
            body = {"prompt": "drain", "max_new_tokens": 4000, "stream": True}
            headers = {"X-Request-Id": "cut-off-stream"}
            plain = asyncio.create_task(
                client.post(
                    "/generate",
                    json={**body, "stream": False},
                    headers={"X-Request-Id": "cut-off-plain"},
                )
            )
            async with client.stream("POST", "/generate", json=body, headers=headers) as response:
                assert response.status_code == 200
                chunks = response.aiter_text()
                first = await anext(chunks)
                in_flight = "llm_gateway_upstream_requests_in_flight"
                await asyncio.to_thread(wait_for, lambda: metric_total(served.url, in_flight) == 2)
                served.process.send_signal(signal.SIGTERM)
                text = first + "".join([chunk async for chunk in chunks])
            cut = await plain
        assert served.process.wait(timeout=30) == -signal.SIGTERM

    payloads = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert json.loads(payloads[-2])["error"]["code"] == "gateway_shutting_down"
    assert payloads[-1] == "[DONE]"
    assert cut.status_code == 503
    assert cut.json()["error"]["code"] == "gateway_shutting_down"
    for request_id in ("cut-off-stream", "cut-off-plain"):
        access = [json.loads(line) for line in served.lines if f'"{request_id}"' in line]
        assert len(access) == 1
        assert access[0]["outcome"] == "cancelled"
    assert not any("Traceback" in line for line in served.lines)


def test_a_fresh_gateway_contacts_no_host_but_its_upstream(
    simulator_url: str, tmp_path: Path
) -> None:
    # huggingface_hub 2.4 fetches {HF_ENDPOINT}/api/agent-harnesses on a process's first
    # request unless told not to; an unresponsive Hub stalled /healthz for 3 s.
    with silent_listener() as (hub_url, hub_connections):
        env = {
            "LLM_GATEWAY_UPSTREAM_URL": simulator_url,
            "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
            "HF_ENDPOINT": hub_url,
            "HF_HOME": str(tmp_path),  # no cached harness registry
            "HF_HUB_DISABLE_TELEMETRY": "0",  # huggingface_hub's default, whatever this host says
            "DISABLE_TELEMETRY": "0",
        }
        with serve(env=env) as served, httpx.Client(base_url=served.url, timeout=10) as client:
            body = {"prompt": "Hello", "max_new_tokens": 2, "stream": True}
            assert client.post("/generate", json=body).status_code == 200
            assert client.post("/generate", json={**body, "stream": False}).status_code == 200
            assert client.get("/healthz").status_code == 200

        assert hub_connections == []


@pytest.fixture(scope="module")
def logged_simulator() -> Iterator[tuple[str, HeaderLog]]:
    """A simulator recording the path and headers of each request it is sent."""
    log = HeaderLog(create_simulator_app(SimulatorSettings(time_per_token_seconds=0.0)))
    with run_server(log) as url:
        yield url, log


# The completions' and the embeddings' route upstream, by kind (README, Upstream kinds).
ROUTES = {"openai": ("/v1/completions", "/v1/embeddings"), "huggingface": ("/", "/")}
DOORS = {
    "completions": ("/v1/completions", {"prompt": "Hi", "max_tokens": 2}),
    "embeddings": ("/v1/embeddings", {"input": "Hi"}),
}


@pytest.mark.parametrize("kind", [None, "huggingface", "openai"])
def test_a_url_alone_means_the_openai_kind_and_a_kind_given_is_kept(
    kind: str | None, logged_simulator: tuple[str, HeaderLog]
) -> None:
    url, log = logged_simulator
    env = {"LLM_GATEWAY_UPSTREAM_URL": url, "HF_TOKEN": "hf_serve_test_token"}
    if kind is not None:
        env["LLM_GATEWAY_UPSTREAM_KIND"] = kind
    spoken = kind or "openai"

    with serve(env=env) as served:
        for name, (door, body) in DOORS.items():
            headers = {"X-Request-Id": f"{kind}-{name}"}
            response = httpx.post(f"{served.url}{door}", json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["usage"]["prompt_tokens"] > 0
        models = httpx.get(f"{served.url}/v1/models").json()
        total = metric_total(served.url, "llm_gateway_requests_total")

    assert total == len(DOORS)
    [completion], [embedding] = (log.headers[f"{kind}-{name}"] for name in DOORS)
    assert (completion[":path"], embedding[":path"]) == ROUTES[spoken]
    described = f"endpoint at {url} ({spoken} kind)"
    assert models["upstream"] == described
    assert any(f"serving completions from {described}" in line for line in served.lines)
    # HF_TOKEN goes to a huggingface upstream only (an openai one gets the key that
    # LLM_GATEWAY_UPSTREAM_API_KEY_ENV names): left unsent, it is said once at start.
    authorization = {completion.get("authorization"), embedding.get("authorization")}
    unsent = [line for line in served.lines if "HF_TOKEN is not sent" in line]
    if spoken == "huggingface":
        assert (authorization, unsent) == ({"Bearer hf_serve_test_token"}, [])
    else:
        assert authorization == {None}
        [warning] = unsent
        assert "LLM_GATEWAY_UPSTREAM_API_KEY_ENV=HF_TOKEN" in warning
    assert not any("hf_serve_test_token" in line for line in served.lines)


def test_config_names_the_routing_table_it_serves_from(simulator_url: str, tmp_path: Path) -> None:
    table = tmp_path / "routing.yaml"
    table.write_text(
        "upstreams:\n"
        f"  - {{name: vllm, kind: openai, urls: [{simulator_url}], api_key_env: SERVE_TEST_KEY}}\n"
        "models:\n"
        "  - {name: small, upstream: vllm, id: mistralai/Mistral-Small-3.2-24B-Instruct-2506}\n"
    )
    env = {"SERVE_TEST_KEY": "sk-serve-test-key"}

    with serve("--config", str(table), env=env) as served:
        models = httpx.get(f"{served.url}/v1/models").json()
        body = {"model": "small", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        response = httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=10)
        total = metric_total(served.url, "llm_gateway_requests_total")

    assert [(card["id"], card["kind"]) for card in models["data"]] == [("small", "chat")]
    assert models["upstream"] == f"endpoint at {simulator_url} (openai kind)"
    assert response.status_code == 200
    assert response.json()["model"] == "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
    assert total == 1
    assert any("serving completions from endpoint at" in line for line in served.lines)
    assert not any("sk-serve-test-key" in line for line in served.lines)


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        (
            "upstreams: [{name: vllm, kind: openai, urls: [http://v:8000], api_key: sk-inline}]\n"
            "models: [{name: small, upstream: vllm}]\n",
            {},
            "upstreams[0] 'vllm': api_key: a secret is not written in the routing table",
        ),
        (
            "upstreams: [{name: vllm, kind: openai, urls: [http://v:8000]}]\n"
            "models: [{name: small, upstream: tgi}]\n",
            {},
            "model 'small': upstream 'tgi' is not in upstreams",
        ),
        (
            "upstreams: [{name: vllm, kind: openai, urls: [http://v:8000]}]\n"
            "models: [{name: small, upstream: vllm}]\n",
            {"LLM_GATEWAY_MODELS": '{"nemo": "mistralai/Mistral-Nemo-Instruct-2407"}'},
            "LLM_GATEWAY_MODELS would be ignored beside it",
        ),
    ],
)
def test_a_bad_routing_table_refuses_to_start_and_says_why(
    table: str, env: dict[str, str], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(table)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LLM_GATEWAY_")}

    result = subprocess.run(
        [sys.executable, "-m", "llm_gateway", "serve", "--port", "0"],
        env={**environment, **env, "LLM_GATEWAY_CONFIG": str(path)},
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )

    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "sk-inline" not in result.stderr
