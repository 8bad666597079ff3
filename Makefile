# Two commands do all set-up on a fresh machine with python3 and a C compiler:
#   make run    create .venv, install, serve the API on 127.0.0.1:8000
#   make test   create .venv if needed, run ruff, mypy and the whole pytest suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Browser tests drive Debian's chromium through playwright (never a downloaded browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck pytest schema clean test-postgres bench soak wrk mutation openapi-client

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# var/tokens.yaml (made by `tiaokuai token --tokens-file var/tokens.yaml`) is used when present.
run: $(STAMP)
	mkdir -p var
	$(if $(wildcard var/tokens.yaml),TIAOKUAI_TOKENS_FILE=$${TIAOKUAI_TOKENS_FILE:-var/tokens.yaml}) $(BIN)/tiaokuai serve --host 127.0.0.1 --port 8000 --jurisdictions jurisdictions

# openapi-python-client generates a client in a test (tests/system/test_generated_client.py). It
# needs typer<0.28 (the CLI pins 0.29), so it gets a venv of its own inside .venv.
OPENAPI_CLIENT := $(VENV)/openapi-client
OPENAPI_CLIENT_PINS := openapi-python-client==0.29.1 setuptools==80.9.0
OPENAPI_CLIENT_STAMP := $(OPENAPI_CLIENT)/.installed-$(subst ==,-,$(subst $() ,_,$(OPENAPI_CLIENT_PINS)))

$(OPENAPI_CLIENT_STAMP): $(STAMP)
	test -x $(OPENAPI_CLIENT)/bin/python || $(PYTHON) -m venv $(OPENAPI_CLIENT)
	$(OPENAPI_CLIENT)/bin/python -m pip install --quiet $(OPENAPI_CLIENT_PINS)
	touch $(OPENAPI_CLIENT_STAMP)

openapi-client: $(OPENAPI_CLIENT_STAMP)

test: $(STAMP) $(CHROMIUM) $(OPENAPI_CLIENT_STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check engine api tests

typecheck: $(STAMP)
	$(BIN)/mypy engine api

# A private PostgreSQL (Debian's package, installed if missing; random port, data under var/)
# joins the decision-log tests and the replicas test; without one they run on SQLite only.
pytest: $(STAMP)
	mkdir -p out
	scripts/with-postgres.sh $(BIN)/pytest --rule-coverage --cucumberjson=out/cucumber.json

# The decision-log tests against a local PostgreSQL (installed with apt-get if missing,
# on 127.0.0.1:55433, data under var/postgres, stopped afterwards).
test-postgres: $(STAMP)
	scripts/test-postgres.sh

$(CHROMIUM):
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium fonts-wqy-microhei

schema: $(STAMP)
	$(BIN)/tiaokuai schema

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# Benchmarks and soak (not part of `make test`): bench/results.md is rewritten.
wrk:
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

bench: $(STAMP) wrk
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.cases
	nice -n 10 $(BIN)/python -m bench.province --out bench/province.json

soak: $(STAMP) wrk
	$(BIN)/python -m bench.soak

# Mutation testing of the decision core (not part of `make test`; tens of minutes on 2 cores):
# each module's result goes to bench/mutation/<module>.json and bench/mutation.md is regenerated
# from all of them; `make mutation MODULES="review matcher"` runs some modules and rewrites only
# their rows. With a private PostgreSQL, as `make test` has, so the log's tests also run there.
# mutmut is installed into .venv only for this target.
MUTATION_STAMP := $(VENV)/.mutation-installed

$(MUTATION_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	nice -n 15 scripts/with-postgres.sh $(BIN)/python -m bench.mutation $(MODULES)
