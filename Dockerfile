# syntax=docker/dockerfile:1
# Switchyard: one image for every process (gateway, back office, venue, outbox).
#
#   docker build -t switchyard:0.1.0 .
#   docker run --rm -p 8080:8080 -e JWT_HS256_SECRET=... switchyard:0.1.0          # gateway
#   docker run ... switchyard:0.1.0 backoffice | venue --host 0.0.0.0 | token --account A
#
# Docker has no engine on the development machines: this file is checked structurally by
# tests/deploy/test_containers.py, not built there (docs/DEPLOYMENT.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the runtime dependencies, pinned by requirements.lock, into a virtualenv -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/switchyard
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# The outbox's native codec (src/switchyard/outbox/_codec.c) is compiled here: a C compiler and
# the zlib and OpenSSL headers; the runtime image already has the libraries (zlib1g, libssl3).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
# Only `project.dependencies` and what they need, each at the version in requirements.lock
# (the lock also pins test and benchmark tools, which stay out of the image).
RUN /opt/switchyard/bin/pip install --constraint requirements.lock . \
    && /opt/switchyard/bin/pip uninstall --yes pip setuptools \
    && find /opt/switchyard -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="Order gateway and event switchyard for low-latency trading"
# A fixed non-root uid/gid, so volumes can be prepared for it (Kubernetes fsGroup 10001).
RUN groupadd --system --gid 10001 switchyard \
    && useradd --system --uid 10001 --gid switchyard --home-dir /var/lib/switchyard \
       --shell /usr/sbin/nologin switchyard \
    && install -d -o switchyard -g switchyard -m 0750 /var/lib/switchyard
COPY --from=build /opt/switchyard /opt/switchyard
ENV PATH=/opt/switchyard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SWITCHYARD_DATA_DIR=/var/lib/switchyard \
    SWITCHYARD_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    BACKOFFICE_HOST=0.0.0.0 \
    EXCHANGE_TCP_BIND=0.0.0.0 \
    HEALTHCHECK_URL=http://127.0.0.1:8080/health
USER switchyard:switchyard
WORKDIR /var/lib/switchyard
VOLUME ["/var/lib/switchyard"]
# gateway, back office, venue (TCP + metrics), stand-alone outbox metrics
EXPOSE 8080 8082 9901 9902 9903
# /health answers 200 (healthy or degraded) or 503 (unhealthy); no curl in a slim image.
# Set HEALTHCHECK_URL for the back office (:8082/health) or the venue (:9902/metrics).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=2).status == 200 else 1)"]
# SIGTERM: graceful stop (drain, fsync, close); the WAL writer is a child process, so run
# with an init (docker run --init, compose `init: true`) to reap it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard"]
CMD ["run"]
