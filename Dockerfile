# haws: one image for every service; the command picks it
# (`gateway`, `replay`, `presence`, see docker-compose.yml).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a self-contained venv, so the runtime stage needs no pip or build tools.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Only what the wheel is built from (see .dockerignore), so edits to tests or
# docs do not invalidate this layer.
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
COPY clients/python ./clients/python
# The otlp extra is what HAWS_TRACE_EXPORTER=otlp loads (OTLP over HTTP). The SDK
# folder in the same call: it is the haws-client the server depends on.
# PIP_OPTIONS: for builds that cannot reach a package index, e.g. `make
# compose-images` passes `--no-index --find-links /wheels` with wheels built on the host.
ARG PIP_OPTIONS=""
RUN /opt/venv/bin/pip install ./clients/python ".[fast,otlp]" ${PIP_OPTIONS}

# --- runtime
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 haws \
    && useradd --system --uid 10001 --gid haws --no-create-home --shell /usr/sbin/nologin haws
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/haws/healthcheck.py
USER haws:haws
# Documentation only: the gateway's default port; replay and presence serve
# their health HTTP on HAWS_HTTP_PORT (8091, 8092 in compose).
EXPOSE 8080
# Liveness from the service's own HAWS_(HTTP_)HOST/PORT, default 127.0.0.1:8080.
HEALTHCHECK --interval=5s --timeout=4s --start-period=20s --retries=3 \
    CMD ["python", "/opt/haws/healthcheck.py", "/health"]
ENTRYPOINT ["haws"]
CMD ["--help"]
