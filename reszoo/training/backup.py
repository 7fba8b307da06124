"""The backup folder of a run: Keras' BackupAndRestore checkpoint plus history, timings and warm-up state.

A killed run resumes from it at the epoch after the last one backed up; a backup of another
model or data is refused rather than silently mixed in.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from typing import Any

from reszoo.callbacks import read_json, write_json_atomic
from reszoo.cli import UsageError
from reszoo.export import HISTORY_FILE

# Backup folder contents beside BackupAndRestore's own sub-folder.
CHECKPOINT_DIR, EPOCH_SECONDS_FILE, WARMUP_FILE, RUN_FILE = (
    "checkpoint",
    "epoch_seconds.json",
    "warmup.json",
    "run.json",
)
BEST_WEIGHTS_FILE, LOGS_DIR = "best.weights.h5", "logs"
# Arguments that must match for a backup to be resumed: the weights' shapes and the data depend on them.
RESUME_KEYS = ("model", "build_kwargs", "dataset", "image_size", "val_split", "precision", "seed")


class Backup:
    """The backup folder: BackupAndRestore's checkpoint plus history, timings and warm-up state."""

    def __init__(self, path: str):
        self.path = path
        self.checkpoint = os.path.join(path, CHECKPOINT_DIR)
        self.history = os.path.join(path, HISTORY_FILE)
        self.epoch_seconds = os.path.join(path, EPOCH_SECONDS_FILE)
        self.warmup = os.path.join(path, WARMUP_FILE)
        self.best_weights = os.path.join(path, BEST_WEIGHTS_FILE)
        self.logs = os.path.join(path, LOGS_DIR)
        self.run = os.path.join(path, RUN_FILE)

    def resumed_epoch(self) -> int:
        """The epoch training resumes at: the one after the last backed-up epoch (0 for a fresh run).

        Reads the metadata ``keras.callbacks.BackupAndRestore`` writes beside its weights.
        """
        metadata = read_json(os.path.join(self.checkpoint, "training_metadata.json"), {"epoch": 0})
        return int(metadata["epoch"]) if os.path.exists(os.path.join(self.checkpoint, "latest.weights.h5")) else 0

    def open(self, config: dict[str, Any]) -> int:
        """Create or reopen the folder for a run of ``config``; returns the epoch it resumes at.

        Refuses (``UsageError``) a backup of another model or data.
        """
        previous = read_json(self.run, None)
        if previous is not None:
            changed = [
                k
                for k in RESUME_KEYS
                if json.dumps(previous.get(k), default=str) != json.dumps(config.get(k), default=str)
            ]
            if changed:
                raise UsageError(
                    f"backup dir {self.path} holds a run with other {', '.join(changed)} "
                    f"({', '.join(f'{k}={previous.get(k)!r}' for k in changed)}); remove it or pass another --backup-dir."
                )
        os.makedirs(self.path, exist_ok=True)
        write_json_atomic(self.run, config)
        self._drop_partial_history_line()
        return self.resumed_epoch()

    def _drop_partial_history_line(self) -> None:
        """A kill in the middle of a CSV row leaves it without its newline; the next run's rows would
        be appended to it. That epoch was not backed up yet, so it runs again anyway."""
        if not os.path.exists(self.history):
            return
        with open(self.history, "rb+") as f:
            text = f.read()
            if text and not text.endswith(b"\n"):
                f.truncate(text.rfind(b"\n") + 1)

    def merged_history(self) -> tuple[list[str], list[dict[str, str]]]:
        """(columns, one row per epoch in order): a re-run epoch's later row replaces the earlier one."""
        if not os.path.exists(self.history):
            return [], []
        with open(self.history, newline="") as f:
            reader = csv.DictReader(f)
            rows = {}
            for row in reader:
                with contextlib.suppress(TypeError, ValueError):
                    rows[int(row["epoch"])] = row
            return list(reader.fieldnames or []), [rows[e] for e in sorted(rows)]
