# specaudit: set-up and everyday commands.
#
#   make demo   install everything (torch first) and audit the built-in pair
#   make test   install everything and run the test suite
#   make docs   build the documentation site into site/ (strict: warnings fail)
#
# Set TORCH to pick the torch build, e.g. `make demo TORCH=torch` on a CUDA
# machine. The default pins the CPU build that this project is tested with.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

.PHONY: install demo test test-all bench docs lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# Torch goes first: a bare `torch` requirement pulled in by the project would
# otherwise fetch several GB of CUDA packages.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install "$(TORCH)"
	$(BIN)/pip install -e ".[test,dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/specaudit run --out runs/demo --resume

test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-all: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/engine.py

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs site .pytest_cache
