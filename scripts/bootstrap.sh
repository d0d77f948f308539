#!/usr/bin/env bash
# Create .venv and install the gateway into it; `scripts/bootstrap.sh test` adds the test
# tools (pytest, helm, Prometheus and promtool). Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
if [[ "${1:-}" == "test" ]]; then
    .venv/bin/python -m pip install --quiet -e ".[test]"
    scripts/install-helm.sh
    scripts/install-prometheus.sh
    scripts/install-readme-generator.sh
else
    .venv/bin/python -m pip install --quiet -e .
fi
