# make demo  — set up .venv and start the demo (sandbox + web chat)
# make test  — set up .venv and run every check: lint, types, import floors, tests

# The first interpreter that runs and is 3.11 or newer (a pyenv shim may exist and still not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
            $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; \
          done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo sandbox test lint pytest clean translations

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "orderbot needs Python 3.11 or newer; install it or set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

PORT ?= 8081
demo: $(STAMP)  ## make demo PORT=8082 when 8081 is taken
	$(BIN)/orderbot demo --port $(PORT)

sandbox: $(STAMP)
	$(BIN)/orderbot sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy sandbox bot shop storage bench

# Test processes side by side (pytest-xdist); PYTEST_WORKERS=0 runs the tests in pytest's own process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

test: lint pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache test-artifacts

translations: $(STAMP)  ## after editing templates: refresh locales/messages.pot and merge it into each language
	$(BIN)/pybabel extract -F babel.cfg -o locales/messages.pot --no-location --sort-output --project orderbot --width 110 .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching --width 110
