# ADF Autopilot — the two commands: `make test` and `make demo`. Both install what they need.
# `make up` starts the whole sandbox and stays up until Ctrl-C (ARGS="--speed 60" to hurry the timers).
SHELL := /bin/bash
# The app, the CLI and the tests run on Python 3.13 (what new Flex Consumption apps should start on).
# PYTHON=/path/to/python3.13 overrides the search: python3.13 on PATH, then pyenv's and the usual prefixes.
PYTHON ?= $(shell for c in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 \
             /usr/local/bin/python3.13 /usr/bin/python3.13 /opt/python3.13/bin/python3.13; do \
             "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && \
             { command -v "$$c"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
AZURITE := .tools/node_modules/.bin/azurite
STAMP := $(VENV)/.installed
# checkov pins old versions of packages our dev tools need, so it lives in its own venv.
CHECKOV := .tools/checkov/bin/checkov
# Debian's chromium, headless, loads the status page in tests/e2e/test_status_page.py (and screenshots it).
CHROMIUM := /usr/bin/chromium

.PHONY: setup test lint unit integration e2e infra demo up bench clean

setup: $(STAMP) $(AZURITE) $(CHECKOV)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python 3.13 was not found (looked for python3.13 on PATH, under pyenv and in /usr/local," >&2; \
	  echo "       /usr and /opt). Install it (e.g. 'pyenv install 3.13') or run: make PYTHON=/path/to/python3.13 ..." >&2; \
	  exit 2; fi
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || \
	  { echo "error: PYTHON=$(PYTHON) is not Python 3.13" >&2; exit 2; }
	@# A venv made by another Python (an older checkout's 3.11) is rebuilt, not patched.
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Both installs leave an installed tool's files as they were; the touch marks them up to date for make,
# or every make after a rebuilt .venv would reinstall them (and rebuild a shared .tools/checkov).
$(AZURITE): $(STAMP)
	$(PY) -m sandbox.azurite --install-only
	touch $@

$(CHECKOV): $(STAMP)
	$(PY) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
	touch $@

# Installed only when missing; as root (CI), or through sudo.
$(CHROMIUM):
	$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update
	$$([ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

test: setup lint $(CHROMIUM)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: setup
	$(PY) -m pytest tests/integration

e2e: setup $(CHROMIUM)
	$(PY) -m pytest tests/e2e

infra: setup
	$(PY) -m pytest tests/infra

demo: setup
	$(PY) -m sandbox.demo

up: setup
	$(PY) -m sandbox.stack $(ARGS)

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .tools .sandbox .pytest_cache .mypy_cache .ruff_cache .hypothesis
