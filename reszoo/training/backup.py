"""The backup folder of a run: Keras' BackupAndRestore checkpoint plus history, timings and warm-up state.

A killed run resumes from it at the epoch after the last one backed up; a backup of another
model or data is refused rather than silently mixed in.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
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
BEST_WEIGHTS_FILE, LOGS_DIR, LOCK_FILE = "best.weights.h5", "logs", "run.lock"
# Arguments that must match for a backup to be resumed: the weights' shapes and the data depend on them.
RESUME_KEYS = ("model", "build_kwargs", "dataset", "image_size", "val_split", "precision", "seed")
# Settings that may differ on a resume without --resume-with-changes: where things go and what is printed.
FREE_KEYS = (
    "export_dir",
    "backup_dir",
    "serving_dir",
    "verbose",
    "tensorboard",
    "warmup_origin",
    "resume_with_changes",
    "strategy",
)
WHAT_TO_DO = "remove the backup dir or pass another --backup-dir"


class BackupError(UsageError):
    """A backup that cannot be resumed: damaged, inconsistent, of another run, or in use."""


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
        self.changes: dict[str, list[Any]] = {}  # what --resume-with-changes changed: {key: [before, now]}

    def resumed_epoch(self) -> int:
        """The epoch training resumes at: the one after the last backed-up epoch (0 for a fresh run).

        Reads the metadata ``keras.callbacks.BackupAndRestore`` writes beside its weights.
        """
        metadata = read_json(os.path.join(self.checkpoint, "training_metadata.json"), {"epoch": 0})
        return int(metadata["epoch"]) if os.path.exists(os.path.join(self.checkpoint, "latest.weights.h5")) else 0

    def open(self, config: dict[str, Any], *, allow_changes: bool = False) -> int:
        """Create or reopen the folder for a run of ``config``; returns the epoch it resumes at.

        Refuses (``BackupError``, one line naming the file and what to do) a backup of another
        model or data, one with other hyperparameters (unless ``allow_changes``: see ``changes``),
        and one whose files are damaged or disagree with each other.
        """
        previous = self._read_json(self.run, None)
        self.changes = {}
        if previous is not None:
            self._check_same_run(previous, config, allow_changes)
        self.check_consistent(config)
        os.makedirs(self.path, exist_ok=True)
        write_json_atomic(self.run, {**config, "resumed_with_changes": self.changes} if self.changes else config)
        self._drop_partial_history_line()
        return self.resumed_epoch()

    def _check_same_run(self, previous: dict[str, Any], config: dict[str, Any], allow_changes: bool) -> None:
        def differs(key: str) -> bool:
            return json.dumps(previous.get(key), default=str) != json.dumps(config.get(key), default=str)

        changed = [k for k in RESUME_KEYS if differs(k)]
        if changed:
            raise BackupError(
                f"backup dir {self.path} holds a run with other {', '.join(changed)} "
                f"({', '.join(f'{k}={previous.get(k)!r}' for k in changed)}); {WHAT_TO_DO}."
            )
        known = set(config) | (set(previous) - {"resumed_with_changes"})
        other = sorted(k for k in known - set(RESUME_KEYS) - set(FREE_KEYS) if differs(k))
        if other and not allow_changes:
            listed = ", ".join(f"{k} {previous.get(k)!r} -> {config.get(k)!r}" for k in other)
            raise BackupError(
                f"backup dir {self.path} holds a run with other settings ({listed}); rerun with the backup's "
                f"settings, pass --resume-with-changes to resume with these, or {WHAT_TO_DO}."
            )
        self.changes = {k: [previous.get(k), config.get(k)] for k in other}

    def check_consistent(self, config: dict[str, Any]) -> None:
        """The backup's parts agree: readable files, and one history row and timing per backed-up epoch."""
        checkpoint = os.path.join(self.checkpoint, "latest.weights.h5")
        metadata = os.path.join(self.checkpoint, "training_metadata.json")
        self._read_json(metadata, None)
        for path in (self.epoch_seconds, self.warmup):
            self._read_json(path, None)
        if os.path.exists(checkpoint):
            self._check_weights_file(checkpoint)
        if config.get("keep_best") and os.path.exists(self.best_weights):
            self._check_weights_file(self.best_weights)
        done = self.resumed_epoch()
        if not done:
            return
        _, rows = self.merged_history()
        epochs = sorted(int(r["epoch"]) for r in rows if int(r["epoch"]) < done)
        if epochs != list(range(done)):
            self._refuse(self.history, f"has epochs {epochs or 'none'} where the checkpoint has 0-{done - 1}")
        seconds = self._read_json(self.epoch_seconds, {})
        if sorted(int(e) for e in seconds if int(e) < done) != list(range(done)):
            self._refuse(self.epoch_seconds, f"lacks timings of epochs the checkpoint holds (0-{done - 1})")
        if config.get("warmup_iterations") and not os.path.exists(self.warmup):
            self._refuse(self.warmup, "is missing: the warm-up's progress is lost")

    def _read_json(self, path: str, default):
        try:
            return read_json(path, default)
        except (OSError, ValueError) as error:
            self._refuse(path, f"cannot be read ({' '.join(str(error).split())})")

    def _check_weights_file(self, path: str) -> None:
        import h5py  # Keras' own dependency; only a resumed run needs it

        try:
            with h5py.File(path, "r"):
                pass  # opening is the check: a truncated or foreign file raises OSError here
        except OSError as error:
            self._refuse(path, f"is damaged ({' '.join(str(error).split())})")

    def _refuse(self, path: str, what: str):
        raise BackupError(f"the backup file {path} {what}; {WHAT_TO_DO}.")

    # ---- one run at a time

    def lock(self) -> None:
        """Take the backup dir's lock (``<backup dir>/run.lock``) for this process, or refuse at once.

        An advisory ``flock``: the kernel drops it when the process ends, however it ends, so the
        lock of a killed run is stale by construction and the next run simply takes it. The backup
        dir is created for it (and removed again by ``release`` if nothing else was written).
        """
        self._created = not os.path.isdir(self.path)
        os.makedirs(self.path, exist_ok=True)
        self._lock_path = os.path.join(self.path, LOCK_FILE)
        handle = open(self._lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise BackupError(
                f"backup dir {self.path} is in use by another run ({holder}); wait for it to finish, or pass "
                "another --export-dir or --backup-dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock = handle

    def release(self) -> None:
        """Drop the lock and its file, and the backup dir if the lock was all it held (a run refused
        before it opened the backup leaves nothing)."""
        handle = getattr(self, "_lock", None)
        if handle is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self._lock_path)
        handle.close()
        self._lock = None
        if self._created:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)  # only if empty

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
