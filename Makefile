# infantall — developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.DEFAULT_GOAL := help

.PHONY: help demo test lint typecheck pytest bench clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

PORT ?= 8000

demo: $(VENV)/.installed ## Set up .venv and run the main job on embedded defaults (PORT=8000)
	$(BIN)/infantall demo --port $(PORT)

test: $(VENV)/.installed-dev lint typecheck pytest ## Set up .venv with dev tools; run ruff, mypy and pytest

lint: $(VENV)/.installed-dev ## ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev ## mypy --strict on src/
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev ## the test suite
	$(BIN)/pytest -q

bench: $(VENV)/.installed-dev ## benchmarks (opt-in; ratios against named baselines; survival kernels against their peers side by side)
	$(BIN)/pytest benchmarks -q --benchmark-only --benchmark-columns=min,mean,median,rounds -p no:cacheprovider
	$(PY) benchmarks/peers.py --rounds 3 --out benchmarks/results

clean: ## remove the virtual environment and build artefacts
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
