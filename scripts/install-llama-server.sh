#!/usr/bin/env bash
# Install llama.cpp's OpenAI-compatible server, `llama-cpp-python[server]` from PyPI, into
# its own venv, .tools/llama-server: the real inference server of the tests/llama/ leg
# (`.tools/llama-server/bin/python -m llama_cpp.server`). Its own venv, not .venv: the
# server's dependencies stay out of uv.lock and cannot move the gateway's.
#
# PyPI ships llama-cpp-python as source only, and building it takes about 17 minutes on
# 2 cores, so the wheel is built once into a cache, ${LLM_MONITOR_CACHE:-~/.cache/llm-monitor}/wheels,
# and every later install (a new clone, a new venv) takes it from there in seconds. It is
# built with GGML_NATIVE=OFF: for the baseline x86-64 instruction set, not this CPU's, so
# a cached wheel runs on any machine of the same kind. A lock in the cache dir keeps two
# installs from building it at once; the second waits and takes the first one's wheel.
#
# Idempotent: a fast no-op when the venv already has this version.
set -euo pipefail

version=0.3.36
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.tools/llama-server"
cache="${LLM_MONITOR_CACHE:-${HOME}/.cache/llm-monitor}/wheels"
stamp="${venv}/.installed"
want="llama-cpp-python[server]==${version}"

if [[ -x "${venv}/bin/python" && "$(cat "${stamp}" 2>/dev/null)" == "${want}" ]]; then
    echo "llama-cpp-python ${version} already installed: ${venv}"
    exit 0
fi

# A bare machine has neither the C and C++ compilers the build needs nor the OpenMP runtime
# (libgomp.so.1) the built library loads, cached wheel or not: Debian's g++ brings both
# (scripts/apt-install.sh, as root; a no-op where g++ is on PATH). CMake and Ninja come from
# PyPI as the build's own requirements.
"${repo_root}/scripts/apt-install.sh" g++ gcc g++

# llama_cpp_python-<version>-py3-none-linux_x86_64.whl: its native library is loaded with
# ctypes, so one wheel serves every Python 3.
cached_wheel() {
    compgen -G "${cache}/llama_cpp_python-${version}-*.whl" | head -n 1
}

mkdir -p "${cache}"
wheel="$(cached_wheel || true)"
if [[ -z "${wheel}" ]]; then
    exec 9>"${cache}/.llama-cpp-python.lock"
    flock 9
    wheel="$(cached_wheel || true)"
    if [[ -z "${wheel}" ]]; then
        echo "building llama-cpp-python ${version} from source into ${cache} (about 17 min on 2 cores)"
        start=${SECONDS}
        CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
            python3 -m pip wheel --disable-pip-version-check --no-deps \
            --no-binary llama-cpp-python "llama-cpp-python==${version}" --wheel-dir "${cache}"
        wheel="$(cached_wheel)"
        echo "built ${wheel} in $((SECONDS - start)) s"
    fi
    exec 9>&-
fi

rm -rf "${venv}"
python3 -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${wheel}[server]"
"${venv}/bin/python" -c "import llama_cpp.server.app"  # the server and its native library load
echo "${want}" >"${stamp}"
echo "installed llama-cpp-python ${version} (with its server) at ${venv}"
