"""Server-Sent Events framing: ``data: {json}\\n\\n``, always closed by ``data: [DONE]``."""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"
DONE = b"data: [DONE]\n\n"
# Proxies such as nginx buffer responses unless told not to; a buffered stream has no
# time to first token.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
