# weather-fleet: `make` (or `make help`) lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Configuration comes from .env (copied from .env.example on first use) and the environment; the environment
# wins (as in pydantic-settings and compose), so e.g. CI's DATA_DIR is not overridden by .env's.
_DOTENV_KEYS := $(shell sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*/\1/p' .env 2>/dev/null)
_ENV_KEYS := $(foreach v,$(_DOTENV_KEYS),$(if $(filter environment,$(origin $v)),$v))
$(foreach v,$(_ENV_KEYS),$(eval _saved_$v := $$($v)))
-include .env
$(foreach v,$(_ENV_KEYS),$(eval $v := $$(_saved_$v)))
export

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

# Fleet paths are made absolute so compose, Python and docker agree whatever the working directory.
override FLEET_DIR := $(abspath $(or $(FLEET_DIR),.fleet))
override DATA_DIR := $(abspath $(or $(DATA_DIR),data))
# Station containers run as the owner of the identity files: you, or uid 10001 when you are root
# (`make register` run as root hands the station identities to that uid).
HOST_UID := $(shell id -u)
HOST_GID := $(shell id -g)
FLEET_UID ?= $(if $(filter 0,$(HOST_UID)),10001,$(HOST_UID))
FLEET_GID ?= $(if $(filter 0,$(HOST_UID)),10001,$(HOST_GID))
COMPOSE_ENV = $(FLEET_DIR)/compose.env
FLEET_COMPOSE = $(COMPOSE) $(if $(wildcard $(COMPOSE_ENV)),--env-file $(COMPOSE_ENV)) -f compose.yaml
# The station services of compose.yaml that the registered fleet fills (FLEET_COUNT below 5 leaves some out).
FLEET_SERVICES = $(wordlist 1,$(or $(shell sed -n 's/^FLEET_SIZE=//p' "$(COMPOSE_ENV)" 2>/dev/null),5),\
                 station-1 station-2 station-3 station-4 station-5)

##@ General
.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Created on first use, except for the test and benchmark goals: they must not depend on a developer's .env.
ifeq ($(filter test bench%,$(MAKECMDGOALS)),)
.env:
	cp .env.example .env
endif

$(PY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(PY)

.PHONY: venv
venv: $(PY) ## create the virtual environment with every dependency

##@ Fleet (local identities, broker, stations)
.PHONY: data register images up logs ps watch down clean
data: $(PY) ## make sure DATA_DIR holds the lab's five station-years (downloads them from NCEI if not)
	$(PY) -m provisioning data --data-dir "$(DATA_DIR)"

register: $(PY) data ## create (or keep) the CA, one identity per station + monitor, broker files, manifest
	$(PY) -m provisioning register --fleet-dir "$(FLEET_DIR)" --data-dir "$(DATA_DIR)"

images: ## build the station image (BASE_IMAGE) for compose
	$(FLEET_COMPOSE) build station-1

up: register images ## start the broker and the five stations in the background (TARGET=aws: the stations only)
	$(FLEET_COMPOSE) up -d --remove-orphans $(if $(filter aws,$(TARGET)),--no-deps,broker) $(FLEET_SERVICES)
	@echo "Fleet started. \`make ps\` shows it, \`make logs\` follows the stations, \`make watch\` prints messages."

logs: ## follow the stations' and broker's logs (Ctrl-C to stop)
	$(FLEET_COMPOSE) logs -f --tail=20

ps: ## show the fleet's containers and their health
	$(FLEET_COMPOSE) ps

watch: $(PY) ## subscribe with the monitor identity and print each message (Ctrl-C to stop)
	$(PY) -m provisioning watch --fleet-dir "$(FLEET_DIR)" --port "$(or $(BROKER_PORT),8883)"

down: ## stop and remove the fleet's containers (keeps identities, checkpoints and broker data)
	$(FLEET_COMPOSE) down --remove-orphans

.PHONY: bench-register-local
bench-register-local: $(PY) ## benchmark local registration (cold and idempotent re-run) into bench-results/
	$(PY) scripts/bench_register_local.py

clean: ## remove containers, volumes and (after asking; YES=1 skips) the identities in FLEET_DIR
	@if [ "$(YES)" != 1 ]; then \
	  read -r -p "Delete the fleet's containers, volumes and every identity in $(FLEET_DIR) (the local CA too)? [y/N] " a \
	    || a=n; case "$$a" in [yY]*) ;; *) echo "nothing deleted"; exit 0;; esac; fi; \
	set -x; $(FLEET_COMPOSE) down --volumes --remove-orphans && rm -rf "$(FLEET_DIR)"

##@ AWS IoT Core
# `make register TARGET=aws` / `make up TARGET=aws` (Fleet section) call provisioning.aws through the fleet CLI.
TARGET ?= local

.PHONY: unregister
unregister: $(PY) ## remove the fleet's identities; TARGET=aws deletes exactly the AWS resources in the manifest
	$(PY) -m provisioning unregister --target "$(TARGET)" --fleet-dir "$(FLEET_DIR)"

# Before `make up TARGET=aws` starts the stations: what the run will send and cost (after register, before compose).
.PHONY: aws-preflight
up: aws-preflight
aws-preflight: $(PY) register
ifeq ($(TARGET),aws)
	@$(PY) -m provisioning.aws cost --fleet-dir "$(FLEET_DIR)" --data-dir "$(DATA_DIR)"
endif

.PHONY: plan-aws
plan-aws: $(PY) ## print what `make register TARGET=aws` would create (no AWS call)
	$(PY) -m provisioning.aws plan --fleet-dir "$(FLEET_DIR)" --data-dir "$(DATA_DIR)"

.PHONY: cost
cost: $(PY) ## print messages, duration and cost of a run (SPEEDUP, PRICE_PER_MILLION_MESSAGES)
	$(PY) -m provisioning.aws cost --fleet-dir "$(FLEET_DIR)" --data-dir "$(DATA_DIR)"

.PHONY: bench-register
bench-register: $(PY) ## time registering 1,000 things against moto_server (bench-results/register.md)
	$(PY) scripts/bench_register.py --count 1000


##@ Pipeline
# The lake writer connects to the broker published on the host; in compose (`lake-up`) it runs as the owner of the
# monitor's private key, so it can read it without any privilege.
LAKE_DIR ?= lake
MONITOR_IDENTITY_DIR ?= $(or $(FLEET_DIR),.fleet)/things/monitor
PIPELINE_COMPOSE = $(COMPOSE) $(if $(wildcard $(or $(FLEET_DIR),.fleet)/compose.env),--env-file $(or $(FLEET_DIR),.fleet)/compose.env) -f compose.yaml -f compose.pipeline.yaml --profile pipeline
LAKE_OWNER = $(shell stat -c '%u:%g' "$(MONITOR_IDENTITY_DIR)/private.key" 2>/dev/null || echo "$$(id -u):$$(id -g)")

.PHONY: lake lake-up lake-down cold query dashboard bench-lake
lake: $(PY) ## run the lake writer here, in the foreground (Ctrl-C flushes and stops): broker -> LAKE_DIR
	MQTT_HOST=localhost MQTT_PORT=$(or $(BROKER_PORT),8883) \
	  MONITOR_IDENTITY_DIR="$(MONITOR_IDENTITY_DIR)" $(PY) -m pipeline lake

lake-up: ## run the lake writer as a compose service (profile pipeline) beside the fleet
	mkdir -p "$(LAKE_DIR)"
	LAKE_DIR="$(abspath $(LAKE_DIR))" LAKE_UID=$(word 1,$(subst :, ,$(LAKE_OWNER))) \
	  LAKE_GID=$(word 2,$(subst :, ,$(LAKE_OWNER))) $(PIPELINE_COMPOSE) up -d --build lake

lake-down: ## stop the compose lake writer (it flushes first); the lake and its ledger stay
	LAKE_DIR="$(abspath $(LAKE_DIR))" $(PIPELINE_COMPOSE) stop lake
	LAKE_DIR="$(abspath $(LAKE_DIR))" $(PIPELINE_COMPOSE) rm -f lake

cold: $(PY) ## show the cold-readings table (the lab's DynamoDB rule: readings below -5 °C)
	$(PY) -m pipeline cold

query: $(PY) ## run the lab's Athena queries over the lake with DuckDB (or your own: make query SQL="...")
	$(PY) -m pipeline query $(if $(SQL),"$(SQL)")

dashboard: $(PY) ## write the self-contained HTML dashboard (LAKE_DIR/dashboard.html) from the lake
	$(PY) -m pipeline dashboard

bench-lake: $(PY) ## benchmark the lake writer and the DuckDB queries (bench-results/pipeline-lake.md)
	$(PY) scripts/bench_lake.py

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
# Tests see the environment, not .env: variables only .env sets are removed, except the images to use and a
# DATA_DIR that holds ISD files (the tests' default is ../shared/data/isd).
_TEST_KEEP := BASE_IMAGE MOSQUITTO_IMAGE STATION_IMAGE $(if $(wildcard $(DATA_DIR)/*-*-*),DATA_DIR)
_TEST_UNSET := $(filter-out $(_ENV_KEYS) $(_TEST_KEEP),$(_DOTENV_KEYS))
test: $(PY) ## run the whole test suite (Docker tests skip when no engine answers)
	env $(addprefix -u ,$(_TEST_UNSET)) $(PY) -m pytest

.PHONY: bench-publish
bench-publish: $(PY) ## station publish rate vs a bare awscrt loop, pacing lateness, RSS -> bench-results/publish.md
	$(PY) scripts/bench_publish.py

.PHONY: bench-parse
bench-parse: $(PY) ## ISD decode (+JSON) records/s beside PyPI isd (own venv in .bench/) -> bench-results/parse.md
	$(PY) scripts/bench_parse.py

# Every `bench-<name>` target in this Makefile, whoever added it.
BENCH_TARGETS := $(sort $(shell sed -n 's/^\(bench-[A-Za-z0-9_-]*\):.*/\1/p' $(MAKEFILE_LIST)))
.PHONY: bench
bench: $(BENCH_TARGETS) ## run every benchmark and write bench-results/*.md
	@echo "benchmarks run: $(or $(BENCH_TARGETS),none)"; ls bench-results/*.md 2>/dev/null || true
