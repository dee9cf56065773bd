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
# The lake writer connects to the broker published on the host; in compose (`lake-up`) it runs as the owner of the
# monitor's private key, so it can read it without any privilege.
LAKE_DIR ?= lake
MONITOR_IDENTITY_DIR ?= $(or $(FLEET_DIR),.fleet)/things/monitor
PIPELINE_COMPOSE = $(COMPOSE) $(if $(wildcard $(or $(FLEET_DIR),.fleet)/compose.env),--env-file $(or $(FLEET_DIR),.fleet)/compose.env) -f compose.yaml -f compose.pipeline.yaml --profile pipeline
LAKE_OWNER = $(shell stat -c '%u:%g' "$(MONITOR_IDENTITY_DIR)/private.key" 2>/dev/null || echo "$$(id -u):$$(id -g)")

.PHONY: lake lake-up lake-down cold query dashboard
lake: $(PY) ## run the lake writer here, in the foreground (Ctrl-C flushes and stops): broker -> LAKE_DIR
	MQTT_HOST=$(or $(LAKE_MQTT_HOST),localhost) MQTT_PORT=$(or $(BROKER_PORT),8883) \
	  MONITOR_IDENTITY_DIR="$(MONITOR_IDENTITY_DIR)" $(PY) -m pipeline lake

lake-up: ## run the lake writer as a compose service (profile pipeline) beside the fleet
	mkdir -p "$(LAKE_DIR)"
	LAKE_UID=$(word 1,$(subst :, ,$(LAKE_OWNER))) LAKE_GID=$(word 2,$(subst :, ,$(LAKE_OWNER))) \
	  $(PIPELINE_COMPOSE) up -d --build lake

lake-down: ## stop the compose lake writer (it flushes first); the lake and its ledger stay
	$(PIPELINE_COMPOSE) stop lake
	$(PIPELINE_COMPOSE) rm -f lake

cold: $(PY) ## show the cold-readings table (the lab's DynamoDB rule: readings below -5 °C)
	$(PY) -m pipeline cold

query: $(PY) ## run the lab's Athena queries over the lake with DuckDB (or your own: make query SQL="...")
	$(PY) -m pipeline query $(if $(SQL),"$(SQL)")

dashboard: $(PY) ## write the self-contained HTML dashboard (LAKE_DIR/dashboard.html) from the lake
	$(PY) -m pipeline dashboard


##@ Tests and benchmarks
.PHONY: schemas
schemas: $(PY) ## regenerate contracts/*.schema.json from the models
	$(PY) scripts/write_schemas.py

.PHONY: test
test: $(PY) ## run the whole test suite (Docker tests skip when no engine answers)
	$(PY) -m pytest

.PHONY: bench
bench: ## run every benchmark and write bench-results/*.md
