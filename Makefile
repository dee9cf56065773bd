# weather-fleet: `make help` lists the targets. Each calls one CLI, which reads the environment and .env itself
# (the environment wins): `make up FLEET_COUNT=10` is `FLEET_COUNT=10 python -m deploy up`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# What the fleet's commands need first: the venv, and `.env` (copied from .env.example on first use).
CLI = $(PY) | .env
comma := ,
# Station selection for `make data` / `make stations` (flags of `python -m stationdata data|stations`).
SELECTION_FLAGS = $(foreach c,$(subst $(comma), ,$(COUNTRY)),--country $c) $(foreach s,$(subst $(comma), ,$(STATE)),--state $s) \
                  $(foreach i,$(subst $(comma), ,$(ICAO)),--icao $i) $(foreach i,$(subst $(comma), ,$(STATION_IDS)),--station $i) \
                  $(if $(BBOX),--bbox "$(BBOX)") $(if $(NEAR),--near "$(NEAR)") $(if $(RADIUS),--radius $(RADIUS)) \
                  $(if $(YEAR),--year $(YEAR)) $(if $(LIMIT),--limit $(LIMIT)) \
                  $(if $(CATALOGUE),--catalogue "$(CATALOGUE)") $(if $(filter 1,$(REFRESH)),--refresh)
# The AWS half of the pipeline targets: TARGET=aws (environment or .env) acts on AWS, else points to the local ones.
AWS_PIPELINE = $(PY) -m deploy on-aws --otherwise "TARGET={target}: the pipeline runs locally with make lake (or make lake-up), make cold, make query and make dashboard; make $@ TARGET=aws acts on AWS." pipeline.aws $1

##@ General
.PHONY: help venv lock lock-check
help: ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Created on first use, except for the test, benchmark, venv and lock goals: they must not depend on a developer's .env.
ifeq ($(filter test test-quick bench% venv lock%,$(MAKECMDGOALS)),)
.env:
	cp .env.example .env
endif

# Exactly the lock (requirements/dev.txt, hashed), then the project itself: nothing unpinned is fetched.
$(PY): requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(PY)
venv: $(PY) ## create the virtual environment with every dependency, exactly as locked (requirements/dev.txt)
lock: $(PY) ## re-resolve uv.lock to the newest versions pyproject.toml allows and rewrite requirements/*.txt
	$(PY) scripts/lock.py
lock-check: $(PY) ## fail when pyproject.toml, uv.lock and requirements/*.txt disagree (CI runs it)
	$(PY) scripts/lock.py --check

##@ Fleet (identities, broker, stations; TARGET=aws: AWS IoT Core identities, stations only)
.PHONY: data stations identities register unregister undeploy images up aws-preflight broker-reload logs ps watch down clean
data: $(CLI) ## make sure DATA_DIR holds the station-years (lab's five; or STATIONS=..., or COUNTRY= YEAR= LIMIT=...)
	$(PY) -m stationdata data $(if $(STATIONS),--stations "$(STATIONS)") $(SELECTION_FLAGS)
stations: $(CLI) ## list catalogue stations (COUNTRY= STATE= BBOX= NEAR= RADIUS= ICAO= STATION_IDS= YEAR= LIMIT= JSON=1)
	$(PY) -m stationdata stations $(SELECTION_FLAGS) $(if $(filter 1,$(JSON)),--json)
identities: data $(CLI) ## create (or keep) the CA, one identity per station + monitor, broker files, manifest
	$(PY) -m provisioning register
register: identities ## identities, then the deployment from the manifest: compose.env, shards, generated services
	$(PY) -m deploy write
undeploy: $(CLI) ## delete what `make register` wrote for the deployment (compose.env, shards, generated services)
	$(PY) -m deploy remove
unregister: undeploy ## remove the fleet's identities; TARGET=aws deletes exactly the AWS resources in the manifest
	$(PY) -m provisioning unregister
images: $(CLI) ## build the station and broker images (BASE_IMAGE; the broker's holds the fleet_identity plugin)
	$(PY) -m deploy images
up: register images aws-preflight ## start the broker and the stations (FLEET_COUNT, 5); returns once the broker answers
	$(PY) -m deploy up

# Before `make up TARGET=aws` starts the stations: what the run will send and cost (after register, before compose).
aws-preflight: register $(CLI)
	@$(PY) -m deploy on-aws provisioning.aws cost
broker-reload: $(CLI) ## make a running broker re-read the ACL after `make register` changed the fleet (`make up` does it)
	$(PY) -m deploy acl-reload
logs: $(CLI) ## follow the stations' and broker's logs (Ctrl-C to stop)
	$(PY) -m deploy logs
ps: $(CLI) ## show the fleet's containers (stopped ones too) and their health
	$(PY) -m deploy ps
watch: $(CLI) ## subscribe with the monitor identity and print each message (waits BROKER_WAIT_SECONDS for a broker starting)
	$(PY) -m provisioning watch
down: $(CLI) ## stop and remove the fleet's containers (keeps identities, checkpoints and broker data)
	$(PY) -m deploy down
clean: $(CLI) ## remove containers, volumes and (after asking; YES=1 skips) the identities in FLEET_DIR
	$(PY) -m deploy clean $(if $(filter 1,$(YES)),--yes)

##@ Swarm (several hosts; docs/swarm.md)
.PHONY: swarm-images swarm-up swarm-down swarm-ps
swarm-images: $(CLI) ## build the station and broker images (and the pipeline image with PIPELINE=1) for the stack
	$(PY) -m deploy stack images
swarm-up: register swarm-images ## deploy (or update) the fleet as the stack SWARM_STACK; returns once the broker answers
	$(PY) -m deploy stack up
swarm-down: $(CLI) ## remove the stack and exactly the secrets/configs it created (volumes are kept)
	$(PY) -m deploy stack down
swarm-ps: $(CLI) ## show the stack's services and tasks; fails when a station service has replicas != 1
	$(PY) -m deploy stack ps

##@ AWS IoT Core (`make register TARGET=aws`, `make up TARGET=aws` in the Fleet section)
.PHONY: plan-aws cost aws-doctor
plan-aws: $(CLI) ## print what `make register TARGET=aws` would create, its peak rate vs AWS limits (no AWS call)
	$(PY) -m provisioning.aws plan
cost: $(CLI) ## print messages, duration, cost (also per hour) and the AWS limits the rate exceeds
	$(PY) -m provisioning.aws cost
aws-doctor: $(CLI) ## read-only checks before a first AWS run: credentials, region, endpoint, roles, quotas
	$(PY) -m provisioning.aws doctor

##@ Pipeline
.PHONY: lake lake-up lake-down cold query dashboard pipeline pipeline-down pipeline-status pipeline-crawl pipeline-flatten
lake: $(CLI) ## run the lake writer here, in the foreground (Ctrl-C flushes and stops): broker -> LAKE_DIR
	$(PY) -m deploy host pipeline lake
lake-up: $(CLI) ## run the lake writer as a compose service (profile pipeline) beside the fleet, as the monitor key's owner
	$(PY) -m deploy lake-up
lake-down: $(CLI) ## stop the compose lake writer (it flushes first); the lake, its ledger and its final counts stay
	$(PY) -m deploy lake-down
cold: $(CLI) ## show the cold-readings table (the lab's DynamoDB rule: readings below -5 °C)
	$(PY) -m pipeline cold
query: $(CLI) ## run the lab's Athena queries over the lake with DuckDB (or your own: make query SQL="...")
	$(PY) -m pipeline query $(if $(SQL),"$(SQL)")
dashboard: $(CLI) ## write the self-contained HTML dashboard (LAKE_DIR/dashboard.html) from the lake
	$(PY) -m deploy host pipeline dashboard
pipeline: $(CLI) ## TARGET=aws: deploy the pipeline to AWS (bucket, Firehose, rules, DynamoDB, Glue, Athena); DRY_RUN=1 plans
	$(call AWS_PIPELINE,deploy $(if $(DRY_RUN),--dry-run))
pipeline-down: $(CLI) ## TARGET=aws: delete exactly what `make pipeline TARGET=aws` created (DRY_RUN=1 lists it)
	$(call AWS_PIPELINE,destroy $(if $(DRY_RUN),--dry-run))
pipeline-status: $(CLI) ## TARGET=aws: show each pipeline resource on AWS (in-sync, drifted, ...) and the errors/ count
	$(call AWS_PIPELINE,status)
pipeline-crawl: $(CLI) ## TARGET=aws: run the Glue crawler once over the lake (after Firehose wrote files)
	$(call AWS_PIPELINE,crawl)
pipeline-flatten: $(CLI) ## TARGET=aws: (re)build the flat table in Athena (DROP TABLE IF EXISTS, then CREATE TABLE AS)
	$(call AWS_PIPELINE,flatten)

##@ Tests and benchmarks (benchmarks write bench-results/*.md)
.PHONY: docs schemas test test-quick bench $(BENCH_TARGETS)
docs: $(PY) ## regenerate docs/configuration.md's variable tables from the settings classes
	$(PY) scripts/write_config_docs.py
schemas: $(PY) ## regenerate contracts/*.schema.json from the models
	$(PY) scripts/write_schemas.py
# What needs no Docker engine runs on two xdist workers per core (as test-quick); the Docker tests run one at a time.
test: $(PY) ## run the whole test suite, as CI does (tests see the environment, never .env)
	$(PY) -m pytest -m "not docker" -n $(shell echo $$(( $$(nproc) * 2 ))) && $(PY) -m pytest -m docker

# Two xdist workers per core: many tests wait on a subprocess or a socket (docs/testing.md).
test-quick: $(PY) ## run the tests that need neither Docker nor a network, on the committed ISD excerpt (about a minute)
	DATA_DIR="$(CURDIR)/tests/data/isd" $(PY) -m pytest -m "not docker and not network and not slow" -n $(shell echo $$(( $$(nproc) * 2 )))
bench-publish: $(PY) ## station publish rate vs a bare awscrt loop, pacing lateness, RSS
	$(PY) scripts/bench_publish.py
bench-parse: $(PY) ## ISD decode (+JSON) records/s beside PyPI isd (own venv in .bench/)
	$(PY) scripts/bench_parse.py
bench-lake: $(PY) ## the lake writer and the DuckDB queries
	$(PY) scripts/bench_lake.py
bench-register: $(PY) ## time registering COUNT (1,000) things against moto_server
	$(PY) scripts/bench_register.py --count $(or $(COUNT),1000)
bench-register-local: $(PY) ## local registration (cold and idempotent re-run)
	$(PY) scripts/bench_register_local.py
bench-density: $(PY) ## group mode at N = 1,000 .. 10,000 stations (COUNTS=...) vs one container each
	$(PY) scripts/bench_density.py $(if $(COUNTS),--counts $(COUNTS))
bench-fleet-scale: $(PY) ## memory/CPU per station container, broker fds, for 5..100 stations (COUNTS=...)
	$(PY) scripts/bench_fleet_scale.py $(if $(COUNTS),--counts $(COUNTS))
bench-swarm-nodes: $(PY) ## root: the stack across NODES (3) engines in network namespaces, COUNT (20) stations
	$(PY) scripts/bench_swarm_nodes.py $(if $(NODES),--nodes $(NODES)) $(if $(COUNT),--count $(COUNT))

# Every `bench-<name>` target in this Makefile, whoever added it; bench-swarm-nodes (network namespaces) as root only.
BENCH_TARGETS := $(filter-out $(if $(filter 0,$(shell id -u)),,bench-swarm-nodes),$(sort $(shell sed -n 's/^\(bench-[A-Za-z0-9_-]*\):.*/\1/p' $(MAKEFILE_LIST))))
bench: $(BENCH_TARGETS) ## run every benchmark and write bench-results/*.md
	@echo "benchmarks run: $(or $(BENCH_TARGETS),none)"; ls bench-results/*.md 2>/dev/null || true

##@ Faults (docs/faults.md)
.PHONY: chaos collect-state audit
chaos: $(CLI) ## run the `fleet:` faults of FAULTS on the running fleet (broker restart, kill, pause, network cut); Ctrl-C restores
	$(PY) -m deploy chaos $(if $(FAULTS),--faults "$(FAULTS)")
collect-state: $(CLI) ## copy the stations' state files (checkpoints, status, ground truth) out of the fleet into FLEET_DIR/state
	$(PY) -m deploy collect-state
audit: $(CLI) ## compare the lake with the stations' acknowledged seqs and injected faults (AUDIT_STATE=dirs, JSON=1; TARGET=aws: Athena)
	$(PY) -m deploy audit $(foreach d,$(AUDIT_STATE),--state "$(d)") $(if $(filter 1,$(JSON)),--json)
##@ Metrics (docs/observability.md)
.PHONY: metrics-up metrics-down metrics-config dashboard-live
metrics-up: $(CLI) ## start Prometheus (127.0.0.1:PROMETHEUS_PORT) and the broker exporter, targets from the fleet
	$(PY) -m deploy.metrics up
metrics-down: $(CLI) ## stop Prometheus and the broker exporter (their data volume stays; make clean removes it)
	$(PY) -m deploy.metrics down
metrics-config: $(CLI) ## write FLEET_DIR/prometheus/ (scrape targets, rules) for your own Prometheus (SWARM=1: DNS SD)
	$(PY) -m deploy.metrics config $(if $(filter 1,$(SWARM)),--swarm)
dashboard-live: $(CLI) ## serve the live dashboard (map, rates, latency) on 127.0.0.1:DASHBOARD_LIVE_PORT
	$(PY) -m deploy host pipeline dashboard-live
