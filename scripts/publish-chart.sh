#!/usr/bin/env bash
# Package the chart as a release ships it, and push it to an OCI registry when one is named:
#
#   scripts/publish-chart.sh                                    # dist/llm-monitor-<version>.tgz
#   scripts/publish-chart.sh oci://ghcr.io/llm-monitor/charts   # ... and `helm push` it there
#
# `helm dependency build` fetches kube-prometheus-stack at Chart.lock's version (the only
# step that needs the chart repository); the package then carries it, so the .tgz installs
# with no network. REGISTRY_USER and REGISTRY_PASSWORD, when set, log in to the registry.
# HELM names another helm than .tools/bin/helm (tests/chart runs this with helm v3 and v4).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version="$(scripts/check-version.sh)"
helm="${HELM:-}"
if [[ -z "${helm}" ]]; then
    scripts/install-helm.sh >/dev/null
    helm=.tools/bin/helm
fi
chart=charts/llm-monitor
repository="$(sed -n 's/^ *repository: *//p' "${chart}/Chart.yaml")"
if ! "${helm}" repo list 2>/dev/null | grep -q "${repository}"; then
    "${helm}" repo add prometheus-community "${repository}" >/dev/null
fi
"${helm}" dependency build "${chart}"
"${helm}" package "${chart}" --destination dist
package="dist/llm-monitor-${version}.tgz"
echo "packaged ${package}"

if [[ -n "${1:-}" ]]; then
    destination="${1,,}"  # OCI references are lower case; a GitHub owner may not be
    registry="${destination#oci://}"
    if [[ -n "${REGISTRY_PASSWORD:-}" ]]; then
        printf '%s' "${REGISTRY_PASSWORD}" \
            | "${helm}" registry login "${registry%%/*}" \
                --username "${REGISTRY_USER:?REGISTRY_USER with REGISTRY_PASSWORD}" --password-stdin
    fi
    "${helm}" push "${package}" "${destination}"
fi
