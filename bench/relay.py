"""The relay reference: FastAPI plus one shared aiohttp client, the body's bytes passed through.

What a gateway that only relays costs on this stack: the request body goes to the upstream
as it came, and the answer comes back as its bytes, streamed or not, with no parsing, no
metrics and no limits. The gateway does more than this; it should not cost much more.

    python bench/relay.py --port 8091 --upstream http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse


def create_app(upstream: str, max_connections: int = 512) -> FastAPI:
    session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal session
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=0),
            auto_decompress=False,
        )
        yield
        await session.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        assert session is not None
        body = await request.body()
        answer = await session.post(
            f"{upstream}/v1/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
        )
        media_type = answer.headers.get("content-type", "application/json")
        if media_type.startswith("text/event-stream"):

            async def relayed() -> AsyncIterator[bytes]:
                try:
                    async for piece in answer.content.iter_any():
                        yield piece
                finally:
                    answer.release()

            return StreamingResponse(relayed(), status_code=answer.status, media_type=media_type)
        payload = await answer.read()
        answer.release()
        return Response(payload, status_code=answer.status, media_type=media_type)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the simulator's base URL")
    parser.add_argument("--max-connections", type=int, default=512, help="to the upstream")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream.rstrip("/"), args.max_connections),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
