# geomap: two commands do all set-up on a fresh Debian machine.
#   make run    install everything, migrate and seed the embedded PostGIS, serve on :5000
#   make test   install everything and run the whole test suite
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
PYTHON ?= python3
PYTEST_ARGS ?=
GEOMAP := $(VENV)/bin/geomap

.PHONY: run test install system-deps clean

run: install
	$(GEOMAP) db upgrade
	$(GEOMAP) load
	$(GEOMAP) serve --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

install: system-deps $(VENV)/.installed

system-deps:
	@scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
