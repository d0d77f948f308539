"""URLs as logs and metric labels may show them."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: str) -> str:
    """``url`` without its user and password, for logs and metric labels."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
