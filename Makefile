# cryptostream: the one vocabulary. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCALSTACK_VENV := .venv-localstack
# Slow downloads are cached outside the work tree and reused by every clone.
export CRYPTOSTREAM_CACHE ?= $(HOME)/.cache/cryptostream
JVM_CACHE := $(CRYPTOSTREAM_CACHE)/jvm
MVN := mvn -q -B -s jvm/settings.xml
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The producer's native hot path (producer/fastpath, Rust): cargo from rustup, its build output
# cached outside the work tree and shared by every clone.
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_TARGET_DIR ?= $(CRYPTOSTREAM_CACHE)/cargo-target
FASTPATH := producer/fastpath
FASTPATH_SOURCES := $(addprefix $(FASTPATH)/,Cargo.toml Cargo.lock pyproject.toml) \
	$(wildcard $(FASTPATH)/src/*.rs)

.PHONY: help setup venv jars up down status env clean migrate demo job producer \
	bench-producer bench-pipeline test test-unit test-integration lint dashboard \
	dashboard-assets browser bench-dashboard dashboard-screenshot

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# --- set-up: everything a fresh machine needs, from the package registries ------------------

venv: $(VENV)/.installed  ## the project's virtual environment (pinned by requirements.lock)
$(VENV)/.installed: pyproject.toml requirements.lock $(FASTPATH_SOURCES)
	@command -v cargo >/dev/null || { echo "cargo not found: $(FASTPATH) needs a Rust toolchain (rustup.rs)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev]' ./$(FASTPATH)
	touch $@

$(LOCALSTACK_VENV)/.installed: localstack/requirements.lock
	$(PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install -q -r localstack/requirements.lock
	touch $@

jars: $(JVM_CACHE)/kafka.classpath $(JVM_CACHE)/spark.classpath  ## resolve Kafka and Spark connector jars (Maven Central)
$(JVM_CACHE)/%.classpath: jvm/%/pom.xml jvm/settings.xml
	@mkdir -p $(JVM_CACHE)
	$(MVN) -f $< dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=$@.tmp
	mv $@.tmp $@

# The dashboard's front-end assets (lightweight-charts), pinned by package-lock.json and served
# by the dashboard itself; npm keeps its download cache in ~/.npm, outside the work tree.
DASHBOARD_ASSETS := dashboard/web/node_modules/.installed
dashboard-assets: $(DASHBOARD_ASSETS)  ## npm ci the dashboard's chart library (no CDN at run time)
$(DASHBOARD_ASSETS): dashboard/web/package.json dashboard/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: the dashboard's assets need Node.js and npm" >&2; exit 1; }
	npm ci --prefix dashboard/web --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; it never downloads
# a browser of its own). Installed when missing: needs root, as CI runs.
browser:  ## install Debian's chromium when /usr/bin/chromium is missing
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

setup: venv $(LOCALSTACK_VENV)/.installed jars $(DASHBOARD_ASSETS)  ## install everything (idempotent, cached)

# --- the local stack ------------------------------------------------------------------------

up: setup  ## start Kafka, Spark master+worker, ClickHouse, LocalStack; wait until healthy
	$(PY) -m stack up

down:  ## stop what `make up` started; keep data
	@if [ -x $(PY) ]; then $(PY) -m stack down; fi

status: venv  ## one line per service: health, address, version, log file
	@$(PY) -m stack status

env: venv  ## print local credentials and endpoints as export lines (eval "$$(make -s env)")
	@$(PY) -m stack env

clean: down  ## stop everything and wipe local state (data, logs, credentials)
	rm -rf .state

# --- the pipeline ---------------------------------------------------------------------------

demo: up migrate  ## the whole pipeline on the simulator (SOURCE=coinbase for live) with a live view
	$(PY) -m demo

migrate: up  ## apply the ClickHouse migrations (idempotent; runtime.bootstrap's migrations step)
	$(PY) -m stack run -- $(PY) -m runtime.bootstrap --steps migrations

dashboard: up migrate  ## the live dashboard (candles, pipeline panel, JSON API) against the running stack
	$(PY) -m stack run -- $(PY) -m dashboard

job: up migrate  ## run the streaming job in the foreground (flags: JOB_ARGS="--available-now ...")
	$(PY) -m stack run -- $(PY) -m spark_jobs.submit $(JOB_ARGS)

producer: up  ## run the producer in the foreground (flags: PRODUCER_ARGS="--source simulator ...")
	$(PY) -m stack run -- $(PY) -m producer $(PRODUCER_ARGS)

# --- benchmarks (figures and ratios against a baseline measured in the same run) ------------

# Only Kafka: the other services' start-up would share the 2 cores with the measured runs.
bench-producer: setup  ## producer replay of 1M trades vs a bare confluent-kafka loop, same payloads
	$(PY) -m stack start kafka
	$(PY) -m producer.bench

# sizes and phases: BENCH_PHASES, BENCH_TRADES, BENCH_LATENCY_SECONDS, BENCH_SUSTAINED_RATES, ... (python -m spark_jobs.bench -h)
bench-pipeline: up  ## the job on 1M Kafka trades vs ClickHouse SQL; window latency vs its floor; sustained load
	$(PY) -m stack run -- $(PY) -m spark_jobs.bench --log-dir .state/logs $(BENCH_ARGS)

# The README's picture of the dashboard, taken by its browser test.
dashboard-screenshot: setup browser  ## re-take docs/dashboard.png (runs the dashboard's browser test)
	DASHBOARD_SCREENSHOT=docs/dashboard.png $(VENV)/bin/pytest -q tests/integration/test_dashboard_browser.py

bench-dashboard: up migrate  ## the dashboard API vs the same SQL straight to ClickHouse (a day of 1m candles), with the demo running
	$(PY) -m stack run -- $(PY) -m dashboard.bench $(BENCH_ARGS)

# --- tests ----------------------------------------------------------------------------------

lint: venv  ## ruff over the Python tree, rustfmt and clippy over producer/fastpath
	$(VENV)/bin/ruff check .
	cargo fmt --check --manifest-path $(FASTPATH)/Cargo.toml
	cargo clippy -q --locked --all-targets --features python --manifest-path $(FASTPATH)/Cargo.toml -- -D warnings

test-unit: venv  ## unit tests: no services needed
	cargo test -q --locked --manifest-path $(FASTPATH)/Cargo.toml
	$(VENV)/bin/pytest -q tests/unit

test-integration: setup browser  ## integration tests against the real local stack (started by the tests)
	$(VENV)/bin/pytest -q tests/integration

test-core: setup browser lint  ## lint, unit and integration tests: no Docker needed
	cargo test -q --locked --manifest-path $(FASTPATH)/Cargo.toml
	$(VENV)/bin/pytest -q tests

# The local stack is stopped before the Docker suites: they bring their own services.
test:  ## everything CI runs: test-core, then the docker-compose and deploy-path suites
	$(MAKE) test-core
	$(MAKE) down
	$(MAKE) test-docker
	$(MAKE) test-infra

# --- Docker: engine, images, docker-compose (docker/README.md) ------------------------------
# Image names, tags and the base image are set in docker/images.env (env vars of the same name win).
COMPOSE_ENV_FILE := .state/compose.env
COMPOSE_PROJECT ?= cryptostream
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) \
	-p $(COMPOSE_PROJECT) -f docker-compose.yml --env-file $(COMPOSE_ENV_FILE)

.PHONY: docker-engine compose-plugin base-image images compose-env compose-up compose-down \
	compose-ps test-docker

docker-engine:  ## install (Debian docker.io) and start the Docker engine if none answers
	docker/engine.sh

compose-plugin: docker-engine  ## `docker compose` v2 (built once from the Go module proxy, cached)
	docker/compose-plugin.sh

base-image: docker-engine  ## the base image: debootstrap + import (cached tarball), or pull BASE_IMAGE
	docker/base-image.sh

images: base-image jars venv infra-tools node-image apt-cache release  ## build the kafka, spark, app, clickhouse-endpoint and localstack images
	docker/build.sh

compose-env: venv  ## write $(COMPOSE_ENV_FILE) for docker compose from runtime/topology.yaml + secrets
	@$(PY) docker/compose_env.py --output $(COMPOSE_ENV_FILE) >/dev/null

compose-up: images compose-plugin compose-env  ## the whole pipeline in docker compose (SOURCE=coinbase for live trades)
	$(COMPOSE) up -d
	$(COMPOSE) ps

compose-ps: compose-plugin compose-env  ## the compose services and their health
	$(COMPOSE) ps

compose-down: compose-plugin compose-env  ## stop the compose pipeline and remove its containers, volumes and network
	$(COMPOSE) down -v --remove-orphans

test-docker: venv images compose-plugin  ## docker-compose suite: the whole pipeline in compose
	$(VENV)/bin/pytest -q -m infra -p no:cacheprovider tests/infra/test_compose.py

# --- Deploy path: OpenTofu makes hosts, Ansible makes services (terraform/README.md) --------
# OpenTofu and its providers are built from the Go module proxy into $(TOFU_HOME) (pins in
# tools/tofu/pins.env); TF_CLI_CONFIG_FILE points provider installation at that mirror only.
TOFU_HOME := $(CRYPTOSTREAM_CACHE)/tofu
TOFU_VERSION := $(shell sed -n 's/^TOFU_VERSION=//p' tools/tofu/pins.env)
TOFU_BIN := $(TOFU_HOME)/bin/tofu-$(TOFU_VERSION)
TOFU_ENV = TF_CLI_CONFIG_FILE=$(TOFU_HOME)/tofurc TOFU=$(TOFU_BIN) tools/tofu/env.sh
# The environment the infra-* targets act on, by name: `local` (9 nodes), `local-staging` and
# `local-prod` (small local ones for promotion), or a cloud one with
# terraform/envs/cloud/<ENV>.tfvars.json (staging, prod). tools/tofu/env.sh picks the root.
ENV ?= local
TF_ROOT = $(if $(wildcard terraform/envs/cloud/$(ENV).tfvars.json),terraform/envs/cloud,terraform/envs/local)
INVENTORY ?= $(TF_ROOT)/generated/$(ENV)/inventory.yml
ANSIBLE_PLAYBOOK = ANSIBLE_CONFIG=ansible/ansible.cfg $(VENV)/bin/ansible-playbook -i $(INVENTORY)
# The deploy's secrets from the controller's environment: the local ones (.state/secrets.env,
# generated on first use; the environment wins). Elsewhere use ansible-vault (ansible/README.md).
WITH_SECRETS = eval "$$($(PY) -m stack secrets)" &&

.PHONY: tofu infra-tools release apt-cache node-image infra-validate infra-apply infra-deploy \
	infra-rolling-restart infra-upgrade infra-destroy release-status promote rollback test-infra

tofu: $(TOFU_HOME)/.built-$(TOFU_VERSION)  ## build OpenTofu + providers from the Go module proxy (cached)
$(TOFU_HOME)/.built-$(TOFU_VERSION): tools/tofu/build.sh tools/tofu/pins.env
	tools/tofu/build.sh
	touch $@

$(VENV)/.infra-installed: pyproject.toml requirements.lock | venv
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[infra]'
	touch $@

infra-tools: tofu $(VENV)/.infra-installed  ## OpenTofu, providers, Ansible and ansible-lint

release: setup  ## stage the release on the controller: wheelhouse, jars, LocalStack env, manifest
	$(PY) tools/release/stage.py

apt-cache: ## one Debian package cache (apt-cacher-ng) on this machine for the nodes' apt
	tools/apt-cache/ensure.sh

node-image: base-image  ## the node image: Debian with systemd, sshd and python3, nothing else
	docker/build.sh node

infra-validate: infra-tools  ## tofu fmt/validate/test every module and env, ansible syntax-check + lint
	$(VENV)/bin/pytest -q -m infra -p no:cacheprovider tests/infra/test_tofu_static.py tests/infra/test_ansible_static.py \
		tests/infra/test_remote_state.py

infra-apply: infra-tools node-image apt-cache  ## tofu apply ENV (default local: 9 bare nodes) + its inventory
	$(TOFU_ENV) apply $(ENV)

infra-deploy: infra-tools release  ## ansible-playbook deploy.yml against $(INVENTORY), over SSH
	$(WITH_SECRETS) $(ANSIBLE_PLAYBOOK) ansible/deploy.yml

infra-rolling-restart: infra-tools  ## one host at a time, healthy between hosts: COMPONENT=kafka|spark|clickhouse|object_storage|app
	$(WITH_SECRETS) $(ANSIBLE_PLAYBOOK) ansible/rolling_restart.yml -e component=$(COMPONENT)

infra-upgrade: infra-tools release  ## the app to the newly staged release; the job resumes from its checkpoint
	$(WITH_SECRETS) $(ANSIBLE_PLAYBOOK) ansible/upgrade.yml

infra-destroy: infra-tools  ## tofu destroy ENV: nodes, volumes, network, SSH key
	$(TOFU_ENV) destroy $(ENV)

# Promotion: what an environment runs is recorded by each deploy (role `deployment`);
# tools/release/promote.py moves exactly that release between environments (terraform/README.md).
release-status: infra-tools  ## what ENV runs: its release manifest, history and schema head
	$(WITH_SECRETS) $(PY) -m tools.release.promote status $(ENV)

promote: infra-tools  ## FROM's release to TO, after FROM passes the health gate (GATE="max_lag=1000 ...")
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make promote FROM=<env> TO=<env>" >&2; exit 2; }
	$(WITH_SECRETS) $(PY) -m tools.release.promote $(foreach g,$(GATE),--gate $(g)) promote $(FROM) $(TO)

rollback: infra-tools  ## ENV back to the previous release in its history
	$(WITH_SECRETS) $(PY) -m tools.release.promote rollback $(ENV)

test-infra: infra-tools node-image apt-cache release  ## deploy-path suite: static checks, roles alone, the node tier end to end, promotion
	$(VENV)/bin/pytest -q -s -m infra -p no:cacheprovider tests/infra/test_tofu_static.py \
		tests/infra/test_ansible_static.py tests/infra/test_remote_state.py tests/infra/test_roles.py \
		tests/infra/test_node_deploy.py tests/infra/test_promotion.py
