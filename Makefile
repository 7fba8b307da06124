# Two commands on a fresh machine with python3:
#   make train   -> trains the default model (FastResNet-20 on CIFAR-10, the seed's recipe) and exports it
#   make test    -> runs the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TRAIN_ARGS ?=

.PHONY: venv train test test-all lint smoke clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

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

# Lint and formatting, pinned so that a new ruff release cannot turn CI red (rules in pyproject.toml).
lint: venv
	$(PY) -m ruff check reszoo tests notebooks benchmarks
	$(PY) -m ruff format --check reszoo tests notebooks benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
