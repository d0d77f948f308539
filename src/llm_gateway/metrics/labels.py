"""Label vocabularies only the metrics need (the others come with the errors and the
core's types they label)."""

from __future__ import annotations

import enum


class EndpointOutcome(enum.StrEnum):
    """How one request to one pool endpoint went, as far as the endpoint's health goes."""

    SUCCESS = "success"  # any status below 500, 429 included: the endpoint answered
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
