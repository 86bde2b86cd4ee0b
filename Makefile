# Skydock: the two commands are `make up` and `make test`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
DATA_DIR ?= .skydock
HOST ?= 127.0.0.1
PORT ?= 8000
RUN := $(UV) run --frozen --all-extras

.PHONY: up test lint pytest bench demo sync uv clean

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

sync: uv
	@$(UV) sync --frozen --all-extras --quiet

demo: sync
	@$(RUN) skydock demo build --data-dir $(DATA_DIR) --if-missing

up: demo
	@$(RUN) skydock serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

lint: sync
	$(RUN) ruff check src tests benchmarks
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) mypy
	$(RUN) lint-imports

pytest: sync
	$(RUN) pytest -q -n auto || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest collected no tests" ; exit $$rc; }

test: lint pytest

bench: sync
	$(RUN) python -m benchmarks.run --data-dir $(DATA_DIR)/bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
