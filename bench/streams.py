"""Streamed load: N aiohttp workers, each asking for one SSE stream after another."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import aiohttp

CONTENT = b'"content":"'
EMPTY_CONTENT = b'"content":""'
DONE = b"data: [DONE]"


def body(tokens: int) -> bytes:
    return json.dumps(
        {
            "model": "mistralai/Mistral-7B-Instruct-v0.3",
            "messages": [{"role": "user", "content": "What is Prometheus?"}],
            "max_tokens": tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()


async def one(session: aiohttp.ClientSession, url: str, payload: bytes) -> tuple[float, int]:
    """Time to the first body byte, and the content tokens the stream carried."""
    started = time.perf_counter()
    async with session.post(
        url, data=payload, headers={"Content-Type": "application/json"}
    ) as response:
        response.raise_for_status()
        first = await response.content.readany()
        ttfb = time.perf_counter() - started
        parts = [first]
        async for part in response.content.iter_any():
            parts.append(part)
    whole = b"".join(parts)
    if DONE not in whole:
        raise RuntimeError("a stream ended without data: [DONE]")
    return ttfb, whole.count(CONTENT) - whole.count(EMPTY_CONTENT)


async def run(url: str, *, concurrency: int, seconds: float, tokens: int) -> dict:
    """Streams back to back for ``seconds`` (each worker finishes the stream it started)."""
    payload = body(tokens)
    ttfbs: list[float] = []
    relayed = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal relayed, errors
        while time.perf_counter() < deadline:
            try:
                ttfb, count = await one(session, url, payload)
            except (aiohttp.ClientError, RuntimeError):
                errors += 1
                continue
            ttfbs.append(ttfb)
            relayed += count

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ttfbs.sort()
    return {
        "streams": len(ttfbs),
        "errors": errors,
        "seconds": elapsed,
        "tokens": relayed,
        "tokens_per_stream": relayed / len(ttfbs) if ttfbs else 0.0,
        "tokens_per_second": relayed / elapsed,
        "ttfb_p50_ms": statistics.median(ttfbs) * 1000 if ttfbs else None,
        "ttfb_p90_ms": ttfbs[int(0.9 * (len(ttfbs) - 1))] * 1000 if ttfbs else None,
    }
