#!/usr/bin/env bash
# The one version of a release: pyproject.toml's version, Chart.yaml's version and appVersion
# (the image tag the chart pulls by default) must agree, and with a tag given (`v1.2.3`) it
# must name that same version: `scripts/check-version.sh [tag]`. Prints the version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 - "${1:-}" <<'PY'
import pathlib
import re
import sys
import tomllib

tag = sys.argv[1]
package = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]["version"]
chart_yaml = pathlib.Path("charts/llm-monitor/Chart.yaml").read_text()


def field(name: str) -> str:
    match = re.search(rf'^{name}:\s*"?([^"\s]+)"?\s*$', chart_yaml, re.MULTILINE)
    return match.group(1) if match else "(missing)"


versions = {
    "pyproject.toml version": package,
    "Chart.yaml version": field("version"),
    "Chart.yaml appVersion": field("appVersion"),
}
if tag:
    versions["tag"] = tag.removeprefix("v")
if len(set(versions.values())) != 1:
    listed = ", ".join(f"{where} {version}" for where, version in versions.items())
    sys.exit(f"versions out of step: {listed}")
if tag and not tag.startswith("v"):
    sys.exit(f"a release tag is v<version>, not {tag}")
print(package)
PY
