# ChurnLab: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARCH ?= monolith
SHAPE ?= ramp
USERS ?= 32
RUN_TIME ?= 60s
NODES ?= 3
TARGET ?= compose
PUBLIC_PORT = $(if $(filter micro,$(ARCH)),$${GATEWAY_PORT:-8080},$(if $(filter hybrid,$(ARCH)),$${HYBRID_PORT:-8090},$${MONOLITH_PORT:-8000}))
TARGET_URL = http://127.0.0.1:$(PUBLIC_PORT)
MODEL := models/current/model_card.json
DATASET := data/telco_customer_churn.csv

.DEFAULT_GOAL := help
.PHONY: help venv data model up-monolith up-micro up-hybrid cluster-up cluster-down live live-stop rollout load load-headless compare compare-swarm down test test-floors bench models verdict lint lock k8s-manifests format clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create .venv with the project and its dev tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet -e ".[monolith,gateway,train]" --group dev
	touch $@

data: $(DATASET) ## Fetch the Telco churn CSV (hash-checked) into data/

$(DATASET): | $(VENV)/.installed
	$(BIN)/python -m churnlab.ml.data --dest $@

model: $(MODEL) ## Train, evaluate and export the ONNX model + card into models/

$(MODEL): $(DATASET) churnlab/ml/*.py churnlab/domain/features.py churnlab/domain/schema.py | $(VENV)/.installed
	$(BIN)/python -m churnlab.ml --data $(DATASET)

up-monolith: model ## Start the monolith on 127.0.0.1:8000 (Docker if available, else local; TARGET=swarm: the cluster)
	TARGET=$(TARGET) scripts/up.sh monolith

up-micro: model ## Start the microservices; the gateway on 127.0.0.1:8080 (Docker if available; TARGET=swarm)
	TARGET=$(TARGET) scripts/up.sh micro

up-hybrid: model ## Start the hybrid: the API with ingest and features, the model apart; on 127.0.0.1:8090 (Docker if available)
	TARGET=$(TARGET) scripts/up.sh hybrid

cluster-up: venv ## A local Docker Swarm of NODES=3 node containers sharing CLUSTER_CPUS, with its registry and database image
	NODES=$(NODES) $(BIN)/python -m runtimes.swarm up

cluster-down: venv ## Remove the local Swarm: nodes, registry, network
	$(BIN)/python -m runtimes.swarm down

live: ## Prometheus on 127.0.0.1:9090 and the trace view on 127.0.0.1:5000 for the running ARCH=monolith|micro|hybrid, its traces on (Docker)
	scripts/live.sh $(ARCH)

live-stop: ## Stop the live view of ARCH=monolith|micro|hybrid and turn its traces off again
	scripts/live.sh $(ARCH) stop

rollout: venv ## Replace ARCH's model tier (or SERVICE) with no gap; MODEL_DIR= a new model version (make rollout ARCH=micro MODEL_DIR=models/churn-...)
	$(BIN)/python -m runtimes.rollout $(ARCH) $(SERVICE) $(if $(MODEL_DIR),--model-dir $(MODEL_DIR))

load: model ## Locust dashboard on 127.0.0.1:8089 against ARCH=monolith|micro|hybrid (start it first)
	$(BIN)/locust -f lab/locustfile.py --host $(TARGET_URL) --web-host 127.0.0.1 --web-port 8089

load-headless: model ## A headless Locust run (SHAPE=steady|ramp|spike, USERS, RUN_TIME) writing CSV + HTML to reports/
	mkdir -p reports
	$(BIN)/locust -f lab/locustfile.py,lab/shapes/$(SHAPE).py --host $(TARGET_URL) --headless \
	  -u $(USERS) -t $(RUN_TIME) \
	  --csv reports/load-$(ARCH)-$(SHAPE) --csv-full-history --html reports/load-$(ARCH)-$(SHAPE).html --only-summary

compare: model ## Both deployments, same experiments (QUICK=1 short; ONLY=capacity,... some; resumes): reports/
	$(BIN)/python -m lab.experiments $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

compare-swarm: model ## Both architectures on the local Swarm: scaling over 1-3 nodes, node faults (reports/swarm.*)
	$(BIN)/python -m lab.experiments.swarm $(if $(QUICK),--quick)

down: ## Stop everything started by up-monolith, up-micro or up-hybrid
	scripts/down.sh

test: model ## Run the test suite (Docker tests skip without an engine unless REQUIRE_DOCKER=1)
	$(BIN)/pytest

test-floors: model ## The tests that need no Docker, on the lowest versions pyproject.toml allows (build/floors/)
	bash scripts/floors.sh

bench: model ## Benchmark: in-process, HTTP, the wirings, batching, MLServer as the model tier, peers (PEERS=mlflow,mlserver,bentoml or none; + images with Docker)
	$(BIN)/python -m lab.bench --json reports/bench.json $(if $(PEERS),--peers $(PEERS)) $$(scripts/has-docker.sh && echo --images)

models: model ## The range of real models (trees, networks): each trained once, its cost per record at batch sizes 1-64 and its memory; reports/models.{json,md} (ONLY=names)
	$(BIN)/python -m lab.bench.model_range --json reports/models.json $(if $(ONLY),--only $(ONLY))

verdict: model ## Which wiring serves your model: ONNX=file (or MODEL_MS=, MODEL_MB=), RATE= req/s, SLO_MS= p99 (MEMORY_MB= a machine; BATCHING=1 also measures batching); reports/verdict.{json,md}
	$(BIN)/python -m lab.verdict --json reports/verdict.json $(if $(RATE),--rate $(RATE)) $(if $(SLO_MS),--slo-ms $(SLO_MS)) $(if $(ONNX),--onnx $(ONNX)) $(if $(MODEL_MS),--model-ms $(MODEL_MS)) $(if $(MODEL_MB),--model-mb $(MODEL_MB)) $(if $(MEMORY_MB),--memory-mb $(MEMORY_MB)) $(if $(filter 1 true yes,$(BATCHING)),--batching)

lint: venv ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock: venv ## Re-pin the images' dependencies, with hashes, from pyproject.toml (docker/requirements/)
	bash scripts/lock.sh

k8s-manifests: model ## Push the images to REGISTRY=host[:port][/path]; the Kubernetes overlays pinned by digest (var/kubernetes/)
	REGISTRY=$(REGISTRY) scripts/k8s-manifests.sh

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: down ## Remove the venv, data, models and run state
	rm -rf $(VENV) data models var build .run .pytest_cache .ruff_cache
