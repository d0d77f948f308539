#!/bin/sh
# Install Prometheus and promtool from Debian's `prometheus` package.
#
# The rule tests (tests/rules/) and the Prometheus contract test
# (tests/integration/test_prometheus_contract.py) need `promtool` and
# `prometheus` on PATH. Run this once on a fresh Debian machine, as root:
#
#     sudo scripts/install-prometheus.sh
#
# Idempotent, and never starts the service (see scripts/apt-install.sh): the tests start
# their own Prometheus on loopback with a generated config.
exec "$(dirname "$0")/apt-install.sh" prometheus prometheus promtool
