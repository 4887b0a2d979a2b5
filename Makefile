# The two jobs of this project: build the book (`make book`) and run the tests (`make test`).
# Each sets up its own virtual environment in .venv on first use (a fresh machine needs only python3.11 and PyPI).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# TensorFlow build: the CUDA one where an NVIDIA driver is present, the CPU one otherwise. Override with TF=cpu|gpu.
TF     ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP  := $(VENV)/.installed-$(TF)
# The replay's pinned environment (requirements-replay.txt): the original runs' library versions.
REPLAY_VENV  := .venv-replay
REPLAY_STAMP := $(REPLAY_VENV)/.installed
# Book scale: smoke (seconds per arm), default (the book on a 2-core CPU), full (the original's scale, for a GPU).
SCALE  ?= default
SMOKE  := _build/smoke-book

.PHONY: book test env replay-env clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF),test,book]"
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

$(REPLAY_STAMP): requirements-replay.txt
	test -x $(REPLAY_VENV)/bin/python || $(PYTHON) -m venv $(REPLAY_VENV)
	$(REPLAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(REPLAY_VENV)/bin/python -m pip install --quiet -r requirements-replay.txt
	touch $@

# The pinned environment in which fusionlib.replay reproduces the original's recorded numbers exactly.
replay-env: $(REPLAY_STAMP)

# Run every arm (skipping unchanged ones) with papermill into book/generated, then build _build/html.
book: $(STAMP) $(REPLAY_STAMP)
	$(PY) -m fusionlib.study --scale $(SCALE) --build

# Unit tests (the replay's also in its pinned environment); a smoke-scale study and book build (-W) in $(SMOKE);
# nbval over the notebooks it executed.
test: $(STAMP) $(REPLAY_STAMP)
	$(PY) -m pytest -q tests
	$(REPLAY_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_replay.py
	$(PY) -m fusionlib.study --scale smoke --root $(SMOKE) --build
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax $(SMOKE)/book/generated/experiments $(SMOKE)/book/generated/arms $(SMOKE)/book/generated/pages

clean:
	rm -rf $(VENV) $(REPLAY_VENV) .pytest_cache _build book/generated
