# geomap: two commands do all set-up on a fresh Debian machine.
#   make run    install everything, migrate and seed the embedded PostGIS, serve on :5000
#   make test   install everything, lint (ruff) and run the whole test suite
#   make bench  install that and wrk, then run every benchmark (bench/run.py; bench/README.md)
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
PYTHON ?= python3
PYTEST_ARGS ?=
BENCH_ARGS ?=
# A benchmark's processes in one real-time class, as bench/README.md's runs were measured (root only).
CHRT ?= $(shell [ "$$(id -u)" = 0 ] && echo chrt -r 10)
GEOMAP := $(VENV)/bin/geomap

.PHONY: run test bench install install-run install-bench clean

run: install-run
	$(GEOMAP) db upgrade
	$(GEOMAP) load
	$(GEOMAP) serve --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# One benchmark run at a time on the machine (the lock), every benchmark process in the run's class.
bench: install-bench
	flock /tmp/geomap-bench.lock $(CHRT) $(VENV)/bin/python bench/run.py $(BENCH_ARGS)

# `make run` needs Chromium (the context report's PDF) but not GDAL's tools: those are for the tests only.
install-run:
	@scripts/install-system-deps.sh run
	@$(MAKE) --no-print-directory $(VENV)/.installed

install:
	@scripts/install-system-deps.sh test
	@$(MAKE) --no-print-directory $(VENV)/.installed

install-bench:
	@scripts/install-system-deps.sh bench
	@$(MAKE) --no-print-directory $(VENV)/.installed

# One environment for both: the test extras are Python packages only (about 60 MB).
# pip compiles the 8,287 modules one by one (44 of the install's 95 s); compileall does it on every
# core (14 s on two). Compiled they must be: where PYTHONDONTWRITEBYTECODE is set (this
# machine sets it), Python never writes them itself, and each process took 6-7 s instead of
# 2.3 s to import the server.
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "Creating the virtual environment $(VENV) and installing geomap (about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off --no-compile -c constraints.txt -e '.[test]'
	$(VENV)/bin/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
