#!/bin/sh
# Install redis-server from Debian's `redis-server` package.
#
# The global rate-limit tests (tests/integration/test_global_limits.py) start their own
# redis-server processes on loopback, with a free port and no persistence; they need the
# binary on PATH. Run this once on a fresh Debian machine, as root:
#
#     sudo scripts/install-redis.sh
#
# Idempotent, and never starts the service (see scripts/apt-install.sh).
exec "$(dirname "$0")/apt-install.sh" redis-server redis-server
