# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TEST   := NO_PROXY=127.0.0.1,localhost $(BIN)/python -m pytest -q -p no:cacheprovider

.PHONY: demo test test-fast check bench lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# One stamp per set of extras installed: base (demo), dev (tests and checks), bench.
$(VENV)/.installed-%: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.$(if $(filter base,$*),,[$*])'
	touch $@

# The main job: notebooks/quickstart.ipynb in a real kernel, against the paper exchange and an
# embedded Redis; prints a summary and where the executed notebook was written.
demo: $(VENV)/.installed-base
	$(BIN)/python -m nbexec.notebook.demo

# JupyterLab on notebooks/ (each notebook starts with %load_ext nbexec).
lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Everything, against real servers on loopback: Redis, the paper exchange, kernels, a browser.
test: $(VENV)/.installed-dev
	$(TEST)

# The tests that start no process of their own, kernel or browser (they share one Redis).
test-fast: $(VENV)/.installed-dev
	NBEXEC_TEST_FAST=1 $(TEST) -m "not process"

# Lint and format (ruff), types (mypy), the import layers (import-linter, in pyproject.toml).
check: $(VENV)/.installed-dev
	$(BIN)/ruff check nbexec tests
	$(BIN)/ruff format --check nbexec tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-bench
	$(BIN)/nbexec bench

clean:
	rm -rf $(VENV) build *.egg-info
