# Switchyard. `make run` and `make test` do all set-up on a fresh machine (Python 3.11 + Debian).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
export SWITCHYARD_DATA_DIR ?= ./var

.PHONY: help setup system-deps run test test-slow lint fmt typecheck check-lite bench clean

help:  ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): requirements.lock pyproject.toml src/switchyard/outbox/_codec.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@PYTHON=$(BIN)/python ./scripts/install-system-deps.sh build
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)  ## create .venv and install pinned dependencies

system-deps:  ## install the Debian packages tests need (etcd, prometheus, chromium, nginx, wrk)
	@./scripts/install-system-deps.sh

run: setup  ## run the gateway on :8080 (in-process venue, SQLite, dev JWT secret under var/)
	$(BIN)/switchyard run

test: setup system-deps  ## the default test suite (CI runs exactly this)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: setup system-deps  ## slow tests only
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

fmt: setup  ## format the code
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

lint: setup  ## ruff, mypy and the layer contract
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:  ## remove the venv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# Each area keeps its own targets in mk/<area>.mk (bench, venue, outbox, ui, deploy, sre, ...).
-include mk/*.mk

readme-env: setup  ## regenerate the README settings table from the declarations
	$(BIN)/python -c "import re,pathlib,subprocess; p=pathlib.Path('README.md'); s=p.read_text(); t=subprocess.run(['$(BIN)/switchyard','env','--markdown'],capture_output=True,text=True,check=True).stdout; a=s.index('<!-- env-table:start -->\n')+len('<!-- env-table:start -->\n'); b=s.index('<!-- env-table:end -->'); p.write_text(s[:a]+t+s[b:])"
