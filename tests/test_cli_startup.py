"""The first thing a user meets: every command's ``--help`` and a bad flag answer without importing TensorFlow.

Each case runs in a fresh interpreter (the test process has TensorFlow loaded already): it imports the module
that ``python -m reszoo.<command>`` and the console script import, calls its ``main`` and reports the exit
status and whether TensorFlow or Keras got imported. ``TF_CPP_MIN_LOG_LEVEL`` is left unset, so TensorFlow's
start-up lines would land in the captured stderr, which must hold the one ``error:`` line only.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import importlib, sys
module, argv = sys.argv[1], sys.argv[2:]
code = importlib.import_module(module).main(argv)
print("exit", code, "tensorflow" in sys.modules, "keras" in sys.modules)
"""
# The module whose main each command runs: `python -m` imports it (a package's __init__ first), the
# console scripts (reszoo-train, reszoo-tune, reszoo-predict) call its main.
COMMANDS = {
    "train": "reszoo.train",
    "tune": "reszoo.tune",
    "predict": "reszoo.predict",
    "export": "reszoo.export",
    "convert": "reszoo.convert.cli",
    "report": "reszoo.report",
    "bench": "reszoo.bench",
}
TUNED = "resnet, preact_resnet, fast_resnet, wrn, pyramidnet, densenet, resnext, shake_shake"
BAD_FLAGS = [
    ("train", ["--bogus"], "unrecognized arguments: --bogus"),
    ("train", ["--mixup", "x"], "argument --mixup: invalid float value: 'x'"),
    ("tune", ["--bogus"], "unrecognized arguments: --bogus"),
    (
        "tune",
        ["--tuner", "grid"],
        "argument --tuner: invalid choice: 'grid' (choose from 'random', 'bayesian', 'hyperband')",
    ),
    ("tune", ["--max-trials", "0"], "--max-trials must be >= 1. Received: --max-trials=0"),
    ("tune", ["--space", "depth"], "argument --space: expected NAME=V1[,V2...], e.g. depth=8,14. Received: 'depth'"),
    ("tune", ["--family", "foo"], f"--family 'foo' is not a reszoo family. Supported: {TUNED}. Received: --family=foo"),
    (
        "tune",
        ["--family", "attention"],
        f"--family 'attention' has no search space in reszoo.tune. Supported: {TUNED}. Received: --family=attention",
    ),
    ("predict", ["--model-dir", "m", "x.png", "--bogus"], "unrecognized arguments: --bogus"),
    (
        "predict",
        ["--model-dir", "m", "--top-k", "0", "x.png"],
        "argument --top-k: must be a positive integer, received '0'",
    ),
    ("export", ["some_export", "--bogus"], "unrecognized arguments: --bogus"),
    (
        "export",
        ["some_export", "--format", "pdf"],
        "argument --format: invalid choice: 'pdf' (choose from 'saved_model', 'onnx', 'litert')",
    ),
    ("convert", ["--bogus"], "unrecognized arguments: --bogus"),
    ("convert", ["tensorflow"], "argument source: invalid choice: 'tensorflow' (choose from 'pytorchcv')"),
    ("report", ["some_run", "--bogus"], "unrecognized arguments: --bogus"),
    ("bench", ["units", "--bogus"], "unrecognized arguments: --bogus"),
    (
        "bench",
        ["fit", "--kinds", "resnet,fast"],
        "argument --kinds: expected distinct comma-separated kinds from resnet, fast_type1, fast_type2. Received: "
        "'resnet,fast'",
    ),
    (
        "bench",
        ["units", "--depths", "21"],
        "argument --depths: expected comma-separated depths of the form 6n+2 (8, 20, 56, 110, ...). Received: '21'",
    ),
    (
        "bench",
        ["variants", "--model", "resnet20", "--variant", "fast"],
        "argument --variant: invalid choice: 'fast' (choose from 'keras_bn', 'fused_bn', 'fused_bn_float32', "
        "'strided_slice_shortcut', 'xla', 'fused_bn+xla', 'no_bn')",
    ),
    (
        "bench",
        ["envs", "--model", "resnet20", "--env", "X"],
        "argument --env: expected KEY=VALUE[,KEY=VALUE...] or '-'. Received: 'X'",
    ),
]


def probe(command: str, argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    module = COMMANDS[command]
    return subprocess.run([sys.executable, "-c", _PROBE, module, *argv], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_answers_without_importing_tensorflow(command):
    done = probe(command, ["--help"])
    output = done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "exit 0 False False", output
    assert done.stdout.startswith(f"usage: python -m reszoo.{command} "), output
    assert done.stderr == "", output


@pytest.mark.parametrize(("command", "argv", "message"), BAD_FLAGS, ids=[f"{c}-{' '.join(a)}" for c, a, _ in BAD_FLAGS])
def test_a_bad_flag_answers_with_one_line_without_importing_tensorflow(command, argv, message):
    done = probe(command, argv)
    output = done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "exit 2 False False", output
    assert done.stderr == f"error: {message}\n", output


# The plain-data name lists the command lines read instead of the registry (which imports the models) ------------


def test_the_plain_list_of_family_names_is_the_registrys():
    from reszoo import registry
    from reszoo.registry_names import FAMILIES

    assert tuple(registry.families()) == FAMILIES, "reszoo/registry_names.py: list every family, in registry order"


def test_the_plain_list_of_tuned_families_is_the_search_spaces():
    from reszoo.registry_names import FAMILIES
    from reszoo.tune import options, spaces

    assert tuple(spaces.SPACES) == options.FAMILIES, "reszoo/tune/options.py FAMILIES: the keys of spaces.SPACES"
    assert set(options.FAMILIES) <= set(FAMILIES)
