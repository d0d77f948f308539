# syntax=docker/dockerfile:1
# The llm-gateway image: `llm-gateway serve` on port 8000 as a non-root numeric user.
# The same image runs the upstream simulator (`llm-gateway simulate`).
#
# It holds exactly the tested set: the builder exports uv.lock's runtime packages as a
# hash-checked requirements file and installs those (no resolution, no other versions),
# then the gateway itself without dependencies. The final stage copies only that
# virtualenv: no uv, pip, compiler or cache. Bytecode is compiled at build time, because
# the root filesystem is read-only in Kubernetes.
#
# BASE_IMAGE is any Debian-like image whose Python (>= 3.11) is `python3` on the PATH and
# has venv and pip: the official slim image by default, or a locally made one where no
# registry is reachable (scripts/build-image.sh). RUNTIME_BASE_IMAGE (default: the same)
# needs only that Python, at the same path.
#
# Behind a TLS-intercepting proxy, hand pip and uv the proxy's CA bundle as a build secret.
# It is mounted for each RUN that downloads and never stored in a layer:
#   podman build --secret id=pipca,src=/etc/ssl/certs/ca-certificates.crt .
# VERSION, REVISION and SOURCE fill the OCI labels (scripts/build-image.sh and the release
# workflow pass the package version and the commit).
ARG BASE_IMAGE=python:3.12-slim-bookworm
ARG RUNTIME_BASE_IMAGE=${BASE_IMAGE}

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /build
# uv itself, at the version and hashes of scripts/uv-requirements.txt.
COPY scripts/uv-requirements.txt ./
RUN --mount=type=secret,id=pipca \
    if [ -s /run/secrets/pipca ]; then export PIP_CERT=/run/secrets/pipca; fi \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --require-hashes --no-deps -r uv-requirements.txt
# The locked dependencies: a layer of their own, rebuilt only when uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=secret,id=pipca \
    if [ -s /run/secrets/pipca ]; then export SSL_CERT_FILE=/run/secrets/pipca; fi \
    && /opt/uv/bin/uv export --frozen --no-dev --no-emit-project --no-header \
       --output-file requirements.txt \
    && /opt/uv/bin/uv venv --python python3 /opt/venv \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python \
       --require-hashes --no-deps --requirement requirements.txt
COPY src ./src
RUN --mount=type=secret,id=pipca \
    if [ -s /run/secrets/pipca ]; then export SSL_CERT_FILE=/run/secrets/pipca; fi \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps . \
    && /opt/venv/bin/llm-gateway --version

FROM ${RUNTIME_BASE_IMAGE}
# HOME and the Hugging Face cache live under /tmp: in Kubernetes the root filesystem
# is read-only and /tmp is an emptyDir (also where multi-worker metrics files go).
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    HF_HOME=/tmp/huggingface
RUN groupadd --system --gid 10001 llm-gateway \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin llm-gateway
COPY --from=builder /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000
# Last, so that a new commit changes only the labels' layer.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/llm-monitor/llm-monitor
LABEL org.opencontainers.image.title="llm-gateway" \
      org.opencontainers.image.description="An observable gateway to Mistral models on Hugging Face, with its upstream simulator." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}"
# Exec form: the server is PID 1 and receives SIGTERM itself, with no shell between;
# it then fails /readyz, drains for LLM_GATEWAY_DRAIN_SECONDS and exits.
ENTRYPOINT ["llm-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
