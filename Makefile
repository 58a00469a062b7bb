# Two commands on a fresh machine with only Python 3.11+ and pip:
#   make run    set up, start the embedded services, migrate, seed, and serve the portal (Ctrl-C stops all)
#   make test   set up and run the whole test suite against real PostgreSQL, Redis and S3
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 5000

.PHONY: run test lint format translations clean-var

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-var:
	rm -rf var/
