# Skydock: the two commands are `make up` and `make test`.
SHELL := /bin/bash
# uv from PATH, else the uv module that `make uv` installs with pip (works off PATH too).
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
DATA_DIR ?= .skydock
HOST ?= 127.0.0.1
PORT ?= 8000
RUN := $(UV) run --frozen --all-extras

.PHONY: up test lint pytest nbtest bench demo sync uv system-deps clean

# Debian packages, as package:probe (a command on PATH or a file). The platform needs git
# (the notebook collection's remote) and configurable-http-proxy (JupyterHub's front door).
# The tests also drive STILTS (validates our VOTables), Chromium (browser tests; Playwright
# drives the system binary) and PostgreSQL 15 (+ Q3C for the benchmarks).
UP_PACKAGES := git:git node-configurable-http-proxy:configurable-http-proxy
APT_PACKAGES := $(UP_PACKAGES) \
	stilts:stilts \
	chromium:chromium \
	postgresql-15:/usr/lib/postgresql/15/bin/postgres \
	postgresql-15-q3c:/usr/share/postgresql/15/extension/q3c.control

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
	  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

sync: uv
	@$(UV) sync --frozen --all-extras --quiet

demo: sync
	@$(RUN) skydock demo build --data-dir $(DATA_DIR) --if-missing

# API + JupyterHub + proxy on one URL, a demo account; Ctrl-C stops everything.
up: demo
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(UP_PACKAGES)"
	@$(RUN) skydock up --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

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
	$(RUN) pytest -q -n auto --dist loadgroup || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no tests" ; exit $$rc; }

# The notebook collection against a throwaway server: the demo tables it needs, one account
# (demo), `skydock serve` on a free 127.0.0.1 port, then `skydock nbtest --as demo`.
# The JUnit, HTML and JSON reports and the logs stay in $(NBTEST_OUT) as CI artifacts.
NBTEST_OUT ?= .skydock/nbtest
# The demo tables the collection needs (their `requires`); smash, hipparcos, stars and gaia
# have fixed sizes (112k, 118k, 8k, 482k rows), objects is kept small, specobj has 300
# spectra and images renders the demo fields from them.
NBTEST_TABLES := objects,smash,hipparcos,stars,gaia,specobj,images
nbtest: sync
	@set -euo pipefail; tmp=$$(mktemp -d); pid=; \
	trap 'rc=$$?; if [ -n "$$pid" ]; then kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; fi; rm -rf "$$tmp"; exit $$rc' EXIT; \
	$(RUN) skydock demo build --data-dir "$$tmp" --only $(NBTEST_TABLES) --rows 20000 --spectra 300 --no-progress >/dev/null; \
	echo "nbtest-$$RANDOM-$$RANDOM" | $(RUN) skydock user add demo --password-stdin --data-dir "$$tmp" >/dev/null; \
	port=$$($(RUN) python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	url=http://127.0.0.1:$$port; \
	$(RUN) skydock serve --data-dir "$$tmp" --host 127.0.0.1 --port $$port >"$$tmp/serve.log" 2>&1 & pid=$$!; \
	$(RUN) python -c 'import httpx, sys, time; end = time.time() + 60; \
	  exec("while time.time() < end:\n try:\n  httpx.get(sys.argv[1] + \"/api/tables\").raise_for_status(); break\n except httpx.HTTPError: time.sleep(0.2)\nelse: sys.exit(\"skydock serve did not start\")")' $$url \
	  || { cat "$$tmp/serve.log"; exit 1; }; \
	mkdir -p $(NBTEST_OUT); \
	SKYDOCK_URL=$$url $(RUN) skydock nbtest notebooks --jobs 2 --as demo --data-dir "$$tmp" \
	  --logdir $(NBTEST_OUT)/logs --junit $(NBTEST_OUT)/junit.xml --html $(NBTEST_OUT)/report.html \
	  --json $(NBTEST_OUT)/report.json

test: lint pytest nbtest

bench: sync
	$(RUN) python -m benchmarks.run --data-dir $(DATA_DIR)/bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
