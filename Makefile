# ADF Autopilot — the two commands: `make test` and `make demo`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AZURITE := .tools/node_modules/.bin/azurite
STAMP := $(VENV)/.installed
# checkov pins old versions of packages our dev tools need, so it lives in its own venv.
CHECKOV := .tools/checkov/bin/checkov

.PHONY: setup test lint unit integration e2e infra demo bench clean

setup: $(STAMP) $(AZURITE) $(CHECKOV)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(AZURITE): $(STAMP)
	$(PY) -m sandbox.azurite --install-only

$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: setup
	$(PY) -m pytest tests/integration

e2e: setup
	$(PY) -m pytest tests/e2e

infra: setup
	$(PY) -m pytest tests/infra

demo: setup
	$(PY) -m sandbox.demo

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .tools .sandbox .pytest_cache .mypy_cache .ruff_cache .hypothesis
