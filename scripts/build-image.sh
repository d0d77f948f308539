#!/usr/bin/env bash
# Build the gateway image from uv.lock with podman where no Docker engine and no registry
# exist, run it, check /healthz on port 8000 as a non-root user, and report the image size.
#
#   scripts/build-image.sh            # build localhost/llm-gateway:dev and smoke-test it
#   IMAGE=localhost/llm-gateway:1.2 scripts/build-image.sh
#   # a release (the release workflow): smoke-test, then build for both platforms and push
#   BASE_IMAGE=python:3.12-slim-bookworm PLATFORMS=linux/amd64,linux/arm64 \
#     PUSH=ghcr.io/llm-monitor/llm-gateway scripts/build-image.sh
#
# What it does, and why (docs/kubernetes.md has the details; scripts/lib/podman.sh the
# podman parts, shared with scripts/test-fresh):
# - installs podman, buildah, runc, debootstrap & co. from Debian when missing (root);
# - writes a containers.conf with runc, cgroupfs and explicit ulimits: the default crun
#   fails on hybrid cgroups, and the default ulimits cannot be raised in some sandboxes;
# - makes two Debian bookworm base images with debootstrap from apt's own mirror, since
#   no registry may be reachable (each reused when it already exists): one with python3,
#   venv and pip for the builder stage, one with python3 alone for the final stage;
# - builds with those as BASE_IMAGE and RUNTIME_BASE_IMAGE, the package version and the
#   commit as VERSION and REVISION (the OCI labels), and the host's CA bundle as the
#   `pipca` build secret, which pip and uv need behind a TLS-intercepting proxy;
# - runs the image read-only, as uid 10001, and polls /healthz.
# Set BASE_IMAGE to skip debootstrap (e.g. BASE_IMAGE=python:3.12-slim-bookworm; the
# final stage then uses it too), BUILD_CONTEXT to build from another tree than this checkout.
# PUSH names the repository to push the smoke-tested image to, tagged with the package
# version (which scripts/check-version.sh keeps equal to the chart's appVersion); with
# PLATFORMS it is built for each of them (other architectures emulated through
# binfmt/QEMU) and pushed as one manifest list.
# REGISTRY_USER and REGISTRY_PASSWORD, when set, log in to PUSH's registry first.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-localhost/llm-gateway:dev}"
BUILD_CONTEXT="${BUILD_CONTEXT:-${repo_root}}"
BASE_IMAGE="${BASE_IMAGE:-}"
RUNTIME_BASE_IMAGE="${RUNTIME_BASE_IMAGE:-${BASE_IMAGE}}"
DEBIAN_BASE="${DEBIAN_BASE:-localhost/llm-gateway-base:bookworm}"
DEBIAN_RUNTIME_BASE="${DEBIAN_RUNTIME_BASE:-localhost/llm-gateway-runtime-base:bookworm}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
HOST_PORT="${HOST_PORT:-18000}"
PLATFORMS="${PLATFORMS:-}"
PUSH="${PUSH:-}"
PUSH="${PUSH,,}"  # image references are lower case; a GitHub owner may not be
container="llm-gateway-smoke-$$"
# shellcheck source=scripts/lib/podman.sh
source "${repo_root}/scripts/lib/podman.sh"

cleanup() { podman rm --force "${container}" >/dev/null 2>&1 || true; }

if [[ -z "${BASE_IMAGE}" ]]; then install_podman debootstrap; else install_podman; fi
write_containers_conf
pull=missing
if [[ -z "${BASE_IMAGE}" ]]; then
    pull=never
    make_debian_base "${DEBIAN_BASE}" python3,python3-venv,ca-certificates
    make_debian_base "${DEBIAN_RUNTIME_BASE}" python3,ca-certificates
    BASE_IMAGE="${DEBIAN_BASE}"
    RUNTIME_BASE_IMAGE="${DEBIAN_RUNTIME_BASE}"
fi
version="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "${BUILD_CONTEXT}/pyproject.toml")"
revision="$(git -C "${BUILD_CONTEXT}" rev-parse HEAD 2>/dev/null || echo unknown)"

secret_args=()
if [[ -s "${CA_BUNDLE}" ]]; then
    secret_args=(--secret "id=pipca,src=${CA_BUNDLE}")
fi

build_args=(
    --format docker "--pull=${pull}" "${secret_args[@]}"
    --build-arg "BASE_IMAGE=${BASE_IMAGE}" --build-arg "RUNTIME_BASE_IMAGE=${RUNTIME_BASE_IMAGE}"
    --build-arg "VERSION=${version}" --build-arg "REVISION=${revision}"
    --file "${BUILD_CONTEXT}/Dockerfile" "${BUILD_CONTEXT}"
)
log "building ${IMAGE} ${version} (${revision}) on ${BASE_IMAGE}, running on ${RUNTIME_BASE_IMAGE}"
start=$(date +%s)
podman build --tag "${IMAGE}" "${build_args[@]}"
log "built in $(( $(date +%s) - start ))s"

trap cleanup EXIT
log "running ${IMAGE} read-only, published on 127.0.0.1:${HOST_PORT}"
podman run --detach --name "${container}" --read-only --tmpfs /tmp \
    --cap-drop ALL --security-opt no-new-privileges \
    --publish "127.0.0.1:${HOST_PORT}:8000" "${IMAGE}" >/dev/null

healthy=""
for _ in $(seq 1 60); do
    if curl --silent --fail "http://127.0.0.1:${HOST_PORT}/healthz" >/dev/null 2>&1; then
        healthy=yes
        break
    fi
    if [[ "$(podman inspect --format '{{.State.Running}}' "${container}")" != "true" ]]; then
        break
    fi
    sleep 1
done
if [[ -z "${healthy}" ]]; then
    podman logs "${container}" >&2 || true
    echo "FAILED: /healthz did not answer on port 8000" >&2
    exit 1
fi

uid="$(podman exec "${container}" id -u)"
body="$(curl --silent "http://127.0.0.1:${HOST_PORT}/healthz")"
size_bytes="$(podman image inspect --format '{{.Size}}' "${IMAGE}")"
log "/healthz answered ${body} from uid ${uid}"
if [[ "${uid}" == "0" ]]; then
    echo "FAILED: the server runs as root" >&2
    exit 1
fi
base_bytes="$(podman image inspect --format '{{.Size}}' "${RUNTIME_BASE_IMAGE}" 2>/dev/null || echo 0)"
labels="$(podman image inspect --format \
    '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.revision"}}' \
    "${IMAGE}")"
if [[ "${labels}" != "${version} ${revision}" ]]; then
    echo "FAILED: OCI labels say '${labels}', expected '${version} ${revision}'" >&2
    exit 1
fi
log "OCI labels: version ${version}, revision ${revision}"
printf 'image %s: %s bytes (%s MiB), of which the base %s: %s MiB\n' \
    "${IMAGE}" "${size_bytes}" "$(( size_bytes / 1024 / 1024 ))" "${RUNTIME_BASE_IMAGE}" \
    "$(( base_bytes / 1024 / 1024 ))"

if [[ -n "${PUSH}" ]]; then
    target="${PUSH}:${version}"
    if [[ -n "${REGISTRY_PASSWORD:-}" ]]; then
        printf '%s' "${REGISTRY_PASSWORD}" \
            | podman login --username "${REGISTRY_USER:?REGISTRY_USER with REGISTRY_PASSWORD}" \
                --password-stdin "${target%%/*}"
    fi
    if [[ -n "${PLATFORMS}" ]]; then
        log "building ${target} for ${PLATFORMS}"
        podman manifest rm "${target}" >/dev/null 2>&1 || true
        podman build --platform "${PLATFORMS}" --manifest "${target}" "${build_args[@]}"
        podman manifest push --all "${target}" "docker://${target}"
    else
        podman tag "${IMAGE}" "${target}"
        podman push "${target}"
    fi
    log "pushed ${target}"
fi
