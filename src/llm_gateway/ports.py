"""A free loopback port, for what starts servers as processes: the tests, ``bench/``, ``scripts/``.

The OS chooses the port and it is released at once, so another process may take it
before the server binds it: where a server can bind port 0 itself and tell its port (a
server in the same process), let it.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port nothing listens on (the OS's choice, released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
