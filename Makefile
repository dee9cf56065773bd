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
# `make register TARGET=aws` / `make up TARGET=aws` (Fleet section) call provisioning.aws through the fleet CLI.
TARGET ?= local

.PHONY: unregister
unregister: $(PY) ## remove the fleet's identities; TARGET=aws deletes exactly the AWS resources in the manifest
ifeq ($(TARGET),aws)
	$(PY) -m provisioning.aws unregister
else
	$(PY) -m provisioning.cli unregister --target $(TARGET)
endif

.PHONY: plan-aws
plan-aws: $(PY) ## print what `make register TARGET=aws` would create (no AWS call)
	$(PY) -m provisioning.aws plan

.PHONY: cost
cost: $(PY) ## print messages, duration and cost of a run (REPLAY_SPEED, PRICE_PER_MILLION_MESSAGES)
	$(PY) -m provisioning.aws cost

.PHONY: bench-register
bench-register: $(PY) ## time registering 1,000 things against moto_server (bench-results/register.md)
	$(PY) scripts/bench_register.py --count 1000


##@ Pipeline

##@ Tests and benchmarks
.PHONY: schemas
schemas: $(PY) ## regenerate contracts/*.schema.json from the models
	$(PY) scripts/write_schemas.py

.PHONY: test
test: $(PY) ## run the whole test suite (Docker tests skip when no engine answers)
	$(PY) -m pytest

.PHONY: bench
bench: ## run every benchmark and write bench-results/*.md
