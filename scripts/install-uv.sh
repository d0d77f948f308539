#!/usr/bin/env bash
# Install uv into <repo>/.tools/uv, from PyPI with pip, hash-checked against
# scripts/uv-requirements.txt. Idempotent: does nothing when that version is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want="$(sed -n 's/^uv==\([0-9.]*\).*/\1/p' scripts/uv-requirements.txt)"
uv=.tools/uv/bin/uv
if [[ -x "${uv}" && "$("${uv}" --version)" == "uv ${want}"* ]]; then
    exit 0
fi
python3 -m venv .tools/uv
.tools/uv/bin/python -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r scripts/uv-requirements.txt
"${uv}" --version
