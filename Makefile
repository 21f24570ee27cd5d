# Stationkeeper: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

# The test suite runs against real PostgreSQL and Redis on 127.0.0.1 unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stationkeeper
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test bench simulate probe outage lint format install clean spectral screenshots messages

$(STAMP): pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	@echo "Installing dependencies into $(VENV) (log: $(VENV)/install.log) ..."
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e ".[dev]"; } \
		> $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@test -f .env || printf '# Local development only (git ignores this file): manage.py runs in DEBUG.\nDJANGO_DEBUG=1\n' > .env
	@touch $(STAMP)

install: $(STAMP)

# `make run` is for trying Stationkeeper on one machine: DEBUG on, embedded SQLite and broker.
run: export DJANGO_DEBUG ?= 1
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export WEB_PORT = $(PORT)
run: export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
run: $(STAMP)
	@mkdir -p var
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py seed_demo
	@echo ""
	@echo "Stationkeeper is starting on http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo "Web server, Celery worker and Celery beat run together; Ctrl-C stops all three."
	@echo ""
	@honcho -f Procfile start

test: $(STAMP)
	@mkdir -p var
	@DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) scripts/check_services.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports
	DJANGO_DEBUG=1 $(VENV)/bin/mypy
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(VENV)/bin/pytest

# Browser tests save screenshots under var/screenshots/ (git ignores it); this runs the ones that
# take screenshots and copies the pictures into docs/screenshots/, which the README shows.
screenshots: $(STAMP)
	@$(PY) scripts/check_services.py
	@rm -rf var/screenshots
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(VENV)/bin/pytest -q $$(grep -lE 'shoot\(|screenshot_path\(' tests/e2e/test_*.py)
	mkdir -p docs/screenshots
	cp var/screenshots/*.png docs/screenshots/

# The catalogues (locale/) take the code's and templates' new messages; translate the empty
# msgstr entries, then `make messages` again to compile them.
MESSAGE_IGNORE := --ignore=.venv --ignore=node_modules --ignore=bench --ignore=tests --ignore=var
messages: $(STAMP)
	DJANGO_DEBUG=1 $(PY) manage.py makemessages --locale=zh_Hans --locale=ms --no-obsolete $(MESSAGE_IGNORE)
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages $(MESSAGE_IGNORE)

# Benchmarks run on PostgreSQL and Redis too, in a database of their own (it is emptied each run).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stationkeeper_bench
# The benchmarks and the simulated day run with production settings (DEBUG off) against
# PostgreSQL and Redis on 127.0.0.1, in databases of their own.
bench simulate probe outage: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench simulate probe outage: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/13
bench simulate probe outage: export CACHE_URL ?= redis://127.0.0.1:6379/11
bench simulate probe outage: export DJANGO_SECRET_KEY ?= benchmark-only-secret-key-not-for-production-use
bench simulate probe outage: export DJANGO_DEBUG = 0
bench simulate probe outage: export EMAIL_URL ?= consolemail://
bench simulate probe outage: export SMS_BACKEND ?= parcels.notices.LocmemSmsBackend
bench simulate probe outage: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,testserver
bench simulate probe outage: export DJANGO_SECURE_SSL_REDIRECT ?= 0
bench simulate probe outage: export DJANGO_STATIC_MANIFEST ?= 0
bench: $(STAMP)
	@mkdir -p var/bench
	@$(PY) scripts/check_services.py
	@command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: apt-get install postgresql-client)"; exit 1; }
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'stationkeeper_bench'" \
		| grep -q 1 || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE stationkeeper_bench"
	$(PY) bench/run.py $(ARGS)

# `make simulate` is a tenth of Singapore's day; `make simulate SCALE=1` the whole of it.
SCALE ?= 0.1
simulate: $(STAMP)
	@mkdir -p var/sim
	@$(PY) scripts/check_services.py
	$(PY) -u bench/simulate.py --scale $(SCALE) $(ARGS)

# Bad input at every face (API, portal, buyer page), counted by status; fails on any 5xx.
probe: $(STAMP)
	@$(PY) scripts/check_services.py
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'stationkeeper_bench'" \
		| grep -q 1 || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE stationkeeper_bench"
	$(PY) bench/probe.py

# A counter day through a Redis outage (a Redis of its own, stopped mid-run): no 5xx, nothing lost
# or doubled.
outage: $(STAMP)
	@$(PY) scripts/check_services.py
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'stationkeeper_bench'" \
		| grep -q 1 || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE stationkeeper_bench"
	$(PY) bench/outage.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Spectral (npm, pinned in package.json) lints the partner API's OpenAPI schema; errors fail.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

spectral: $(STAMP) node_modules/.package-lock.json
	@mkdir -p var
	DJANGO_DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml
	node_modules/.bin/spectral lint --fail-severity=error var/openapi.yaml

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/broker var/celerybeat-schedule* var/static
