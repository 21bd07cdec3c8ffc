# Two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Kedro, MLflow and DVC all try to phone home; nothing here needs them to.
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

.PHONY: help lock setup setup-dev system-packages run test test-fast test-integration test-system lint clean upload-raw viz viz-build mlflow-ui jupyter docs

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

VIZ_PORT ?= 4141
MLFLOW_PORT ?= 5000
JUPYTER_PORT ?= 8888

# uv installs the locked stack, bytecode compiled (~45 s against ~95-150 s for pip): Python never
# writes .pyc files where PYTHONDONTWRITEBYTECODE is set, and every process would compile its
# imports again (+6 s per `kedro` command). The one uv version is the Dockerfile's.
UV_VERSION := $(shell sed -n 's/^ARG UV_VERSION=//p' Dockerfile)
UV := $(BIN)/uv
UV_INSTALL := $(UV) pip install --quiet --compile-bytecode --python $(BIN)/python
# Where the CPU build of torch (the deep extra) comes from: a local folder of wheels where pip is
# told of one (PIP_FIND_LINKS), else PyTorch's own page. PyPI's torch is the multi-GB CUDA build.
TORCH_WHEELS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
# The platform of CI, the Docker image and EC2; hashes of every file of each pinned release.
LOCK := $(UV) pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.runtime-installed: requirements.lock pyproject.toml | $(UV)
	$(UV_INSTALL) --require-hashes -r requirements.lock
	$(UV_INSTALL) --no-deps -e .
	touch $@

# Dev tools, plus the deep and pretrained extras (torch CPU, tokenizers, transformers, real
# pretrained weights) so CI runs the model tests.
$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.lock
	$(UV_INSTALL) --require-hashes --find-links $(TORCH_WHEELS) -r requirements-dev.lock
	touch $@

lock: | $(UV)  ## Re-resolve requirements*.txt and the deep and pretrained extras into the hashed lock files
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) --find-links $(TORCH_WHEELS) pyproject.toml --extra pretrained \
		-c requirements.lock -o requirements-pretrained.lock
	$(LOCK) --find-links $(TORCH_WHEELS) requirements-dev.txt pyproject.toml --extra deep --extra pretrained \
		-c requirements.lock -o requirements-dev.lock

setup: $(VENV)/.runtime-installed  ## Create .venv and install the pinned stack and the package

setup-dev: $(VENV)/.dev-installed  ## setup, plus test, lint and data tools

run: setup  ## Run the default pipeline (data_processing -> evaluation) on the default source
	$(BIN)/kedro run

system-packages:  ## Install the Debian packages the tests need (system-packages.txt)
	scripts/install-system-packages.sh

test: setup-dev system-packages  ## Run every test (what CI runs)
	$(BIN)/pytest

test-fast: setup-dev  ## Run the unit tests only: no data, no servers, no Debian packages
	$(BIN)/pytest -m unit

test-integration: setup-dev  ## Run the integration tests: Kedro runs and MLflow on the data mirror
	$(BIN)/pytest -m integration

test-system: setup-dev system-packages  ## Run the system tests: Docker, Ceph, the browser, servers
	$(BIN)/pytest -m system

lint: setup-dev  ## Check style with ruff
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:  ## Remove outputs of runs (not the raw data, not the MLflow store)
	find data -mindepth 2 -not -path 'data/01_raw/*' -not -name .gitkeep -type f -delete

# The loop back from production (docs/monitoring.md). KEDRO_ENV=aws reads the service's log on S3.
FEEDBACK_TEXTS := data/01_raw/feedback/feedback_texts.parquet
.PHONY: monitor retrain
monitor: setup  ## Drift report of the prediction log's last 24 h vs the champion's training data
	$(BIN)/kedro run --pipelines monitoring

retrain: setup-dev  ## Retrain on the source plus the feedback labels; promoted only if no worse
	$(BIN)/kedro run --pipelines feedback
	@# A local feedback table is versioned like the other raw data (commit its .dvc file).
	if [ -f $(FEEDBACK_TEXTS) ] && $(BIN)/dvc root >/dev/null 2>&1; then $(BIN)/dvc add --quiet $(FEEDBACK_TEXTS); fi
	$(BIN)/kedro run --params feedback.include=true

.PHONY: serve
serve: setup  ## Serve $SENTIMENT_MODEL_URI (default models:/sentiment@champion) on 127.0.0.1:8000
	$(BIN)/sentiment-mlops serve --host 127.0.0.1 --port 8000

viz: setup-dev  ## Look at the pipelines in kedro-viz on http://127.0.0.1:$(VIZ_PORT)
	$(BIN)/kedro viz run --no-browser --host 127.0.0.1 --port $(VIZ_PORT)

viz-build: setup-dev  ## Static kedro-viz site with previews, in build/
	$(BIN)/kedro viz build --include-previews

mlflow-ui: setup  ## The MLflow UI on the project's store, http://127.0.0.1:$(MLFLOW_PORT)
	$(BIN)/kedro mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT)

jupyter: setup-dev  ## JupyterLab with catalog, context and pipelines loaded
	$(BIN)/kedro jupyter lab --no-browser --ip 127.0.0.1 --port $(JUPYTER_PORT) $(if $(filter 0,$(shell id -u)),--allow-root)

docs: viz-build  ## Build the docs site (strict) into site/, with the static kedro-viz in site/viz/
	rm -rf docs/viz && mv build docs/viz
	$(BIN)/mkdocs build --strict

upload-raw: setup  ## Copy a source's raw files to the aws environment's bucket [SOURCE=<name>]
	$(BIN)/sentiment-mlops upload-raw $(if $(SOURCE),--source $(SOURCE)) --env aws

.PHONY: data-pull
data-pull: setup-dev  ## Fetch the DVC-tracked raw data into data/01_raw (`dvc pull`; remote: .dvc/config)
	$(BIN)/dvc pull

# Container image and AWS deployment (README: "Docker and AWS").
IMAGE ?= sentiment-mlops:latest
BASE_IMAGE ?= python:3.11-slim
# Optional extras the image adds (`pretrained`: torch CPU, transformers, ONNX Runtime).
EXTRAS ?=
.PHONY: docker-base docker-build deploy-aws destroy-aws
docker-base:  ## Offline machines only: build the stand-in base image local/python:3.11-slim
	deploy/docker/build_local_base.sh

docker-build:  ## Build the API image $(IMAGE) (BASE_IMAGE=local/python:3.11-slim when offline; EXTRAS=pretrained for a transformer champion)
	docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg EXTRAS=$(EXTRAS) --tag $(IMAGE) .

deploy-aws: setup  ## Create/update the AWS stack and push the image: ALLOWED_CIDR=a.b.c.d/32 [DEPLOY_ARGS=...]
	@test -n "$(ALLOWED_CIDR)" || { echo "Set ALLOWED_CIDR, e.g. make deploy-aws ALLOWED_CIDR=\$$(curl -s https://checkip.amazonaws.com)/32"; exit 2; }
	$(BIN)/python deploy/aws/deploy.py up --allowed-cidr $(ALLOWED_CIDR) --base-image $(BASE_IMAGE) $(DEPLOY_ARGS)

destroy-aws: setup  ## Delete the AWS stack (DEPLOY_ARGS=--delete-bucket also deletes the data bucket)
	$(BIN)/python deploy/aws/deploy.py down $(DEPLOY_ARGS)
