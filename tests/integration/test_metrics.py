"""The /metrics exposition: the seed's queries, bounded series, exemplars, promtool-clean."""

from __future__ import annotations

import subprocess
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import MODEL, Gateway, wait_for


def scrape(gateway: Gateway, accept: str = "text/plain") -> str:
    response = httpx.get(f"{gateway.url}/metrics", headers={"Accept": accept})
    assert response.status_code == 200
    return response.text


def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def http_requests(gateway: Gateway, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(scrape(gateway)):
        for sample in family.samples:
            if sample.name == "http_requests_total" and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def test_seed_queries_count_generate_requests_by_route_template(gateway: Gateway) -> None:
    before_all = http_requests(gateway)
    before = http_requests(gateway, handler="/generate", method="POST", status_code="200")

    response = httpx.post(f"{gateway.url}/generate", json={"prompt": "x", "max_new_tokens": 1})

    assert response.status_code == 200, response.text
    assert http_requests(gateway, handler="/generate", method="POST", status_code="200") == (
        before + 1
    )
    assert http_requests(gateway) == before_all + 1
    assert http_requests(gateway, handler="/metrics") == 0
    assert http_requests(gateway, handler="/healthz") == 0


def test_a_flood_of_unknown_paths_adds_no_series(gateway: Gateway) -> None:
    httpx.get(f"{gateway.url}/warm-up-the-unknown-series")
    before = series(scrape(gateway))

    with httpx.Client(base_url=gateway.url) as client:
        for _ in range(50):
            assert client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}").status_code == 404

    after = series(scrape(gateway))
    assert after == before
    assert any(
        dict(labels).get("handler") == "__unknown__"
        for name, labels in after
        if name == "http_requests_total"
    )


def test_http_duration_buckets_reach_past_ten_seconds(gateway: Gateway) -> None:
    les = {
        dict(labels)["le"]
        for name, labels in series(scrape(gateway))
        if name == "http_request_duration_seconds_bucket"
    }

    assert {"40.0", "160.0"} <= les


def test_openmetrics_scrape_carries_request_id_exemplars(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/generate",
        json={"prompt": "exemplar", "max_new_tokens": 1},
        headers={"X-Request-Id": "exemplar-42"},
    )
    assert response.status_code == 200

    text = scrape(gateway, accept="application/openmetrics-text; version=1.0.0")

    assert text.rstrip().endswith("# EOF")
    exemplar_lines = [line for line in text.splitlines() if 'request_id="exemplar-42"' in line]
    assert any(
        line.startswith("llm_gateway_request_duration_seconds_bucket") for line in exemplar_lines
    )
    assert any(
        line.startswith("llm_gateway_upstream_request_duration_seconds_bucket")
        for line in exemplar_lines
    )


def test_build_info_names_version_model_and_upstream_kind(gateway: Gateway) -> None:
    infos = [
        dict(labels) for name, labels in series(scrape(gateway)) if name == "llm_gateway_build_info"
    ]

    assert infos == [
        {"default_model": MODEL, "upstream_kind": "simulator", "version": infos[0]["version"]}
    ]


def test_the_event_loop_lateness_is_measured_while_the_gateway_serves(gateway: Gateway) -> None:
    # A timer every 0.25 s from startup: observations accumulate without any request.
    wait_for(lambda: gateway.sample("llm_gateway_event_loop_lag_seconds_count") >= 2)

    exposed = {name for name, _ in series(scrape(gateway))}
    assert "llm_gateway_event_loop_lag_seconds_bucket" in exposed


def test_promtool_finds_no_problem_in_the_exposition(gateway: Gateway, promtool: str) -> None:
    httpx.post(f"{gateway.url}/generate", json={"prompt": "x", "max_new_tokens": 1, "stream": True})

    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape(gateway),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
