# `make run` serves the API with demo data on the embedded default; `make test` runs the whole suite.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JS_STAMP := tests/js/node_modules/.installed-stamp
CHROMIUM := /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 3

.PHONY: run test lint bench quality contest schema

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,semantic]'
	touch $(STAMP)

# The JavaScript clients the suite drives (npm graphql-ws under Node), exactly as the lock file pins them.
$(JS_STAMP): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

# Browser tests use Debian's chromium: Playwright's own browser builds cannot be downloaded here.
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

run: $(STAMP)
	$(VENV)/bin/ideaengine demo --host $(HOST) --port $(PORT)
	$(VENV)/bin/ideaengine serve --host $(HOST) --port $(PORT)

# What the docs claim is checked here: lint, format, types (source and tests), the import direction, then the suite.
test: $(STAMP) $(JS_STAMP) $(CHROMIUM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict ideaengine schema workers ranking tests
	$(VENV)/bin/pytest -q tests/foundation/test_architecture.py
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m bench.ranking_bench
	$(PY) -m bench.api_bench

quality: $(STAMP)
	$(PY) -m bench.quality

contest: $(STAMP)
	$(PY) -m bench.contest

schema: $(STAMP)
	$(VENV)/bin/ideaengine export-schema > schema/schema.graphql
