# Tagger developer commands. `make run` and `make test` are all a fresh machine needs.
#
# The virtualenv lives in .venv. Requirements are installed only when a
# requirements file is newer than the stamp file that records the last install,
# so repeated runs cost nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra arguments for pytest, e.g. PYTEST_ARGS='-k merge -x'.
PYTEST_ARGS ?=
# LINT=0 skips ruff, the import layers, mypy and the migrations check in `make test` (CI's second run uses it).
# Make has a built-in LINT variable, so `?=` would never apply.
ifeq ($(origin LINT),default)
LINT := 1
endif

BIN := $(VENV)/bin
PY := $(BIN)/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.PHONY: help run test lint fmt migrations bench clean distclean venv dev-venv

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# --- virtualenv ------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: recreating the venv must not count as a change,
# but a missing venv is created first. Stamps live inside .venv, so deleting the
# venv also forgets what was installed.
$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -r requirements.txt
	touch $@

# requirements-dev.txt includes requirements.txt, so it covers the runtime stamp too.
$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

venv: $(RUNTIME_STAMP) ## Create .venv with the runtime requirements
dev-venv: $(DEV_STAMP) ## Create .venv with the development requirements

# --- run -------------------------------------------------------------------

run: $(RUNTIME_STAMP) ## Migrate, ensure the demo account and the built-in vocabulary, serve on HOST:PORT
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_demo_user
	$(PY) manage.py import_vocabulary --builtin --if-empty
	exec $(PY) manage.py serve --host $(HOST) --port $(PORT)

# --- checks ----------------------------------------------------------------

# Every step runs even when an earlier one fails, so one run shows every
# problem; the target fails if any step did. Any non-zero pytest exit fails,
# including 5 (no tests collected).
test: $(DEV_STAMP) ## Lint, format check, migrations check, Chromium if missing, then pytest (PYTEST_ARGS, LINT=0)
	@failed=""; \
	step() { local name=$$1; shift; printf '\n==> %s: %s\n' "$$name" "$$*"; \
	         "$$@" || { echo "==> $$name FAILED (exit $$?)"; failed="$$failed $$name"; }; }; \
	if [ "$(LINT)" != 0 ]; then \
	  step "ruff-check" $(BIN)/ruff check . ; \
	  step "ruff-format" $(BIN)/ruff format --check . ; \
	  step "imports" $(BIN)/lint-imports ; \
	  step "mypy" $(BIN)/mypy ; \
	  step "migrations" $(PY) manage.py makemigrations --check --dry-run ; \
	fi; \
	step "browser" tools/install-browser; \
	step "pytest" $(PY) -m pytest $(PYTEST_ARGS); \
	if [ -n "$$failed" ]; then printf '\nmake test: FAILED:%s\n' "$$failed" >&2; exit 1; fi; \
	printf '\nmake test: all steps passed\n'

lint: $(DEV_STAMP) ## ruff check, ruff format --check, import layers, mypy, makemigrations --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(PY) manage.py makemigrations --check --dry-run

fmt: $(DEV_STAMP) ## Apply ruff's safe fixes and formatting (`make lint` shows what is left)
	$(BIN)/ruff check --fix-only .
	$(BIN)/ruff format .

migrations: $(DEV_STAMP) ## makemigrations, then format the new files
	$(PY) manage.py makemigrations
	$(BIN)/ruff check --fix-only --quiet .
	$(BIN)/ruff format --quiet .

# --- benchmarks ------------------------------------------------------------

# Each bench/*.py prints its own table. The repo root is on sys.path so a
# script can import tagger_project and the apps.
bench: $(DEV_STAMP) ## Run every bench/*.py script
	@shopt -s nullglob; scripts=(bench/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no bench/*.py scripts yet"; exit 0; fi; \
	for s in "$${scripts[@]}"; do \
	  printf '\n==> %s\n' "$$s"; \
	  PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(PY) "$$s"; \
	done

# --- cleanup ---------------------------------------------------------------

clean: ## Remove caches and test artifacts (keeps .venv, the database and media)
	rm -rf .pytest_cache .ruff_cache .import_linter_cache .mypy_cache .hypothesis artifacts bench/out
	find . -path ./$(VENV) -prune -o \
	  -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv
	rm -rf $(VENV)
