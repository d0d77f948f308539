"""A pool of upstream endpoints serving the same models: which one gets the next request.

Each configured base URL is an *endpoint*; an ``http://`` one whose host name resolves to
several addresses (a Kubernetes headless Service) is one :class:`Address` per address,
resolved again periodically (IPv4 when the name has any, else IPv6: a dual-stack pod is
one address, not two). ``https://`` URLs stay one address each, so TLS checks the name.

* **Balancing**: power of two choices on the addresses in rotation, the one with fewer
  requests outstanding wins, the lower EWMA of time to first byte breaks a tie.
* **Passive health**, a circuit breaker per address: ``eject_failures`` consecutive
  connection failures, timeouts or 5xx take it out of rotation for ``eject_seconds``;
  then one probe request (or one active check) decides: success puts it back, failure
  ejects it again for twice as long, up to a ceiling. The last address in rotation is
  never ejected: with every endpoint down, requests still meet the real failure (502
  quickly for a refused connection) instead of a made-up one.
* **Retries** go elsewhere: the address a request's previous attempt failed on (known by
  its request id) is avoided when there is another.

Metric labels are the upstream's name in the routing table and the configured endpoints
(log-safe URLs), never addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from llm_gateway.metrics.labels import EndpointOutcome
from llm_gateway.metrics.recorder import Recorder
from llm_gateway.urls import safe_url

logger = logging.getLogger("llm_gateway")

# How much one time-to-first-byte sample moves the average.
EWMA_WEIGHT = 0.3
# The longest ejection, unless the first one is already longer.
MAX_EJECT_SECONDS = 60.0
# Request ids whose last attempt failed, remembered for their retry.
FAILED_ATTEMPTS_KEPT = 4096


@dataclass(eq=False)
class Address:
    """One address of an endpoint, with its load, latency and breaker."""

    endpoint: str  # the configured base URL, log-safe: the metric label
    base_url: str  # what requests are sent to
    host: str  # the Host header: the configured host, not the address
    in_flight: int = 0
    ttfb_ewma: float = 0.0  # 0 until measured: an untried address is tried first
    failures: int = 0  # consecutive
    ejections: int = 0  # consecutive, for the backoff
    ejected_until: float | None = None
    probing: bool = False

    @property
    def shown(self) -> str:
        return safe_url(self.base_url)

    def in_rotation(self, now: float) -> bool:
        """Healthy, or ejected long enough to take its one probe request."""
        if self.ejected_until is None:
            return True
        return now >= self.ejected_until and not self.probing


@dataclass
class _Endpoint:
    url: str  # as configured, credentials included (sent, never shown)
    label: str
    addresses: list[Address] = field(default_factory=list)


class Pool:
    def __init__(
        self,
        urls: list[str],
        metrics: Recorder,
        *,
        upstream: str,
        eject_failures: int = 3,
        eject_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._endpoints = [_Endpoint(url, safe_url(url)) for url in urls]
        for endpoint in self._endpoints:
            endpoint.addresses = [_address(endpoint, None)]
        self.name = urls[0]  # the base URL InferenceClient is given
        self.upstream = upstream  # the routing table's name: the metrics' `upstream` label
        self._metrics = metrics
        self._eject_failures = eject_failures
        self._eject_seconds = eject_seconds
        self._clock = clock
        self._rng = rng or random.Random()
        self._failed: OrderedDict[str, Address] = OrderedDict()
        self._report_addresses()

    @property
    def addresses(self) -> list[Address]:
        return [address for endpoint in self._endpoints for address in endpoint.addresses]

    def pick(self, request_id: str | None) -> Address:
        now = self._clock()
        addresses = self.addresses
        candidates = [a for a in addresses if a.in_rotation(now)] or addresses
        failed = self._failed.pop(request_id, None) if request_id else None
        if failed is not None and len(candidates) > 1:
            candidates = [a for a in candidates if a is not failed] or candidates
        if len(candidates) == 1:
            chosen = candidates[0]
        else:
            first, second = self._rng.sample(candidates, 2)
            chosen = min(first, second, key=lambda a: (a.in_flight, a.ttfb_ewma))
        if chosen.ejected_until is not None:
            chosen.probing = True
        chosen.in_flight += 1
        self._metrics.endpoint_request_started(self.upstream, chosen.endpoint)
        return chosen

    def release(self, address: Address) -> None:
        """The request's response is closed (or never came)."""
        address.in_flight -= 1
        self._metrics.endpoint_request_ended(self.upstream, address.endpoint)

    def answered(
        self,
        address: Address,
        outcome: EndpointOutcome,
        seconds: float,
        request_id: str | None,
    ) -> None:
        """How a request sent to ``address`` ended, ``seconds`` after it was sent."""
        self._metrics.endpoint_answered(self.upstream, address.endpoint, outcome, seconds)
        address.probing = False
        if outcome is EndpointOutcome.SUCCESS:
            address.ttfb_ewma += EWMA_WEIGHT * (seconds - address.ttfb_ewma)
        elif request_id:
            self._failed[request_id] = address
            self._failed.move_to_end(request_id)
            if len(self._failed) > FAILED_ATTEMPTS_KEPT:
                self._failed.popitem(last=False)
        self.checked(address, outcome is EndpointOutcome.SUCCESS)

    def checked(self, address: Address, healthy: bool) -> None:
        """The breaker's step: a request's or an active check's verdict on ``address``."""
        ejected_until = address.ejected_until
        due = ejected_until is not None and self._clock() >= ejected_until
        if ejected_until is not None and not due:
            return  # out of rotation: only a probe, once its time is up, decides
        if healthy:
            if due:
                logger.info("upstream %s: %s is back in rotation", self.upstream, address.shown)
                address.ejected_until = None
                address.ejections = 0
                self._report_addresses()
            address.failures = 0
            return
        address.failures += 1
        if due or address.failures >= self._eject_failures:
            self._eject(address)

    async def watch(
        self,
        check: Callable[[Address], Awaitable[bool]],
        health_interval: float,
        resolve_interval: float,
    ) -> None:
        """Until cancelled: resolve the names again, and check every address's health."""
        resolved_at = self._clock()
        while True:
            await asyncio.sleep(health_interval or resolve_interval)
            if self._clock() - resolved_at >= resolve_interval:
                await self.resolve()
                resolved_at = self._clock()
            if health_interval:
                addresses = self.addresses
                verdicts = await asyncio.gather(*(check(address) for address in addresses))
                for address, healthy in zip(addresses, verdicts, strict=True):
                    self.checked(address, healthy)

    def _eject(self, address: Address) -> None:
        now = self._clock()
        in_rotation = [a for a in self.addresses if a.ejected_until is None]
        if address in in_rotation and len(in_rotation) <= 1:
            return  # the last one: better its real errors than none to try
        ceiling = max(MAX_EJECT_SECONDS, self._eject_seconds)
        seconds = min(ceiling, self._eject_seconds * 2**address.ejections)
        address.ejections += 1
        address.ejected_until = now + seconds
        self._metrics.endpoint_ejected(self.upstream, address.endpoint)
        self._report_addresses()
        logger.warning(
            "upstream %s: %s out of rotation for %.1f s after %d failure(s)",
            self.upstream,
            address.shown,
            seconds,
            address.failures,
        )

    async def resolve(self) -> None:
        """Look the http:// host names up again: one address per IP, kept where unchanged."""
        loop = asyncio.get_running_loop()
        for endpoint in self._endpoints:
            parts = urlsplit(endpoint.url)
            if parts.scheme != "http" or parts.hostname is None or _is_ip(parts.hostname):
                continue
            try:
                found = await loop.getaddrinfo(
                    parts.hostname, parts.port or 80, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                logger.warning(
                    "upstream %s: cannot resolve %s (%s): keeping its addresses",
                    self.upstream,
                    endpoint.label,
                    exc,
                )
                continue
            ips = preferred_addresses(found)
            known = {a.base_url: a for a in endpoint.addresses}
            fresh = [_address(endpoint, ip) for ip in ips]
            endpoint.addresses = [known.get(a.base_url, a) for a in fresh] or endpoint.addresses
        self._report_addresses()

    def _report_addresses(self) -> None:
        for endpoint in self._endpoints:
            ejected = sum(a.ejected_until is not None for a in endpoint.addresses)
            self._metrics.endpoint_addresses(
                self.upstream, endpoint.label, len(endpoint.addresses), ejected
            )


def _address(endpoint: _Endpoint, ip: str | None) -> Address:
    parts = urlsplit(endpoint.url)
    host = parts.netloc.rpartition("@")[2]
    if ip is None:
        return Address(endpoint.label, endpoint.url, host)
    netloc = f"[{ip}]" if ":" in ip else ip
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return Address(endpoint.label, urlunsplit(parts._replace(netloc=netloc)), host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def preferred_addresses(found: Sequence[tuple[Any, ...]]) -> list[str]:
    """The IPv4 addresses if any, else the IPv6 ones; each once, in a stable order."""
    by_family: dict[int, set[str]] = {}
    for family, *_, sockaddr in found:
        by_family.setdefault(family, set()).add(str(sockaddr[0]))
    return sorted(by_family.get(socket.AF_INET) or by_family.get(socket.AF_INET6) or ())
