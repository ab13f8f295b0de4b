# Convene — the two commands: `make dev` (whole system locally) and `make test` (whole suite).
# Both create the virtualenv and install the pinned dependencies themselves.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: dev test unit bench package tools clean trigger infra-check lint openapi-lint api-limits

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

# checkov (offline Terraform policy checks) in its own venv: its pins clash with the project's.
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

# Redocly CLI (OpenAPI linter), pinned by package.json + package-lock.json, in ./node_modules.
# Lint never touches the network: telemetry off (also in redocly.yaml), no update check.
NODE_STAMP := node_modules/.installed
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo 'make openapi-lint needs node >= 20.19 and npm on PATH (NodeSource nodejs 20/22; Debian 12 has 18)' >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

openapi-lint: $(NODE_STAMP) ## docs/openapi.yaml against Redocly's recommended rules (redocly.yaml, exceptions in .redocly.lint-ignore.yaml)
	$(REDOCLY) lint docs/openapi.yaml

tools:
	@scripts/check-tools

dev: $(STAMP) tools
	$(BIN)/python -m devstack.dev

# SKIP_OPENAPI_LINT=1: for a build image without node (Cloud Build lints in a node step of its own).
test: $(STAMP) $(CHECKOV_STAMP) tools lint $(if $(SKIP_OPENAPI_LINT),,openapi-lint)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff (lint, format check; fix with: .venv/bin/ruff check --fix . && .venv/bin/ruff format .) and mypy (pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

api-limits: $(STAMP) ## after editing docs/openapi.yaml: rewrite shared/api_limits.py, the request limits the code checks (tests/unit/test_api_limits.py fails while stale)
	$(BIN)/python scripts/gen_api_limits.py

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/service

package: $(STAMP)
	$(BIN)/python scripts/package.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules dist .convene .pytest_cache

bench: $(STAMP) tools ## cold starts vs their floors; Firestore/Google calls per request; contention (docs/benchmarks.md)
	$(BIN)/python -m bench.cold_start --runs 15 --json .convene/bench/cold_start.json
	$(BIN)/python -m bench.join_ops --json .convene/bench/join_ops.json
	$(BIN)/python -m bench.create_ops --json .convene/bench/create_ops.json
	$(BIN)/python -m bench.reminder_reads --json .convene/bench/reminder_reads.json
	$(BIN)/python -m bench.booking_contention --json .convene/bench/booking_contention.json
	$(BIN)/python -m bench.slots --json .convene/bench/slots.json
	$(BIN)/python -m bench.availability_ops --json .convene/bench/availability_ops.json
	$(BIN)/python -m bench.link_contention --json .convene/bench/link_contention.json

trigger: $(STAMP) ## run a scheduled function of the running `make dev` as Cloud Scheduler would: make trigger JOB=reminders
	$(BIN)/python -m devstack.trigger $(JOB)

infra-check: $(STAMP) $(CHECKOV_STAMP) ## the offline Terraform checks alone (fmt, provider schema, checkov, ties to the code)
	$(BIN)/python -m pytest tests/infra
