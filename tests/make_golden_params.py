"""Regenerate tests/golden_params.json: the trainable parameter count of every registered preset.

Run it after adding or changing a preset (building the 20M-70M presets takes several minutes on 2 cores):

    nice -n 10 .venv/bin/python -m tests.make_golden_params            # every preset
    nice -n 10 .venv/bin/python -m tests.make_golden_params wrn16_8    # only these; the others are kept

Presets no longer registered are dropped. tests/test_presets.py asserts every preset against the file, as
pycls asserts its complexity JSON: a changed count is a changed architecture, so review the diff.
"""

from __future__ import annotations

import json
import pathlib
import sys

import keras

import reszoo

GOLDEN_PATH = pathlib.Path(__file__).with_name("golden_params.json")


def count(name: str) -> int:
    """Trainable parameters of preset ``name`` with its defaults (CIFAR-10 head, 32x32x3 inputs)."""
    try:
        return reszoo.trainable_params(reszoo.build(name))
    finally:
        keras.backend.clear_session()


def regenerate(names: list[str]) -> dict[str, int]:
    """The golden table with ``names`` recounted (all presets when empty), in registration order."""
    registered = list(reszoo.presets())
    unknown = sorted(set(names) - set(registered))
    if unknown:
        raise ValueError(f"Unknown preset(s) {', '.join(unknown)}. Registered: {', '.join(registered)}.")
    old = json.loads(GOLDEN_PATH.read_text()) if GOLDEN_PATH.exists() else {}
    todo = set(names or registered) | (set(registered) - set(old))
    golden = {}
    for name in registered:
        golden[name] = count(name) if name in todo else old[name]
        print(f"{name}: {golden[name]:,}", flush=True)
    return golden


def main(argv: list[str]) -> int:
    golden = regenerate(argv)
    GOLDEN_PATH.write_text(json.dumps(golden, indent=2) + "\n")
    print(f"wrote {len(golden)} presets to {GOLDEN_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
