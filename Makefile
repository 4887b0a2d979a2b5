# The two jobs of this project: build the book (`make book`, added with the book) and run the tests (`make test`).
# Each sets up its own virtual environment in .venv on first use (a fresh machine needs only python3.11).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# TensorFlow build: the CUDA one where an NVIDIA driver is present, the CPU one otherwise. Override with TF=cpu|gpu.
TF     ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP  := $(VENV)/.installed-$(TF)

.PHONY: test env clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF),test]"
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
