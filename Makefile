# Two entry points for users: `make synth` (the main job) and `make test` (the full suite);
# `make audit` (vulnerabilities + SBOM) and `make bench` (figures) for pull-request checks.
# Each installs what it needs: Python venvs from pinned requirements and the CDK CLI
# pinned in package.json. Nothing here needs AWS credentials.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins boto3/packaging versions that conflict with the app's: it lives in its own venv.
SCAN_VENV := .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin
CDK := node_modules/.bin/cdk --no-notices
# jsii prints a banner on Node 20 (end of life); the CDK still supports running on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: synth test lint pytest audit bench clean deps deploy

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SCAN_BIN)/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_BIN)/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	touch $@

deps: $(BIN)/.installed $(SCAN_BIN)/.installed node_modules/.installed

## synth: synthesize every stack of the embedded default environment with all gates on.
## DELIVERY=default|path/to/delivery.json synthesizes the multi-account delivery instead (pipeline, OIDC, stages).
synth: deps
	$(CDK) synth --quiet $(if $(ENV),-c env=$(ENV)) $(if $(DELIVERY),-c delivery=$(DELIVERY))

## deploy: deploy one environment of a delivery with the credentials at hand (the GitHub deploy role in
## .github/workflows/deploy.yml): make deploy DELIVERY=path/to/delivery.json STAGE=<environment name>.
## The synth (and so the gate) runs first; the CLI then assumes the CDK bootstrap roles of the stage's account.
deploy: synth
	$(if $(and $(DELIVERY),$(STAGE)),,$(error deploy needs DELIVERY=<delivery> and STAGE=<environment name>))
	$(CDK) deploy --app cdk.out --require-approval never '$(STAGE)/*'

## test: lint, type-check and run the whole test suite (gates, cfn-lint, checkov, SBOM, workflow).
test: deps lint pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: deps
	$(BIN)/pytest

## audit: pip-audit of every requirements file and installed venv (needs network; says so when it
## has none) and CycloneDX SBOMs of each (offline) into cdk.out/compliance/. AUDIT_STRICT=1 makes
## an unreachable vulnerability service a failure (the CI workflow sets it).
audit: $(BIN)/.installed $(SCAN_BIN)/.installed
	$(BIN)/python -m compliance.supply_chain --out cdk.out/compliance $(if $(AUDIT_STRICT),--strict)

## bench: synth/test-suite timings and memory, medians of RUNS runs, into cdk.out/benchmarks/.
RUNS ?= 3
bench: deps
	$(BIN)/python -m benchmarks.run --runs $(RUNS) --out cdk.out/benchmarks/bench.json

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
