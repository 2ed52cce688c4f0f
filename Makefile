# Two commands on a fresh machine: `make run` serves the webhook, `make test` tests it.
# Both create the virtualenv .venv and install the project into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOURCES := injector tests $(wildcard bench) $(wildcard tools)

.PHONY: run test lint fix bench clean

# Two set-ups started at once (`make run` and `make test` on a fresh clone) must not run
# two pips in one virtualenv: the install holds a lock (flock, util-linux), and whoever
# waited for it finds the installation done and newer than pyproject.toml.
$(BIN)/.installed: pyproject.toml
	flock $(VENV).lock sh -ec '\
	  if [ -e $@ ] && [ $@ -nt pyproject.toml ]; then exit 0; fi; \
	  $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --quiet --upgrade pip; \
	  $(BIN)/pip install --quiet -e ".[dev]"; \
	  touch $@'

run: $(BIN)/.installed
	$(BIN)/sidecar-injector serve --host 127.0.0.1 --port 9443 --cert-dir certs --log-format text

test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports

fix: $(BIN)/.installed
	$(BIN)/ruff format $(SOURCES)
	$(BIN)/ruff check --fix $(SOURCES)

bench:
	bash bench/run.sh

clean:
	rm -rf $(VENV) $(VENV).lock .mypy_cache .ruff_cache .pytest_cache
