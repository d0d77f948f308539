# syntax=docker/dockerfile:1
# The llm-gateway image: `llm-gateway serve` on port 8000 as a non-root numeric user.
# The same image runs the upstream simulator (`llm-gateway simulate`).
#
# BASE_IMAGE is any Debian-like image whose Python (>= 3.11) is `python3` on the PATH:
# the official slim image by default, or a locally made one where no registry is
# reachable (scripts/build-image.sh). Dependencies are installed into a virtualenv
# in the builder stage; the final stage copies only that virtualenv.
#
# Behind a TLS-intercepting proxy, hand pip the proxy's CA bundle as a build secret.
# It is mounted for that one RUN and never stored in a layer:
#   podman build --secret id=pipca,src=/etc/ssl/certs/ca-certificates.crt .
ARG BASE_IMAGE=python:3.12-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
RUN python3 -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
# pip itself is removed from the virtualenv: the running gateway installs nothing.
RUN --mount=type=secret,id=pipca \
    if [ -s /run/secrets/pipca ]; then export PIP_CERT=/run/secrets/pipca; fi \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
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
# Exec form: the server is PID 1 and receives SIGTERM itself, with no shell between;
# it then fails /readyz, drains for LLM_GATEWAY_DRAIN_SECONDS and exits.
ENTRYPOINT ["llm-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
