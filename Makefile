# Two commands set up everything on a fresh Debian/Ubuntu machine with Python 3.11+:
#   make run   - bootstrap, then the full pipeline on default params
#   make test  - bootstrap, then the test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Where the default local DVC remote lives when none is configured (override: make run DVC_REMOTE=...)
DVC_REMOTE ?= $(HOME)/.cache/fitting-room/dvc-remote
APT_RUN := dataset-fashion-mnist
APT_TEST := chromium chromium-driver postgresql
APT_STACK := postgresql
APT_BENCH := wrk
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY ?= true
# the ephemeral API server gets 20 s to start by default: too little on a busy 2-core box
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export PREFECT_HOME ?= $(CURDIR)/.prefect
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: help bootstrap run smoke test lint format bench-tools ui clean stack stack-down stack-status

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  else echo "apt-get not found: skipping Debian packages$$missing (the loader downloads Fashion-MNIST instead)"; fi; \
	fi
endef

bootstrap: $(VENV)/.synced  ## create .venv from uv.lock and install Debian packages when apt is present
	$(call apt_install,$(APT_RUN))
	@if ! $(BIN)/dvc remote default >/dev/null 2>&1; then \
	  mkdir -p "$(DVC_REMOTE)" && $(BIN)/dvc remote add --local -d -f localremote "$(DVC_REMOTE)" && \
	  echo "DVC: default remote 'localremote' -> $(DVC_REMOTE)"; fi

run: bootstrap  ## run the full pipeline on default params (PROFILE=smoke for a quick one)
	$(BIN)/python flows/training_pipeline.py $(if $(PROFILE),--profile $(PROFILE))

smoke:  ## the whole pipeline on the smoke profile
	$(MAKE) run PROFILE=smoke

test: bootstrap  ## run the test suite (real MLflow, Prefect, DVC, GX, TensorFlow, BentoML, Chromium)
	$(call apt_install,$(APT_TEST))
	$(BIN)/ruff check src flows tests benchmarks
	$(BIN)/pytest $(PYTEST_ARGS)

bench-tools: bootstrap  ## Debian tools the benchmarks use (wrk drives benchmarks/serve_latency.py)
	$(call apt_install,$(APT_BENCH))

lint: $(VENV)/.synced  ## ruff lint and format check, mypy on src/ ([tool.mypy] in pyproject.toml)
	$(BIN)/ruff check src flows tests benchmarks
	$(BIN)/ruff format --check src flows tests benchmarks
	$(BIN)/mypy

format: $(VENV)/.synced  ## apply ruff formatting and fixes
	$(BIN)/ruff format src flows tests benchmarks
	$(BIN)/ruff check --fix src flows tests benchmarks

stack: bootstrap  ## start PostgreSQL, S3 store, MLflow + Prefect servers and a worker on loopback
	$(call apt_install,$(APT_STACK))
	$(BIN)/fitting-room stack up

stack-down: $(VENV)/.synced  ## stop exactly what `make stack` started (data kept; fitting-room stack down --purge drops it)
	$(BIN)/fitting-room stack down

stack-status: $(VENV)/.synced  ## which stack servers run, their URLs and logs
	$(BIN)/fitting-room stack status

ui: $(VENV)/.synced  ## MLflow UI on http://127.0.0.1:5000 over the embedded store
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db --host 127.0.0.1 --port 5000

clean:  ## remove pipeline outputs (keeps .venv and the DVC cache)
	rm -rf data models reports/validation/*_data_docs build mlruns .prefect
