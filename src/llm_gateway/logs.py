"""Log configuration and the one access line written per request.

Prompts and completions are never logged: only sizes, token counts and outcomes.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from llm_gateway.settings import LogFormat

ACCESS_LOGGER = "llm_gateway.access"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines carry their fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        if fields is not None:
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        if fields is not None:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Route the gateway's and uvicorn's logs through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The gateway writes its own access line, with the request id and token counts.
    logging.getLogger("uvicorn.access").disabled = True
    # huggingface_hub and its HTTP client log every upstream call; the access line says it all.
    for name in ("huggingface_hub", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def log_request(fields: Mapping[str, Any]) -> None:
    """The access line of one request, its ``fields`` at the top level."""
    logging.getLogger(ACCESS_LOGGER).info("request", extra={"fields": fields})
