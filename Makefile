# 回音 Huiyin — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
WORKERS ?= 2
export FLASK_APP := webapp

DEB_RUN  := fontconfig fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0
DEB_TEST := $(DEB_RUN) chromium poppler-utils
DEB_BENCH := $(DEB_TEST) wrk

.PHONY: run test deps-run deps-test deps-bench translations lint bench clean

## make run: install everything, migrate the SQLite database, load demo data when empty, serve:
## the web server and the task queue's consumer together (scripts/serve; Ctrl-C stops both).
run: deps-run $(VENV)/.run-installed translations
	$(BIN)/flask setup
	BIN=$(BIN) PORT=$(PORT) WORKERS=$(WORKERS) scripts/serve

## make test: install everything plus test tools, run the suite on SQLite, then on
## $TEST_DATABASE_URL (PostgreSQL) when it is set.
test: deps-test $(VENV)/.test-installed translations
	$(BIN)/ruff check webapp tests
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15
	@if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
	  echo "== the same suite on $${TEST_DATABASE_URL%%@*}@… =="; \
	  HUIYIN_TEST_DATABASE_URL="$$TEST_DATABASE_URL" $(BIN)/pytest -n 2 --dist loadgroup --durations=15; \
	fi

deps-run:
	@scripts/ensure-debian-packages $(DEB_RUN)

deps-test:
	@scripts/ensure-debian-packages $(DEB_TEST)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

## Compile the English catalogue (Chinese is the source language).
translations: $(VENV)/.run-installed
	$(BIN)/pybabel compile --use-fuzzy -d webapp/translations

## Re-extract messages after changing user-facing text, then translate the new entries.
extract-messages:
	$(BIN)/pybabel extract -F babel.cfg -k _l -o webapp/translations/messages.pot webapp templates
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching

lint:
	$(BIN)/ruff check webapp tests
	$(BIN)/lint-imports

## make bench [BENCH_ARGS="--database-url postgresql+psycopg://…/huiyin_bench"]: queue pages vs hello at 1k, 10k, 50k, 200k problems.
bench: deps-bench $(VENV)/.test-installed
	$(BIN)/python benchmarks/queues.py $(BENCH_ARGS)

deps-bench:
	@scripts/ensure-debian-packages $(DEB_BENCH)

## make load-test [LOAD_ARGS="--database-url postgresql+psycopg://…/huiyin_bench_load"]: 200 users
## for 60 s (Locust) against 4 gunicorn processes on PostgreSQL; then counters and audit chain checked.
.PHONY: load-test
load-test: deps-bench $(VENV)/.test-installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/load_test.py $(LOAD_ARGS)

## make bench-dashboard [BENCH_ARGS=…]: 200,000 problems, dashboard, reports and supervision vs hello.
.PHONY: bench-dashboard
bench-dashboard: $(VENV)/.test-installed
	$(BIN)/python benchmarks/dashboard.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
