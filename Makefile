# Two entry points for users: `make synth` (the main job) and `make test` (the full suite).
# Each installs what it needs: a Python venv from pinned requirements and the CDK CLI
# pinned in package.json. Nothing here needs AWS credentials.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CDK := node_modules/.bin/cdk --no-notices
# jsii prints a banner on Node 20 (end of life); the CDK still supports running on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: synth test lint pytest clean deps

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	touch $@

deps: $(BIN)/.installed node_modules/.installed

## synth: synthesize every stack of the embedded default environment with all gates on.
synth: deps
	$(CDK) synth --quiet $(if $(ENV),-c env=$(ENV))

## test: lint, type-check and run the whole test suite.
test: deps lint pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: deps
	$(BIN)/pytest

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
