# gridgov — the two commands are `make demo` and `make test`; see README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/gridgov_test
SCALE ?= full
# `make bench` measures on PostgreSQL, the target database, when a server answers at 127.0.0.1:5432 (in a
# database <name>_bench of its own, here gridgov_bench), else on SQLite. BENCH_DB= forces SQLite.
BENCH_DB ?= $(shell $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null \
  && echo postgres://postgres@127.0.0.1:5432/gridgov)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo install install-test frontend messages compilemessages test test-pg lint bench serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

gridgov/static/vendor/.built: node_modules/.installed frontend/build.mjs
	npm run --silent build
	touch $@

frontend: gridgov/static/vendor/.built

# .mo files are built, never committed: Babel compiles them without GNU gettext.
compilemessages: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d gridgov/locale -D django

install: $(VENV)/.installed frontend compilemessages

install-test: install $(VENV)/.installed-test
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	GRIDGOV_DEBUG=1 $(BIN)/gridgov migrate --no-input -v0
	GRIDGOV_DEBUG=1 $(BIN)/gridgov demo
	GRIDGOV_DEBUG=1 $(BIN)/gridgov serve --port $(PORT)

serve: install
	$(BIN)/gridgov migrate --no-input -v0
	$(BIN)/gridgov serve --port $(PORT)

test: install-test
	GRIDGOV_VAR_DIR=$(CURDIR)/var/test $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

test-pg: install-test
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} GRIDGOV_VAR_DIR=$(CURDIR)/var/test-pg $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/gridgov makemigrations --check --dry-run -v0

messages: install-test
	$(BIN)/gridgov makemessages -l zh_Hans --no-obsolete --no-location -i ".venv/*" -i "node_modules/*" -i "var/*"

bench: install
	GRIDGOV_VAR_DIR=$(CURDIR)/var/bench $(BIN)/gridgov bench --scale $(SCALE) \
	  $(if $(BENCH_DB),--database-url $(BENCH_DB)) --report $(CURDIR)/var/bench/report.json

clean:
	rm -rf $(VENV) node_modules gridgov/static/vendor var
