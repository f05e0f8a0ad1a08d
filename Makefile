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

.PHONY: help setup venv jars up down status env clean migrate demo job producer \
	test test-unit test-integration lint

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# --- set-up: everything a fresh machine needs, from the package registries ------------------

venv: $(VENV)/.installed  ## the project's virtual environment (pinned by requirements.lock)
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev]'
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

setup: venv $(LOCALSTACK_VENV)/.installed jars  ## install everything (idempotent, cached)

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

migrate: up  ## apply the ClickHouse migrations (idempotent)
	$(PY) -m clickhouse.migrate

job: up migrate  ## run the streaming job in the foreground (flags: JOB_ARGS="--available-now ...")
	$(PY) -m spark_jobs.submit $(JOB_ARGS)

producer: up  ## run the producer in the foreground (flags: PRODUCER_ARGS="--source simulator ...")
	$(PY) -m producer $(PRODUCER_ARGS)

# --- tests ----------------------------------------------------------------------------------

lint: venv  ## ruff over the Python tree
	$(VENV)/bin/ruff check .

test-unit: venv  ## unit tests: no services needed
	$(VENV)/bin/pytest -q tests/unit

test-integration: setup  ## integration tests against the real local stack (started by the tests)
	$(VENV)/bin/pytest -q tests/integration

test: setup lint  ## everything CI runs: lint, unit and integration tests
	$(VENV)/bin/pytest -q tests
