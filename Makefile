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
# AWS deployment of the pipeline (issue 6): `make pipeline TARGET=aws`, `make pipeline-down TARGET=aws`.
# Other TARGETs point to the local pipeline targets. DRY_RUN=1 prints the plan and changes nothing.
PIPELINE_LOCAL_HINT = echo "TARGET=$(or $(TARGET),local): the pipeline runs locally with make lake (or make lake-up), make cold, make query and make dashboard; make $@ TARGET=aws acts on AWS."

.PHONY: pipeline pipeline-down pipeline-status pipeline-crawl
pipeline: $(PY) ## TARGET=aws: deploy the pipeline to AWS (bucket, Firehose, rules, DynamoDB, Glue, Athena); DRY_RUN=1 plans
	@if [ "$(TARGET)" = aws ]; then $(PY) -m pipeline.aws deploy $(if $(DRY_RUN),--dry-run); else $(PIPELINE_LOCAL_HINT); fi

pipeline-down: $(PY) ## TARGET=aws: delete exactly what `make pipeline TARGET=aws` created (DRY_RUN=1 lists it)
	@if [ "$(TARGET)" = aws ]; then $(PY) -m pipeline.aws destroy $(if $(DRY_RUN),--dry-run); else $(PIPELINE_LOCAL_HINT); fi

pipeline-status: $(PY) ## TARGET=aws: show each pipeline resource on AWS (in-sync, drifted, absent, ...)
	@if [ "$(TARGET)" = aws ]; then $(PY) -m pipeline.aws status; else $(PIPELINE_LOCAL_HINT); fi

pipeline-crawl: $(PY) ## TARGET=aws: run the Glue crawler once over the lake (after Firehose wrote files)
	@if [ "$(TARGET)" = aws ]; then $(PY) -m pipeline.aws crawl; else $(PIPELINE_LOCAL_HINT); fi

##@ Tests and benchmarks
.PHONY: schemas
schemas: $(PY) ## regenerate contracts/*.schema.json from the models
	$(PY) scripts/write_schemas.py

.PHONY: test
test: $(PY) ## run the whole test suite (Docker tests skip when no engine answers)
	$(PY) -m pytest

.PHONY: bench
bench: ## run every benchmark and write bench-results/*.md
