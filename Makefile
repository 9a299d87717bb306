# Annuaire de l'innovation sociale — everyday commands.
#   make run    set everything up (venv, database, gazetteer, seed) and serve on http://$(HOST):$(PORT)
#   make test   set up the test tools and run the whole suite (SQLite; TEST_DATABASE_URL for PostgreSQL)

PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
# Links are made from PUBLIC_URL. On a loopback address it defaults to that address; on any
# other one it must be given (the server refuses to start without it, with a message).
ifneq ($(filter 127.0.0.1 localhost ::1,$(HOST)),)
DEFAULT_PUBLIC_URL := http://$(HOST):$(PORT)
endif
# Tests run on every core (pytest-xdist): each worker has its own databases and index.
PYTEST_ARGS ?= -n auto
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app directory

.PHONY: run setup install install-test test pytest lint format browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

setup: install
	$(FLASK) setup

run: setup
	@echo "Annuaire servi sur http://$(HOST):$(PORT) (Ctrl+C pour arrêter)"
	PUBLIC_URL=$${PUBLIC_URL:-$(DEFAULT_PUBLIC_URL)} $(BIN)/gunicorn -c deploy/gunicorn.conf.py --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - "directory:create_app()"

# Browser tests need Debian's Chromium and axe-core (npm); both are installed when possible.
browser-deps:
	@bash tools/ensure-browser-deps.sh

pytest: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: install-test browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
