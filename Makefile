# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The main job: notebooks/quickstart.ipynb in a real kernel, against the paper exchange and an
# embedded Redis; prints a summary and where the executed notebook was written.
demo: $(STAMP)
	$(BIN)/python -m nbexec.notebook.demo

# JupyterLab on notebooks/ (each notebook starts with %load_ext nbexec).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	NO_PROXY=127.0.0.1,localhost $(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/nbexec bench

clean:
	rm -rf $(VENV) build *.egg-info
