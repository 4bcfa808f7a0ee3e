# Two entry points for users: `make synth` (the main job) and `make test` (the full suite);
# `make audit` (vulnerabilities + SBOM), `make bench` (figures), `make cost` (monthly estimate)
# and `make cdk CDK_ARGS=...` (any CDK CLI command, e.g. deploy) besides.
# Each installs only what it needs, from pinned versions: the app's venv (.venv) from
# requirements*.txt, the scanners' venv (.venv-scan, `make test` only), and Node.js 22 plus the
# CDK CLI from package.json into node_modules. Nothing here needs AWS credentials.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# The environment to synthesize: an embedded name (default) or a file such as envs/example.yaml.
# Not `ENV`: POSIX shells read $ENV as their start-up file, so an exported ENV would pick an environment.
LZ_ENV ?=
ifeq ($(origin ENV),command line)
$(error ENV was renamed LZ_ENV (POSIX shells use $$ENV for their start-up file): make $(MAKECMDGOALS) LZ_ENV=$(ENV))
endif

PYTHON ?= python3
# Keep in step with requires-python in pyproject.toml (a test checks it).
MIN_PYTHON := 3.11
MIN_NODE := 22
VENV := .venv
BIN := $(VENV)/bin
# checkov pins boto3/packaging versions that conflict with the app's: it lives in its own venv.
SCAN_VENV := .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin
# Which interpreter built the venvs; when it changes, both venvs are rebuilt from scratch.
INTERPRETER := .venv.interpreter
PIP_INSTALL = --quiet --disable-pip-version-check
# The pinned toolchain first: node_modules/.bin holds Node.js 22 (npm package `node`) and the
# CDK CLI, so the CLI and jsii inside the Python app run on it, not on the machine's Node.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
CDK := $(CURDIR)/node_modules/.bin/cdk --no-notices
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: synth test lint pytest audit evidence-pdf evidence-png evidence-screenshots evidence-live bench cost prices securityhub-controls schema cdk clean deps toolchain preflight deploy FORCE

## toolchain: Python >= 3.11 and npm present, checked before anything is downloaded.
toolchain:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python >= $(MIN_PYTHON), or run make PYTHON=/path/to/python3.x" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = tuple(map(int, "$(MIN_PYTHON)".split("."))); sys.exit(sys.version_info[:2] < v)' \
		|| { echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); this project needs >= $(MIN_PYTHON) (make PYTHON=python3.12 ...)" >&2; exit 1; }
	@command -v npm >/dev/null && npm --version >/dev/null 2>&1 || { echo "error: npm not found (it comes with Node.js): install Node.js and npm; make then installs the pinned Node.js $(MIN_NODE) into node_modules" >&2; exit 1; }

$(INTERPRETER): FORCE | toolchain
	@current="$$($(PYTHON) -c 'import sys; print(sys.version.split()[0], sys.executable)')"; \
	[ "$$(cat $@ 2>/dev/null)" = "$$current" ] || { echo "$$current" > $@; echo "python: $$current"; }

$(VENV)/.created: $(INTERPRETER)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $@

# What `make synth` needs: the app's runtime pins only.
$(BIN)/.synth-installed: requirements.txt $(VENV)/.created
	$(BIN)/pip install $(PIP_INSTALL) -r requirements.txt
	touch $@

# What `make test` adds: test, lint and supply-chain tools, and the card vault's function pins
# (lambda/*/requirements.txt) so its tests import the code as Lambda runs it. Synth does not need
# them: it bundles the functions with pip for the Lambda platform (pci_constructs/lambda_bundling.py).
$(BIN)/.installed: requirements.txt requirements-dev.txt $(wildcard lambda/*/requirements.txt) $(BIN)/.synth-installed
	$(BIN)/pip install $(PIP_INSTALL) -r requirements-dev.txt \
		$(foreach r,$(wildcard lambda/*/requirements.txt),-r $(r))
	touch $@

$(SCAN_VENV)/.created: $(INTERPRETER)
	rm -rf $(SCAN_VENV)
	$(PYTHON) -m venv $(SCAN_VENV)
	touch $@

$(SCAN_BIN)/.installed: requirements-scan.txt $(SCAN_VENV)/.created
	$(SCAN_BIN)/pip install $(PIP_INSTALL) -r requirements-scan.txt
	touch $@

node_modules/.installed: package.json package-lock.json | toolchain
	npm ci --no-fund --no-audit --loglevel=error
	@node_modules/.bin/node -e 'const [major] = process.versions.node.split("."); if (+major < $(MIN_NODE)) { console.error(`error: node_modules/.bin/node is ${process.version}; need >= $(MIN_NODE)`); process.exit(1); }'
	touch $@

deps: $(BIN)/.installed $(SCAN_BIN)/.installed node_modules/.installed

## synth: synthesize every stack of one environment (LZ_ENV, default: the embedded `default`) with all
## gates on. cdk.out/ is emptied first, so it holds only this environment's assembly.
## DELIVERY=default|path/to/delivery.json synthesizes the multi-account delivery instead (pipeline, OIDC,
## every environment in its stage). Needs only the app's venv and the CDK CLI, not the scanners' venv.
synth: $(BIN)/.synth-installed node_modules/.installed
	rm -rf cdk.out
	$(CDK) synth --quiet $(if $(LZ_ENV),-c env=$(LZ_ENV)) $(if $(DELIVERY),-c delivery=$(DELIVERY))
	$(BIN)/python -m pci_rules.check cdk.out

## deploy: deploy one environment of a delivery with the credentials at hand (the GitHub deploy role in
## .github/workflows/deploy.yml): make deploy DELIVERY=path/to/delivery.json STAGE=<environment name>.
## The synth (and so the gate) runs first; the CLI then assumes the CDK bootstrap roles of the stage's account.
# Checked when make reads the file, before the synth empties cdk.out.
ifneq ($(filter deploy,$(MAKECMDGOALS)),)
ifeq ($(and $(DELIVERY),$(STAGE)),)
$(error deploy needs DELIVERY=<delivery> and STAGE=<environment name>)
endif
endif
deploy: synth
	$(CDK) deploy --app cdk.out --require-approval never '$(STAGE)/*'

## cdk: any CDK CLI command on the pinned CLI and Node, e.g. make cdk CDK_ARGS="deploy --all" LZ_ENV=envs/prod.yaml
CDK_ARGS ?= ls
cdk: $(BIN)/.synth-installed node_modules/.installed
	$(CDK) $(CDK_ARGS) $(if $(LZ_ENV),-c env=$(LZ_ENV)) $(if $(DELIVERY),-c delivery=$(DELIVERY))

## test: lint, type-check and run the whole test suite (gates, cfn-lint, checkov over the default
## environment and every file in envs/, SBOM, workflow).
test: deps lint pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest-xdist: one worker per core (PYTEST_WORKERS=0 runs in this process). --dist loadscope keeps each
# test module on one worker, so a module's own synth (module-scoped fixture) is built once; the
# session's shared synths and the package's wheel are built once per source state and shared between
# workers through the on-disk cache of tests/cache.py (.test-cache/).
PYTEST_WORKERS ?= auto
pytest: deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope

## schema: regenerate envs/environment.schema.json from config/models.py (a test fails when it is stale).
schema: $(BIN)/.synth-installed
	$(BIN)/python -m config.schema envs/environment.schema.json

## cost: monthly list-price estimate per region of the LZ_ENV environment, from its synthesized templates
## and the dated price table costs/prices.json.
cost: synth
	$(BIN)/python -m costs cdk.out

## prices: regenerate costs/prices.json from AWS's public price-list files (needs internet).
prices: $(BIN)/.synth-installed
	$(BIN)/python -m costs.prices --write costs/prices.json

## securityhub-controls: refresh the vendored Security Hub PCI DSS v4.0.1 control list from the AWS documentation
## (needs internet), then regenerate the crosswalk (pci_rules/CROSSWALK.md). Not part of synth or test.
securityhub-controls: $(BIN)/.synth-installed
	$(BIN)/python -m pci_rules.refresh_controls
	$(BIN)/python -m pci_rules.crosswalk

## audit: pip-audit of every requirements file and installed venv (needs network; says so when it
## has none) and CycloneDX SBOMs of each (offline) into cdk.out/compliance/. AUDIT_STRICT=1 makes
## an unreachable vulnerability service a failure (the CI workflow sets it).
audit: $(BIN)/.installed $(SCAN_BIN)/.installed
	$(BIN)/python -m ci_tools.supply_chain --out cdk.out/compliance $(if $(AUDIT_STRICT),--strict)

## evidence-pdf: print cdk.out/compliance/pci-dss-v4-report.html (from the last synth) to PDF with
## headless Chromium (apt-get install chromium), A4 landscape. Not part of the synth.
evidence-pdf: $(BIN)/.installed
	$(BIN)/python -m evidence.browser cdk.out/compliance/pci-dss-v4-report.html cdk.out/compliance/pci-dss-v4-report.pdf

## evidence-png: after `make synth`, add a PNG of every diagram (pages and whole drawings, per-environment
## sets included) to cdk.out/compliance/ and list them in its MANIFEST.sha256. The synth writes SVG only.
evidence-png: $(BIN)/.installed
	$(BIN)/python -m evidence.report cdk.out --png

## evidence-screenshots: after `make synth`, retake the README's pictures of the report and of a
## data-flow diagram (docs/evidence-*.png) with headless Chromium; commit them with the change.
evidence-screenshots: $(BIN)/.installed
	$(BIN)/python -m evidence.browser cdk.out/compliance/pci-dss-v4-report.html --screenshots docs

## evidence-live: synthesize LZ_ENV, then read its deployed state with the operator's credentials
## (CloudFormation drift per stack, the conformance pack's compliance, Security Hub PCI DSS v4.0.1
## control status) into the same evidence set. DetectStackDrift starts a drift detection (it changes
## no resource); EVIDENCE_LIVE_ARGS=--no-detect reports the last detection's result instead.
evidence-live: synth
	$(BIN)/python -m evidence.live cdk.out $(if $(LZ_ENV),--env $(LZ_ENV)) $(EVIDENCE_LIVE_ARGS)

## bench: synth/test-suite timings and memory, medians of RUNS runs, into cdk.out/benchmarks/.
RUNS ?= 3
bench: deps
	$(BIN)/python -m benchmarks.run --runs $(RUNS) --out cdk.out/benchmarks/bench.json

## preflight: read-only checks of the target account before a deploy (account, principals, certificates,
## Config/GuardDuty/Security Hub versus their modes, CDK bootstrap, VPC/EIP/NAT/Lambda/Network Firewall
## quotas, IAM Access Analyzer, SCPs, and that no fixed name the templates create exists yet: it synthesizes
## LZ_ENV first and reads the names from cdk.out). MANAGEMENT_PROFILE=<aws profile> checks the guardrails
## from the management account. Needs AWS credentials of the target account: the only target that calls AWS.
preflight: synth $(BIN)/.installed
	$(BIN)/python -m preflight $(if $(LZ_ENV),--env $(LZ_ENV)) --assembly cdk.out \
		$(if $(MANAGEMENT_PROFILE),--management-profile $(MANAGEMENT_PROFILE))

FORCE:

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .test-cache

## vault-local: the card vault on http://127.0.0.1:$(VAULT_PORT) (embedded PostgreSQL, moto KMS and
## Secrets Manager; no AWS). Send X-Amzn-Mtls-Clientcert-Subject as the ALB would (README).
VAULT_PORT ?= 8080
.PHONY: vault-local bench-vault
vault-local: $(BIN)/.installed
	VAULT_PORT=$(VAULT_PORT) $(BIN)/python -m benchmarks.vault_local

## bench-vault: card-vault throughput, latency, KMS calls, cold import and memory (figures, not tests).
bench-vault: $(BIN)/.installed
	$(BIN)/python -m benchmarks.vault_bench
