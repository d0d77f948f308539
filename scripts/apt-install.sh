#!/bin/sh
# Install a Debian package for the tests without starting its service:
#
#     sudo scripts/apt-install.sh PACKAGE BINARY...
#
# Idempotent: does nothing when every BINARY is already on PATH. A package's postinst
# would start its service (prometheus.service, redis-server.service), so a policy-rc.d
# that denies service starts is in place for the duration of the install (and removed
# afterwards); the tests start their own servers on loopback.
set -eu

package=$1
shift
missing=no
for binary in "$@"; do
    command -v "$binary" >/dev/null 2>&1 || missing=yes
done
if [ "$missing" = no ]; then
    echo "$package already installed: $(for b in "$@"; do command -v "$b"; done | tr '\n' ' ')"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "apt-install.sh: installing $package must run as root (apt-get install)" >&2
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
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$package"

for binary in "$@"; do
    command -v "$binary" >/dev/null 2>&1 || { echo "$binary not on PATH after install" >&2; exit 1; }
    "$binary" --version 2>&1 | head -n 1
done
