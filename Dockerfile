# syntax=docker/dockerfile:1
# helmbot: the Slack bot plus the helm binary it runs. Build: docker build -t helmbot:0.1.0 .
# The base image is pinned by tag; pin it by digest too with --build-arg PYTHON_IMAGE=python:...@sha256:...
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

# ---- builder: the helmbot wheel, and helm from its official release archive (checksum verified) ----------
FROM ${PYTHON_IMAGE} AS builder
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# helm v4.1.4, linux-amd64: the archive's sha256 as published in helm's v4.1.4 release notes (and in
# https://get.helm.sh/helm-v4.1.4-linux-amd64.tar.gz.sha256sum). Another version or architecture needs all
# three build args; a missing or malformed checksum fails the build.
ARG HELM_VERSION=v4.1.4
ARG HELM_ARCH=amd64
ARG HELM_SHA256=70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09
COPY docker/install_helm.py /usr/local/share/helmbot/install_helm.py
RUN python /usr/local/share/helmbot/install_helm.py "${HELM_VERSION}" "${HELM_ARCH}" "${HELM_SHA256}" /out/helm \
    && /out/helm version --short

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime -----------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="helmbot" \
      org.opencontainers.image.description="Slack ChatOps for Helm: deploy, roll back, and follow a release to an early, correct verdict." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/helmbot/helmbot" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# The root filesystem is read-only in the chart: helm's dirs live under HOME, an emptyDir there.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/helmbot \
    HELM_CACHE_HOME=/home/helmbot/.cache/helm \
    HELM_CONFIG_HOME=/home/helmbot/.config/helm \
    HELM_DATA_HOME=/home/helmbot/.local/share/helm

RUN groupadd --system --gid 10001 helmbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/helmbot --create-home \
       --shell /usr/sbin/nologin helmbot \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/helmbot \
    && install -d -m 0755 /etc/helmbot

COPY --from=builder /out/helm /usr/local/bin/helm
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/helmbot-*.whl \
    && helmbot --help > /dev/null

USER 10001:10001
WORKDIR /home/helmbot
# /slack/events (HTTP mode), /healthz, /readyz, /metrics: config.slack.port
EXPOSE 3000
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
ENTRYPOINT ["helmbot"]
CMD ["run", "--config", "/etc/helmbot/config.yaml"]
