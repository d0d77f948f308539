"""A real Prometheus (the Debian binary) on loopback, scraping what a test serves.

:func:`run_prometheus` starts one from a generated config whose rules are every
``*.yaml`` file of its ``rules`` directory; a test may rewrite both and :meth:`reload`.
Everything waits on conditions (:func:`eventually`), never on fixed sleeps. Needs
``prometheus`` on PATH (scripts/install-prometheus.sh).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway.ports import free_port
from tests.helpers import installed

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None], what: str, timeout: float = 20.0, interval: float = 0.2
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def without_for(rules: str, duration: str) -> str:
    """A rule file's text with every `for:` cut to ``duration``, for alerts to fire now."""
    return re.sub(r"^(\s+for:) \S+$", rf"\1 {duration}", rules, flags=re.MULTILINE)


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    config: Path
    rules: Path
    log: Path
    gateway_target: str  # the host:port of the gateway it scrapes

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return list(data["result"]) if data["resultType"] in ("vector", "matrix") else []

    def write_config(self, scrape_configs: list[dict[str, Any]]) -> None:
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(self.rules / "*.yaml")],
            "scrape_configs": scrape_configs,
        }
        self.config.write_text(yaml.safe_dump(config))

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


@contextmanager
def run_prometheus(
    workdir: Path,
    gateway_target: str,
    scrape_configs: list[dict[str, Any]],
    rules: dict[str, str],
) -> Iterator[Prometheus]:
    """A Prometheus with these scrape jobs and rule files (name -> text), once ready."""
    binary = installed("prometheus")
    (workdir / "rules").mkdir()
    for name, text in rules.items():
        (workdir / "rules" / name).write_text(text)
    port = free_port()
    server = Prometheus(
        url=f"http://127.0.0.1:{port}",
        process=None,  # type: ignore[arg-type]
        config=workdir / "prometheus.yml",
        rules=workdir / "rules",
        log=workdir / "prometheus.log",
        gateway_target=gateway_target,
    )
    server.write_config(scrape_configs)
    with server.log.open("wb") as log_file:
        server.process = subprocess.Popen(
            [
                binary,
                f"--config.file={server.config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            assert server.process.poll() is None, f"prometheus exited:\n{server.log_tail()}"
            try:
                return httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        eventually(ready, "Prometheus to be ready")
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def wait_until_scraped(prometheus: Prometheus, gateway_url: str, job: str) -> None:
    """Until Prometheus holds every request the gateway has counted so far."""
    text = httpx.get(f"{gateway_url}/metrics", timeout=5).text
    total = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
    )

    def scraped_all() -> bool:
        result = prometheus.query(f'sum(http_requests_total{{job="{job}"}})')
        return bool(result) and float(result[0]["value"][1]) == total

    eventually(scraped_all, f"Prometheus to scrape all {total} requests the gateway counted")
