"""A door served by DoorRoute answers as FastAPI's own handler answers, whatever the body.

Two gateways of the same settings: ours, and one whose doors FastAPI serves itself
(``DoorRoute.get_route_handler`` put back to ``APIRoute``'s while it is built). Every
door gets the same requests, bodies FastAPI reads each its own way (none, not JSON, JSON
of another Content-Type, of the wrong shape, out of range), a bad X-Simulator-* header
with a bad body (which is refused first), and a good body for a model the gateway does
not serve; both must answer alike, request ids aside. A FastAPI upgrade that reads a body
another way fails here.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from llm_gateway.app import create_app
from llm_gateway.routes import chat, messages
from llm_gateway.routes.door_route import DoorRoute
from llm_gateway.settings import Settings

DOORS = ["/generate", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
         "/v1/messages", "/v1/responses"]  # fmt: skip
JSON = "application/json"
CHAT = b'{"model":"unknown","messages":[{"role":"user","content":"hi"}],"max_tokens":4}'
# (body, Content-Type, extra headers)
CASES: list[tuple[bytes, str | None, dict[str, str]]] = [
    (b"", JSON, {}),
    (b"{bad", JSON, {}),
    (b'{"model":"x"}', "text/plain", {}),
    (b'{"model":"x"}', None, {}),
    (b'{"model":"x"}', "application/vnd.example+json; charset=utf-8", {}),
    (b'{"model":"x"}', "Application/JSON", {}),
    (b'{"model":"x"}', "application", {}),
    (b'{"model":"x"}', "application/json/x", {}),
    (b"\xff\xfe\x00", JSON, {}),
    (b"[" * 100_000, JSON, {}),
    (b"null", JSON, {}),
    (b"[]", JSON, {}),
    (b'{"model":"x","temperature":NaN}', JSON, {}),
    (b'{"model":"x","max_tokens":"many"}', JSON, {}),
    (b"{}", JSON, {"X-Simulator-Fault": "no-such-fault"}),
    (b'{"model":"x","input":"hi","prompt":"hi","inputs":"hi"}', JSON, {}),
    (CHAT, JSON, {}),
]


def answers(client: TestClient) -> list[tuple[str, int, str]]:
    answered = []
    for path in DOORS:
        for body, content_type, extra in CASES:
            headers = {"Content-Type": content_type} if content_type else {}
            response = client.post(path, content=body, headers={**headers, **extra})
            text = response.text.replace(response.headers["X-Request-Id"], "<id>")
            answered.append((path, response.status_code, text))
    return answered


@pytest.fixture(scope="module")
def settings() -> Settings:
    # A simulator upstream: X-Simulator-* headers are read, so a bad one is refused.
    return Settings(upstream_url="http://127.0.0.1:9", upstream_is_simulator=True)


def answers_of(settings: Settings) -> list[tuple[str, int, str]]:
    # FastAPI builds an included route's handler when the route is first asked for.
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        return answers(client)


def test_every_door_answers_every_body_as_fastapis_handler_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = answers_of(settings)
    monkeypatch.setattr(DoorRoute, "get_route_handler", APIRoute.get_route_handler)
    theirs = answers_of(settings)
    assert {status for _, status, _ in theirs} >= {400, 404, 422}
    assert ours == theirs


def test_a_door_is_served_by_its_own_handler_and_any_other_route_by_fastapis() -> None:
    def handler(route: APIRoute) -> str:
        return route.get_route_handler().__qualname__

    door = DoorRoute("/v1/chat/completions", chat.chat_completions, methods=["POST"])
    assert handler(door) == "DoorRoute.get_route_handler.<locals>.serve"
    # Its answer is a model FastAPI serializes: not a door.
    counting = DoorRoute("/v1/messages/count_tokens", messages.count_tokens, methods=["POST"])
    assert handler(counting) == handler(
        APIRoute("/v1/messages/count_tokens", messages.count_tokens, methods=["POST"])
    )
