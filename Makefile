# SmallImage: `make run` serves the app on http://127.0.0.1:8000, `make test` runs every test.
# Both start from a bare Debian machine: they install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# apt-get needs root; use sudo when we are not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: run test lint format lock migrate demo clean help postgresql nodejs

help:
	@echo "make run    venv, dependencies, migrations, demo accounts, server on http://127.0.0.1:8000"
	@echo "make test   test dependencies (Chromium, PostgreSQL, Node.js), then the whole suite"
	@echo "make lint   ruff, mypy"
	@echo "make lock   compile requirements*.in into the fully pinned requirements*.txt"

$(BIN)/python:
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { \
		echo "Installing python3-venv (Debian)"; $(SUDO) apt-get update -q && $(APT_INSTALL) python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps follow the lock files, not the .in files: an edited pin is installed
# once `make lock` has written it into requirements*.txt.
$(VENV)/.requirements: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

# requirements-dev.txt holds requirements.txt's pins too (requirements-dev.in takes
# them as constraints), so installing it also satisfies the runtime stamp.
$(VENV)/.requirements-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.requirements

# Re-compiles both lock files; options in pyproject.toml's [tool.pip-tools]. Pins
# already in a lock file are kept where they still fit, so an edit changes only what
# it must; LOCK_ARGS="--upgrade-package urllib3" (or --upgrade) moves transitive ones.
# requirements.txt first: requirements-dev.in reads it as constraints.
lock: $(VENV)/.requirements-dev
	$(BIN)/pip-compile --quiet $(LOCK_ARGS) --output-file=requirements.txt requirements.in
	$(BIN)/pip-compile --quiet $(LOCK_ARGS) --output-file=requirements-dev.txt requirements-dev.in

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
/usr/bin/chromium:
	$(SUDO) apt-get update -q
	$(APT_INSTALL) chromium fonts-dejavu-core

run: export DJANGO_DEBUG = 1
run: $(VENV)/.requirements
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py demo_accounts
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# Debian's PostgreSQL, which tests/postgres.py starts as a throwaway server for each
# run. Phony, not a file target: the path names the version (/usr/lib/postgresql/15).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "Installing PostgreSQL (Debian) for the tests"; \
		$(SUDO) apt-get update -q && $(APT_INSTALL) postgresql; }

# Node.js, which runs the CloudFront Function in deploy/ under test.
nodejs:
	@command -v node >/dev/null 2>&1 || { \
		echo "Installing Node.js (Debian) for the tests"; \
		$(SUDO) apt-get update -q && $(APT_INSTALL) nodejs; }

# pytest-xdist workers for `make test`: CI has two cores. The workers share the one
# throwaway PostgreSQL server pytest starts before it spawns them (tests/postgres.py);
# each has its own test database and Chromium. TEST_WORKERS=auto on a bigger
# machine, 0 for a single process.
TEST_WORKERS ?= 2

# The whole suite on PostgreSQL, as in production; then the browser journeys and
# the HTML views again on the embedded SQLite default that `make run` uses.
test: $(VENV)/.requirements-dev /usr/bin/chromium postgresql nodejs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/mypy
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(TEST_WORKERS)
	SMALLIMAGE_TEST_DATABASE=sqlite $(BIN)/pytest -n $(TEST_WORKERS) tests/e2e tests/gallery/test_views.py

# mypy's django-stubs plugin imports the settings: DEBUG lets them load without a
# strong DJANGO_SECRET_KEY (files checked and strictness: pyproject.toml [tool.mypy]).
lint: $(VENV)/.requirements-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/mypy

format: $(VENV)/.requirements-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
