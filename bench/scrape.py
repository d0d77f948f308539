"""The /metrics scrape at scale: fill the gateway's series through bounded labels, then time it.

Series grow only through bounded label values. The gateway is started with a few hundred
model aliases (``LLM_GATEWAY_MODELS``), and each model is asked once through every door
(chat and generate, streamed or not) until the exposition holds the wanted number of series.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def aliases(count: int) -> dict[str, str]:
    return {f"bench-{i:03d}": f"bench/model-{i:03d}" for i in range(count)}


def _requests(alias: str) -> list[tuple[str, dict]]:
    messages = [{"role": "user", "content": "What is Prometheus?"}]
    return [
        ("/v1/chat/completions", {"model": alias, "messages": messages, "max_tokens": 8}),
        (
            "/v1/chat/completions",
            {"model": alias, "messages": messages, "max_tokens": 8, "stream": True},
        ),
        ("/generate", {"model": alias, "prompt": "What is Prometheus?", "max_new_tokens": 8}),
        (
            "/generate",
            {"model": alias, "prompt": "What is Prometheus?", "max_new_tokens": 8, "stream": True},
        ),
    ]


def count_series(exposition: bytes) -> int:
    return sum(1 for line in exposition.splitlines() if line and not line.startswith(b"#"))


async def _get(session: aiohttp.ClientSession, url: str, accept: str | None) -> bytes:
    headers = {"Accept": accept} if accept else {}
    async with session.get(url, headers=headers) as response:
        response.raise_for_status()
        return await response.read()


async def fill(base: str, names: list[str], *, target: int, batch: int = 20) -> int:
    """Drive requests model by model until ``target`` series; the series count reached."""
    series = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def call(path: str, payload: dict) -> None:
            async with session.post(base + path, json=payload) as response:
                response.raise_for_status()
                await response.read()

        for start in range(0, len(names), batch):
            chunk = names[start : start + batch]
            await asyncio.gather(*(call(p, b) for name in chunk for p, b in _requests(name)))
            series = count_series(await _get(session, base + "/metrics", None))
            if series >= target:
                break
    return series


async def time_scrapes(base: str, *, count: int, accept: str | None) -> dict:
    """``count`` sequential scrapes: wall time and body size."""
    times: list[float] = []
    size = series = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for _ in range(count):
            started = time.perf_counter()
            body = await _get(session, base + "/metrics", accept)
            times.append(time.perf_counter() - started)
            size = len(body)
            series = count_series(body)
    times.sort()
    return {
        "series": series,
        "bytes": size,
        "p50_ms": statistics.median(times) * 1000,
        "max_ms": times[-1] * 1000,
        "count": count,
    }
