"""The relay reference: FastAPI plus one shared aiohttp client, the body's bytes passed through.

What a gateway that only relays costs on this stack: the request body goes to the upstream
as it came, and the answer comes back as its bytes, streamed or not, with no parsing, no
metrics and no limits. The gateway does more than this; it should not cost much more.

With ``--reads``, it reads what it relays as any gateway must, and no more: a request is
validated (by the gateway's own model) and encoded anew; a whole answer is parsed, its
choices and usage read, and written anew; each line of a stream is split off, its JSON
parsed (orjson, as the gateway does), each choice's text and finish reason taken, and a
frame of the relay's own written in its place (the gateway's formatting). It prices that
work alone, without the gateway's layers, checks, limits, metrics or logs: the floor of
a gateway on this stack (bench/per_token.py and bench/instructions.py count it).

    python bench/relay.py --port 8091 --upstream http://127.0.0.1:8080 [--reads]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from llm_gateway.protocol import ChatCompletionRequest

# --reads: the frame written for each choice, as the gateway formats a plain one.
FRAME = (
    b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":0,'
    b'"model":"relay","choices":[{"index":%d,"delta":{"content":%s},"finish_reason":%s}]}\n\n'
)
quoted = json.encoder.encode_basestring_ascii


async def read(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A stream's frames read as any gateway reads them (see the module), rewritten."""
    rest = b""
    async for piece in pieces:
        lines = (rest + piece).split(b"\n")
        rest = lines.pop()
        out = []
        for line in lines:
            if not line.startswith(b"data: {"):
                if line.startswith(b"data: [DONE]"):
                    out.append(b"data: [DONE]\n\n")
                continue
            frame = orjson.loads(line[6:])
            for choice in frame.get("choices") or ():
                text = (choice.get("delta") or {}).get("content") or ""
                reason = choice.get("finish_reason")
                out.append(
                    FRAME
                    % (
                        choice.get("index") or 0,
                        quoted(text).encode(),
                        b"null" if reason is None else quoted(reason).encode(),
                    )
                )
        if out:
            yield b"".join(out)


def validated(body: bytes) -> bytes:
    """A request as any gateway must take it (see the module): validated, encoded anew."""
    request = orjson.loads(body)
    ChatCompletionRequest.model_validate(request)  # parsed once, as the gateway's doors do
    return json.dumps(request).encode()


def rewritten(payload: bytes) -> bytes:
    """A whole answer as any gateway must read it (see the module), written anew."""
    answer = orjson.loads(payload)
    answer["id"], answer["model"] = "chatcmpl-relay", "relay"
    answer["choices"] = [
        {
            "index": choice.get("index") or 0,
            "message": {"role": "assistant", "content": choice["message"].get("content")},
            "finish_reason": choice.get("finish_reason"),
        }
        for choice in answer.get("choices") or ()
    ]
    answer["usage"] = {key: int(value) for key, value in (answer.get("usage") or {}).items()}
    return json.dumps(answer, separators=(",", ":")).encode()


def create_app(upstream: str, max_connections: int = 512, reads: bool = False) -> FastAPI:
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
        if reads:
            body = validated(body)
        answer = await session.post(
            f"{upstream}/v1/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
        )
        media_type = answer.headers.get("content-type", "application/json")
        if media_type.startswith("text/event-stream"):

            async def relayed() -> AsyncIterator[bytes]:
                pieces = answer.content.iter_any()
                try:
                    async for piece in read(pieces) if reads else pieces:
                        yield piece
                finally:
                    answer.release()

            return StreamingResponse(relayed(), status_code=answer.status, media_type=media_type)
        payload = await answer.read()
        answer.release()
        if reads:
            payload = rewritten(payload)
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
    parser.add_argument("--reads", action="store_true", help="read it as a gateway must")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream.rstrip("/"), args.max_connections, args.reads),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
