# Two commands do all set-up on a fresh machine with only Python:
#   make run    the embedded server (SQLite, no broker) with demo data on http://127.0.0.1:8000
#   make test   the whole suite on the local PostgreSQL and Redis, browser tests included

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run worker test bench bench-scale bench-webhooks fuzz lint format chromium clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Stamps, so that installs re-run only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo --url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production's background work: a Celery worker with beat (the webhook re-queue), on the
# Redis of REDIS_URL. `make run` needs none of this: without Redis it delivers webhooks itself.
worker: $(VENV)/.installed
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker"; exit 2; }
	$(BIN)/celery -A config worker --beat --loglevel info

# Debian's Chromium for the browser tests (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.installed-dev chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest $(PYTEST_ARGS)

# check_license vs a bare view, both on gunicorn + PostgreSQL as in production.
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python tests/bench/bench_check_license.py
	$(BIN)/python tests/bench/bench_webhooks.py

# Admin pages, API lists and check_license with 1,000,000 licenses against 1,000 (seeding takes
# minutes; SCALE_REUSE=1 keeps a seeded database). BENCH_SCALE_ARGS=--explain prints slow plans.
bench-scale: $(VENV)/.installed-dev
	@command -v wrk >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python tests/bench/bench_scale.py $(BENCH_SCALE_ARGS)

# Webhook deliveries per second to a local receiver, two Celery workers, PostgreSQL and Redis.
bench-webhooks: $(VENV)/.installed-dev
	$(BIN)/python tests/bench/bench_webhooks.py

# The management API under Schemathesis at length (every check and phase), on gunicorn +
# PostgreSQL + Redis: over 40,000 requests. FUZZ_SEED=<seed> repeats a run.
fuzz: $(VENV)/.installed-dev
	$(BIN)/python tests/fuzz/fuzz_management.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache test-artifacts
