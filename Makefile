# haws: `make run` starts the local cluster, `make test` runs the tests.
# Both install what they need first (idempotent).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HAWS := $(VENV)/bin/haws
PYTEST := $(VENV)/bin/pytest

.PHONY: install install-python install-system install-compose js test-js run test test-unit chaos faults soak bench capacity fuzz lint fmt typecheck clean compose-images compose-test

install: install-system install-python js

install-system:
	@bash scripts/install-system.sh

install-python:
	@bash scripts/install-python.sh

# clients/js and clients/react: npm ci (from the lockfiles) and the builds, when something changed.
js:
	@bash scripts/install-js.sh

test-js: js
	cd clients/js && npm test
	cd clients/react && npm test

run: install
	$(HAWS) up $(ARGS)

test: install
	$(PYTEST) -q -m "not chaos and not compose and not faults and not soak" $(ARGS)

test-unit: install-python
	$(PYTEST) -q tests/unit $(ARGS)

chaos: install
	$(PYTEST) -q -m chaos $(ARGS)

# Network faults (issue 16): every scenario, short and long, as root (namespaces),
# then a 3-minute soak. Each prints one `FAULT <name> ...` line; see docs/reliability.md.
faults: install
	$(PYTEST) -q -s tests/e2e/faults $(ARGS)
	ulimit -n 65536 2>/dev/null || true; SOAK_MINUTES=3 $(PYTEST) -q -s -m soak tests/e2e/soak $(ARGS)

SOAK_MINUTES ?= 30

soak: install
	ulimit -n 65536 2>/dev/null || true; SOAK_MINUTES=$(SOAK_MINUTES) $(PYTEST) -q -s -m soak tests/e2e/soak $(ARGS)

# docker-compose.yml for real under podman (docs/deploy.md "Compose under podman"):
# local images (cached), then up, healthchecks, faults from the host, down -v.
# Each run takes a /24 of its own (HAWS_SUBNET, picked free unless given:
# `make compose-test HAWS_SUBNET=10.77.3`), so two runs on one host both pass.
install-compose:
	@bash scripts/install-compose.sh

compose-images: install-compose install-python
	@bash scripts/compose-images.sh

compose-test: compose-images
	$(PYTEST) -q -s -m compose tests/compose $(ARGS)

bench: install
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench $(ARGS)

# docs/capacity.md: the unit costs, interest and replay figures, then the sizing from them.
capacity: install
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench --only costs --only interest --only replay --system haws --presence on $(ARGS)
	$(PY) -m bench.capacity_model --write docs/capacity.md

FUZZ_RUNS ?= 500000
FUZZ_SECONDS ?= 60

fuzz: install-python
	$(VENV)/bin/pip install -q -e '.[fuzz]'
	mkdir -p run/fuzz
	$(PY) tests/fuzz/fuzz_frames.py -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=run/fuzz/ $(ARGS)

lint: install-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install-python
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install-python js
	$(VENV)/bin/mypy libs services clients/python clients/server tests bench
	cd clients/js && npm run --silent typecheck
	cd clients/react && npm run --silent typecheck

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache run clients/js/node_modules clients/js/dist clients/react/node_modules clients/react/dist
