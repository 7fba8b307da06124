# Two commands on a fresh machine with python3:
#   make train   -> trains the default model (FastResNet-20 on CIFAR-10, the seed's recipe) and exports it
#   make test    -> runs the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TRAIN_ARGS ?=

# The lint tools live in their own venv with nothing else in it: `make lint` installs no TensorFlow.
# Pinned so that a new release cannot turn CI red; the pre-commit hooks run these same binaries.
LINT_VENV ?= .venv-lint
LINT_PY := $(LINT_VENV)/bin/python
LINT_PINS := ruff==0.17.6 mypy==2.4.1
LINT_PATHS := reszoo tests notebooks benchmarks
# The modules mypy checks (config in setup.cfg [mypy]): the typed core a new family is built on.
TYPED_MODULES := reszoo/registry.py reszoo/units.py reszoo/layers reszoo/cli.py reszoo/_checks.py reszoo/training/config.py reszoo/convert

.PHONY: venv lint-venv train test test-all lint typecheck smoke clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,convert]"
	touch $@

venv: $(VENV)/.installed

$(LINT_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_PY) -m pip install --quiet $(LINT_PINS)
	touch $@

lint-venv: $(LINT_VENV)/.installed

train: venv
	$(PY) -m reszoo.train $(TRAIN_ARGS)

# A two-minute end-to-end run on synthetic data (no download): train, export, predict.
smoke: venv
	$(PY) -m reszoo.train --model fast_resnet20 --dataset synthetic:256 --epochs 2 --batch-size 64 --milestones 1 --export-dir saved_models/smoke-$$(date +%s)

# One pytest worker per core, at most four: on CI's 2 cores the suite takes ~12 min instead of ~22
# (model building is single-threaded Python).
test: venv
	$(PY) -m pytest -m "not slow" -q -n auto --maxprocesses=4

test-all: venv
	$(PY) -m pytest -q -n auto --maxprocesses=4

MYPY := $(LINT_PY) -m mypy $(TYPED_MODULES)

# Lint, formatting (rules in pyproject.toml) and types (setup.cfg [mypy]).
lint: lint-venv
	$(LINT_PY) -m ruff check $(LINT_PATHS)
	$(LINT_PY) -m ruff format --check $(LINT_PATHS)
	$(MYPY)

typecheck: lint-venv
	$(MYPY)

clean:
	rm -rf $(VENV) $(LINT_VENV) build *.egg-info .pytest_cache .mypy_cache
