"""Log configuration and the one access line written per request.

Prompts and completions are never logged: only sizes, token counts and outcomes. What a
client sent (a path, say) reaches a log line only escaped: no control character, so no
forged line and no terminal escape, and in the text format a field value with a space
or a quote is quoted, so no forged field either.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from llm_gateway.settings import LogFormat

ACCESS_LOGGER = "llm_gateway.access"
# Where uvicorn logs an exception that escaped the app.
SERVER_ERROR_LOGGER = "uvicorn.error"
# Marks an exception the gateway has logged with its traceback (see logged_once).
_LOGGED_MARK = "llm_gateway_logged"
# C0, DEL, C1 and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A field value written as it is: printable ASCII without a quote, backslash or '='.
_PLAIN = re.compile(r"[!#-<>-\[\]-~]+")


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

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _escaped(record.message)
        text = super().formatMessage(record)
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        if fields is not None:
            text += " " + " ".join(f"{k}={_value(v)}" for k, v in fields.items())
        return text


def _escaped(text: str) -> str:
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def _value(value: object) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


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


def mark_logged(exc: BaseException) -> None:
    """Note that ``exc`` was logged with its traceback: the server's log of it is dropped."""
    setattr(exc, _LOGGED_MARK, True)


class LoggedOnce(logging.Filter):
    """Drops the server's record of an exception the gateway already logged.

    Starlette re-raises an unexpected exception to the server once its 500 is sent, and
    uvicorn logs it again ("Exception in ASGI application"); the gateway's own record of
    it names the request, so that one is kept and the bug is logged once.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, _LOGGED_MARK, False)


def log_each_error_once() -> None:
    """Install :class:`LoggedOnce` on the server's error logger (once per process)."""
    server = logging.getLogger(SERVER_ERROR_LOGGER)
    if not any(isinstance(f, LoggedOnce) for f in server.filters):
        server.addFilter(LoggedOnce())


def log_request(fields: Mapping[str, Any]) -> None:
    """The access line of one request, its ``fields`` at the top level."""
    logging.getLogger(ACCESS_LOGGER).info("request", extra={"fields": fields})
