# weather-fleet: `make` (or `make help`) lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Configuration comes from .env (copied from .env.example on first use) and the environment.
-include .env
export

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

##@ General
.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.env:
	cp .env.example .env

$(PY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(PY)

.PHONY: venv
venv: $(PY) ## create the virtual environment with every dependency

##@ Fleet (local identities, broker, stations)

##@ AWS IoT Core

##@ Pipeline

##@ Tests and benchmarks
.PHONY: schemas
schemas: $(PY) ## regenerate contracts/*.schema.json from the models
	$(PY) scripts/write_schemas.py

.PHONY: test
test: $(PY) ## run the whole test suite (Docker tests skip when no engine answers)
	$(PY) -m pytest

.PHONY: bench-publish
bench-publish: $(PY) ## station publish rate vs a bare awscrt loop, pacing lateness, RSS -> bench-results/publish.md
	$(PY) scripts/bench_publish.py

.PHONY: bench-parse
bench-parse: $(PY) ## ISD decode (+JSON) records/s beside PyPI isd (own venv in .bench/) -> bench-results/parse.md
	$(PY) scripts/bench_parse.py

.PHONY: bench
bench: ## run every benchmark and write bench-results/*.md
