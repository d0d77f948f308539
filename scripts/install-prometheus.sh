#!/bin/sh
# Install Prometheus and promtool from Debian's `prometheus` package.
#
# The rule tests (tests/rules/) and the Prometheus contract test
# (tests/integration/test_prometheus_contract.py) need `promtool` and
# `prometheus` on PATH. Run this once on a fresh Debian machine, as root:
#
#     sudo scripts/install-prometheus.sh
#
# Idempotent: does nothing when both binaries are already on PATH. Never starts
# a service: the package's postinst would start prometheus.service, so a
# policy-rc.d that denies service starts is in place for the duration of the
# install (and removed afterwards), and the tests start their own Prometheus on
# loopback with a generated config.
set -eu

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus and promtool already installed: $(command -v prometheus), $(command -v promtool)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-prometheus.sh: must run as root (apt-get install)" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
    # invoke-rc.d consults this file; exit status 101 means "action forbidden".
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=yes
fi
cleanup() {
    if [ "$created_policy" = yes ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus

command -v prometheus >/dev/null 2>&1 || { echo "prometheus not on PATH after install" >&2; exit 1; }
command -v promtool >/dev/null 2>&1 || { echo "promtool not on PATH after install" >&2; exit 1; }
prometheus --version 2>&1 | head -n 1
promtool --version 2>&1 | head -n 1
