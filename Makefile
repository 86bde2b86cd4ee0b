# Skydock: the two commands are `make up` and `make test`.
SHELL := /bin/bash
# uv from PATH, else the uv module that `make uv` installs with pip (works off PATH too).
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
DATA_DIR ?= .skydock
HOST ?= 127.0.0.1
PORT ?= 8000
RUN := $(UV) run --frozen --all-extras

.PHONY: up test lint pytest bench demo sync uv system-deps clean

# Debian packages the test suite drives for real, as package:probe (a command on PATH or
# a file): STILTS validates our VOTables, PostgreSQL 15 (+ Q3C for the benchmarks) backs
# the metadata-database tests.
APT_PACKAGES := stilts:stilts \
	postgresql-15:/usr/lib/postgresql/15/bin/postgres \
	postgresql-15-q3c:/usr/share/postgresql/15/extension/q3c.control

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
	  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

sync: uv
	@$(UV) sync --frozen --all-extras --quiet

demo: sync
	@$(RUN) skydock demo build --data-dir $(DATA_DIR) --if-missing

up: demo
	@$(RUN) skydock serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

lint: sync
	$(RUN) ruff check src tests $(wildcard benchmarks)
	$(RUN) ruff format --check src tests $(wildcard benchmarks)
	$(RUN) mypy
	$(RUN) lint-imports

system-deps:
	@missing=""; for entry in $(APT_PACKAGES); do pkg=$${entry%%:*}; probe=$${entry#*:}; \
	  if [ "$${probe:0:1}" = / ]; then [ -e "$$probe" ]; else command -v "$$probe" >/dev/null 2>&1; fi \
	  || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

pytest: sync system-deps
	$(RUN) pytest -q -n auto || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no tests" ; exit $$rc; }

test: lint pytest

bench: sync
	$(RUN) python -m benchmarks.run --data-dir $(DATA_DIR)/bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
