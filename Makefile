# Two commands matter (see README): `make run` and `make test`. Both create or reuse the
# virtual environment in .venv from the lock files, so a fresh clone needs only Python 3.11+
# and make. `make run` installs what the service needs (requirements/runtime.txt); `make test`,
# `make lint` and the other development targets add the development tools
# (requirements/lock.txt, the full lock: runtime plus the `dev` extra).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck unit bench lock clean

$(RUNTIME): requirements/runtime.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OAR needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || { echo "==> creating the virtual environment in $(VENV) ($(PYTHON))"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing the service's requirements into $(VENV) (requirements/runtime.txt)"
	$(PIP) -r requirements/runtime.txt
	@echo "==> installing OAR itself (editable, src/)"
	$(PIP) --no-deps -e .
	@touch $(RUNTIME)
	@echo "==> $(VENV) has the service; the commands are in $(BIN) (or run 'source $(BIN)/activate')"

$(DEV): $(RUNTIME) requirements/lock.txt
	@echo "==> installing the development tools into $(VENV) (requirements/lock.txt: pytest, mypy, ruff, ...)"
	$(PIP) -r requirements/lock.txt
	@touch $(DEV)

## Run the live demo (docs/sandbox.md#the-demo): every stand-in, the service pointed at them
## on SQLite under ~/.local/share/oar/demo, three seeded releases. RUN_ARGS="--port 0 …"
## passes options. Against real systems, run `oarctl serve` with real credentials instead.
run: $(RUNTIME)
	$(BIN)/oarctl demo $(RUN_ARGS)

## Run the whole test suite: lint, types, then unit, integration, acceptance and load tests,
## in TEST_WORKERS processes (pytest-xdist; one test module stays on one worker, and each
## worker has its own PostgreSQL database). Most tests wait on subprocesses and servers, so
## more workers than CPUs pays off; TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 3
test: $(DEV) lint typecheck
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Lint, formatting, and the layering contracts in pyproject.toml (docs/architecture.md).
lint: $(DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy

unit: $(DEV)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: $(DEV)
	$(BIN)/python bench/tasks.py

## Re-resolve the locks from pyproject.toml (needs network): requirements/lock.txt, everything
## (runtime and the dev extra); requirements/runtime.txt, the runtime part of it at the same versions.
lock: $(DEV)
	$(PIP) --quiet uv==0.13.9
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements/lock.txt
	$(BIN)/uv pip compile --quiet pyproject.toml --python-version 3.11 --no-header --annotation-style line \
		-c requirements/lock.txt -o requirements/runtime.txt
	sed -i -e 's|, -c requirements/lock.txt||' -e 's|# via -c requirements/lock.txt, |# via |' \
		-e 's| *# via -c requirements/lock.txt$$||' requirements/runtime.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .grimp_cache .import_linter_cache build src/*.egg-info
