# The two jobs of this project: build the book (`make book`) and run the tests (`make test`).
# Each sets up its own virtual environment in .venv on first use (a fresh machine needs only python3.11 and PyPI).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# TensorFlow build: the CUDA one where an NVIDIA driver is present, the CPU one otherwise. Override with TF=cpu|gpu.
TF     ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP  := $(VENV)/.installed-$(TF)
# The locked environment (exact versions, sha256 hashes) of this TensorFlow build; `make lock` rewrites both.
LOCK   := requirements/lock-$(TF).txt
# The replay's pinned environment (requirements-replay.txt): the original runs' library versions.
REPLAY_VENV  := .venv-replay
REPLAY_STAMP := $(REPLAY_VENV)/.installed
# The workflow engine's environment (requirements-workflow.txt): Snakemake and its SLURM executor plugin.
WORKFLOW_VENV  := .venv-workflow
WORKFLOW_STAMP := $(WORKFLOW_VENV)/.installed
# The engine's profile (workflow/profiles): laptop (this machine) or slurm (a cluster job per task).
PROFILE ?= laptop
# Book scale: smoke (seconds per arm), default (the book on a 2-core CPU), full (the original's scale, for a GPU).
SCALE  ?= default
SMOKE  := _build/smoke-book
# Book root for `make pdf` (a smoke book: `make pdf SCALE=smoke ROOT=_build/smoke-book`).
ROOT   ?= .
# The tools that resolve the locks: uv, from PyPI only (no local mirror or constraints file), for Linux x86-64.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --quiet --extra test --extra book --generate-hashes \
             --python-version 3.11 --python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple \
             --custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: book test test-cluster env replay-env workflow-env clean lock pdf pin latex-tools cff

# The lock is installed as it is (--require-hashes: every package pinned and checked), then fusionlib itself
# (editable, --no-deps). PIP_CONSTRAINT is emptied: a machine-wide constraints file must not veto the lock.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PIP_CONSTRAINT= $(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

# Re-resolve both locks from pyproject.toml (keeps current pins where allowed; `make lock LOCK_FLAGS=--upgrade`
# moves every package to its newest allowed version). A changed lock re-runs every task of the study.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv>=0.5,<1"
	$(UV_COMPILE) --extra cpu -o requirements/lock-cpu.txt
	$(UV_COMPILE) --extra gpu -o requirements/lock-gpu.txt

$(REPLAY_STAMP): requirements-replay.txt
	test -x $(REPLAY_VENV)/bin/python || $(PYTHON) -m venv $(REPLAY_VENV)
	$(REPLAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(REPLAY_VENV)/bin/python -m pip install --quiet -r requirements-replay.txt
	touch $@

# The pinned environment in which fusionstudy.replay.protocol reproduces the original's recorded numbers exactly.
replay-env: $(REPLAY_STAMP)

$(WORKFLOW_STAMP): requirements-workflow.txt
	test -x $(WORKFLOW_VENV)/bin/python || $(PYTHON) -m venv $(WORKFLOW_VENV)
	$(WORKFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	PIP_CONSTRAINT= $(WORKFLOW_VENV)/bin/python -m pip install --quiet -r requirements-workflow.txt
	touch $@

# Snakemake, the engine that runs the study's tasks (workflow/Snakefile), in an environment of its own.
workflow-env: $(WORKFLOW_STAMP)

# Run every stale task through the workflow engine (Snakemake, profile $(PROFILE)) into book/generated, build
# _build/html, then compare the results with the pinned values (tests/expected/$(SCALE).json; a difference fails with a diff).
book: $(STAMP) $(REPLAY_STAMP) $(WORKFLOW_STAMP)
	$(PY) -m fusionstudy.build.study --scale $(SCALE) --profile $(PROFILE) --build
	$(PY) -m fusionstudy.build.pin --scale $(SCALE)

# Pin the current results as the expected values of $(SCALE) (commit the file with the change that moved them).
pin: $(STAMP)
	$(PY) -m fusionstudy.build.pin --scale $(SCALE) --update

# A PDF of the whole book (Jupyter Book's LaTeX builder, xelatex): $(ROOT)/_build/latex/book.pdf.
pdf: $(STAMP) latex-tools
	$(PY) -m fusionstudy.build.study --scale $(SCALE) --root $(ROOT) --pdf

# Debian's TeX Live (xelatex, latexmk, the LaTeX packages Sphinx uses, FreeFont) where xelatex is missing.
LATEX_PACKAGES = texlive-xetex texlive-latex-extra texlive-latex-recommended texlive-fonts-recommended \
                 texlive-plain-generic latexmk fonts-freefont-otf poppler-utils
latex-tools:
	@command -v xelatex >/dev/null && command -v latexmk >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends $(LATEX_PACKAGES); }

# CITATION.cff against the Citation File Format schema. cffconvert has a venv of its own: it pins jsonschema 3,
# which the book's tools (jsonschema 4) cannot share.
CFF_VENV := _build/cffconvert
cff:
	test -x $(CFF_VENV)/bin/cffconvert || { $(PYTHON) -m venv $(CFF_VENV) && \
	  $(CFF_VENV)/bin/pip install --quiet "cffconvert==2.0.0"; }
	$(CFF_VENV)/bin/cffconvert --validate -i CITATION.cff

# Test processes at once (pytest-xdist): each test file runs whole in one worker (--dist loadfile), each notebook
# in one kernel in one worker (--dist loadscope, as nbval needs). TEST_JOBS=0 runs everything in this process.
TEST_JOBS ?= 2
XDIST = $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS))

# Unit tests (CITATION.cff validated first; the replay's also in its pinned environment); a smoke-scale study
# and book build (-W) in $(SMOKE); its numbers against the pinned ones (tests/expected/smoke.json); nbval over
# the notebooks it executed.
test: $(STAMP) $(REPLAY_STAMP) $(WORKFLOW_STAMP) cff
	$(PY) -m pytest -q $(XDIST) $(if $(XDIST),--dist loadfile) tests
	$(REPLAY_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_replay.py
	$(PY) -m fusionstudy.build.study --scale smoke --root $(SMOKE) --build
	$(PY) -m fusionstudy.build.pin --scale smoke --root $(SMOKE)
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST) $(if $(XDIST),--dist loadscope) --nbval-lax tests/test_publish.py tests/test_audit_book.py $(SMOKE)/book/generated/experiments $(SMOKE)/book/generated/arms $(SMOKE)/book/generated/pages

# The smoke study through the slurm profile on a real single-node SLURM started and stopped here (Debian's slurm-wlm
# and munge, installed when missing: needs root or sudo), its pins, and its results against _build/smoke-book's
# when `make test` made one (workflow/cluster/test-cluster.sh). Not part of `make test`.
test-cluster: $(STAMP) $(REPLAY_STAMP) $(WORKFLOW_STAMP)
	workflow/cluster/test-cluster.sh $(PY) _build/cluster-book $(SMOKE)

clean:
	rm -rf $(VENV) $(REPLAY_VENV) $(WORKFLOW_VENV) .pytest_cache _build book/generated .snakemake
