# Two commands: `make run` starts the whole system, `make test` runs every test and gate.
# Everything installs into ./.venv with uv (itself bootstrapped into ./.tools from PyPI).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: install run test lint typecheck pytest check-packages bench clean

install: $(STAMP)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml libs/common/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

run: install
	$(BIN)/lumi dev

test: install lint typecheck check-packages pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest $(PYTEST_ARGS)

# each service installs alone into its own environment and its console script starts
check-packages: $(UV)
	bash deploy/check-packages.sh

# figures, not tests (docs/performance.md): every bench/<name>.py, run as a module
bench: install
	for script in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
