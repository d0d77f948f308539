#!/usr/bin/env bash
# Install @bitnami/readme-generator-for-helm, which writes the chart README's values
# table from values.yaml's `## @param` comments, into .tools (npm, pinned version).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VERSION=2.7.2
PREFIX=.tools/readme-generator
BIN=.tools/bin/readme-generator

if [[ -x "$BIN" ]] && [[ "$("$BIN" --version 2>/dev/null)" == "Version: $VERSION" ]]; then
    echo "readme-generator already installed: $BIN ($VERSION)"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "npm is needed to install readme-generator: sudo scripts/install-node.sh" >&2
    exit 1
fi
npm install --prefix "$PREFIX" --no-audit --no-fund --silent \
    "@bitnami/readme-generator-for-helm@$VERSION"
mkdir -p .tools/bin
ln -sf "../readme-generator/node_modules/.bin/readme-generator" "$BIN"
echo "readme-generator installed: $BIN ($VERSION)"
