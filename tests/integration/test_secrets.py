"""Secrets appear nowhere but where they must: not in logs, metrics, bodies or headers.

Traffic of every kind (successes, streams, auth failures, each upstream fault) runs
through a gateway holding a recognisable HF token and API keys; then every log record
(at debug level, every logger), the exposition and every response are searched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import Gateway, start_gateway

HF_TOKEN = "hf_SECRETtokenABCDEF0123456789"
API_KEY = "sk-SECRETclientKEY-0123456789"
SECRETS = (HF_TOKEN, API_KEY, "SECRETtoken", "SECRETclient")
FAULTS = ("rate_limit", "server_error", "unavailable", "hang", "drop", "malformed")


@pytest.fixture(scope="module")
def secret_gateway(simulator_url: str) -> Iterator[Gateway]:
    # The huggingface kind, which sends the token upstream: there and nowhere else.
    yield from start_gateway(
        simulator_url, upstream_api="huggingface", hf_token=HF_TOKEN, api_keys={"team": API_KEY}
    )


def test_no_secret_leaks_into_logs_metrics_or_responses(
    secret_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = secret_gateway.url
    key = {"Authorization": f"Bearer {API_KEY}"}
    responses: list[httpx.Response] = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for stream in (False, True):
            body = {"prompt": "hello", "max_new_tokens": 3, "stream": stream}
            responses.append(client.post("/generate", json=body, headers=key))
            for fault in FAULTS:
                faulty = {**key, "X-Simulator-Fault": fault}
                responses.append(client.post("/generate", json=body, headers=faulty))
        for wrong in (API_KEY + "x", API_KEY[:-1], HF_TOKEN):
            responses.append(
                client.post("/generate", json={"prompt": "x"}, headers={"X-API-Key": wrong})
            )
        responses.append(client.post("/generate", content=b"{not json", headers=key))
        responses.append(client.get("/v1/models", headers=key))
        responses.append(client.get("/openapi.json"))
        exposition = client.get("/metrics").text

    statuses = {response.status_code for response in responses}
    assert {200, 401, 429, 502, 504} <= statuses  # the traffic did exercise every path
    assert sum(record.name == "llm_gateway.access" for record in caplog.records) >= len(responses)
    texts = [exposition, caplog.text]
    texts += [r.text + str(r.headers) for r in responses]
    texts += [str(record.__dict__) for record in caplog.records]
    for secret in SECRETS:
        assert not [text for text in texts if secret in text], secret
