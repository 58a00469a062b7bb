# Two commands on a fresh machine with only Python 3.11+ and pip:
#   make run    set up, start the embedded services, migrate, seed, and serve the portal (Ctrl-C stops all)
#   make test   set up and run the whole test suite against real PostgreSQL, Redis and S3
#   make bench N=100000   generate N cases and run the benchmarks (bench/README.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 5000
N      ?= 10000

.PHONY: run test lint format translations clean-var bench bench-smoke wrk

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/python -m portal.i18n compile

run: $(STAMP) translations
	PORT=$(PORT) $(BIN)/portal dev

test: $(STAMP) translations
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The load tool: Debian's wrk, installed when missing.
wrk:
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

bench: $(STAMP) translations wrk
	$(BIN)/python -m bench.run --cases $(N) $(BENCH_ARGS)

# The whole benchmark at a toy size and one second a scenario: proves the harness works, measures nothing.
bench-smoke: $(STAMP) translations wrk
	$(BIN)/python -m bench.run --cases 300 --seconds 1 --warmup 0 --root var/bench-smoke --results var/bench-smoke/results

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-var:
	rm -rf var/
