"""Training callbacks that Keras does not provide, and the state they keep across restarts.

Keras has the learning-rate scheduler, the CSV logger, the progress bar and
``BackupAndRestore``; what it lacks, and what is here:

- ``EpochTimer``: each epoch's *training* seconds, leaving out the evaluation
  ``fit`` runs after each epoch. The papers' seconds-per-epoch figures (the
  seed's Table 4) time training only. It can keep its timings in a file, so
  a run resumed after a crash still reports every epoch's seconds.
- ``StopOnDivergence``: ends training with a ``DivergenceError`` naming the
  epoch, the batch and the last finite loss. Keras' ``TerminateOnNaN`` prints
  nothing useful and only sets ``stop_training``; ``fit`` then still runs
  ``on_epoch_end`` (``BackupAndRestore`` would back up the NaN weights over
  the last good ones) and ``on_train_end`` (which deletes the backup).
  Raising instead skips both, so the last good backup stays.
- ``SafeBackupAndRestore``: ``keras.callbacks.BackupAndRestore`` that refuses
  to back up non-finite weights (a loss can stay finite for a step after the
  weights overflow) and writes its backup atomically, Ctrl-C and SIGTERM held
  until it is complete (Keras writes its two files in place).
- ``IterationWarmup``: He et al.'s warm-up, counted in iterations: a constant
  low rate until the training accuracy reaches a threshold or a number of
  iterations has passed, then the epoch schedule's rate.

State files are JSON written atomically (``write_json_atomic``), so a run
killed at any moment leaves either the old or the new file.
"""

from __future__ import annotations

import json
import math
import os
import time

import keras
import numpy as np

from reszoo import cli


def write_json_atomic(path: str, data) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and an atomic rename.

    Ctrl-C and SIGTERM wait until the file is in place (``cli.interrupts_deferred``), so no
    temporary file is left behind either.
    """
    temporary = f"{path}.tmp-{os.getpid()}"
    with cli.interrupts_deferred():
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, default=str)  # default: odd --set values (sets, bytes)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)


def read_json(path: str | None, default):
    """The JSON in ``path``, or ``default`` when there is no such file."""
    if path is None or not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's training seconds in ``logs["epoch_seconds"]`` and ``self.epoch_seconds``.

    The clock starts at ``on_epoch_begin`` and stops when the epoch's training
    is over: at ``on_test_begin`` (``fit`` evaluating ``validation_data``) or at
    ``on_epoch_end`` when there is no evaluation. Evaluation time is therefore
    excluded. Put this callback before ``CSVLogger`` in the callback list so the
    value reaches the CSV file; ``History`` always runs last and records it too.

    With ``state_path``, ``seconds_by_epoch`` ({epoch: seconds}, every epoch of
    every ``fit`` that used the file) is saved there after each epoch and read
    back at ``on_train_begin``: a resumed run knows the seconds of the epochs
    trained before the interruption. A re-run epoch replaces its old entry.

    It deliberately defines no batch hooks, so Keras may still dispatch other
    callbacks' batch hooks asynchronously.
    """

    KEY = "epoch_seconds"

    def __init__(self, clock=time.perf_counter, state_path: str | None = None):
        super().__init__()
        self._clock = clock
        self._state_path = state_path
        self._started: float | None = None
        self._stopped: float | None = None
        self.epoch_seconds: list[float] = []
        self.seconds_by_epoch: dict[int, float] = {}

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []
        self.seconds_by_epoch = {int(k): float(v) for k, v in read_json(self._state_path, {}).items()}

    def on_epoch_begin(self, epoch, logs=None):
        self._started, self._stopped = self._clock(), None

    def on_test_begin(self, logs=None):
        # Only the first evaluation after an epoch's training stops the clock;
        # evaluate() calls outside fit (no epoch running) are ignored.
        if self._started is not None and self._stopped is None:
            self._stopped = self._clock()

    def on_epoch_end(self, epoch, logs=None):
        if self._started is None:
            return
        stopped = self._stopped if self._stopped is not None else self._clock()
        seconds = stopped - self._started
        self.epoch_seconds.append(seconds)
        self.seconds_by_epoch[int(epoch)] = seconds
        self._started = self._stopped = None
        if logs is not None:
            logs[self.KEY] = seconds
        if self._state_path:
            write_json_atomic(self._state_path, {str(k): v for k, v in sorted(self.seconds_by_epoch.items())})


class DivergenceError(RuntimeError):
    """Training diverged: the loss (or the weights) stopped being finite."""

    def __init__(self, message: str, *, epoch: int, last_finite_loss: float | None):
        super().__init__(message)
        self.epoch = epoch
        self.last_finite_loss = last_finite_loss


class StopOnDivergence(keras.callbacks.Callback):
    """Raises ``DivergenceError`` as soon as a batch's loss is NaN or infinite.

    The message names the epoch and batch (counted from 0) and the last finite
    loss seen. Raising from ``on_train_batch_end`` ends ``fit`` before any
    ``on_epoch_end`` or ``on_train_end`` runs: put it before
    ``BackupAndRestore`` and the backup of the last completed epoch stays.
    """

    def __init__(self):
        super().__init__()
        self.last_finite: tuple[float, int, int] | None = None  # (loss, epoch, batch)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isfinite(loss):
            self.last_finite = (loss, self._epoch, batch)
            return
        raise DivergenceError(self._message(loss, batch), epoch=self._epoch, last_finite_loss=self._last_loss())

    def _last_loss(self) -> float | None:
        return None if self.last_finite is None else self.last_finite[0]

    def _message(self, loss: float, batch: int) -> str:
        if self.last_finite is None:
            last = "no finite loss was seen before"
        else:
            value, epoch, at = self.last_finite
            last = f"the last finite loss was {value:.6g} (epoch {epoch}, batch {at})"
        return f"training diverged: the loss became {loss} in epoch {self._epoch} (batch {batch}); {last}."


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` that never overwrites a backup with non-finite weights.

    Keras saves in ``_save_model`` (at the end of every epoch, or every
    ``save_freq`` batches); this override checks the weights first and raises
    ``DivergenceError`` instead of saving, so the previous backup survives.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _save_model(self):
        bad = [w.path for w in self.model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(w)))]
        if bad:
            raise DivergenceError(
                f"training diverged: {len(bad)} weight(s) became non-finite in epoch {self._epoch} "
                f"(first: {bad[0]}); the backup in {self.backup_dir} was not overwritten.",
                epoch=self._epoch,
                last_finite_loss=None,
            )
        self._save_atomically()

    def _save_atomically(self) -> None:
        # Keras' _save_model writes the weights and then the metadata in place: a Ctrl-C, SIGTERM or
        # crash between or inside the writes leaves a half file or new weights beside the old epoch.
        # Here each file is written beside its place and moved in (os.replace), metadata last, with
        # the signals held until both are in: the backup is the previous epoch's or this one's.
        with cli.interrupts_deferred():
            os.makedirs(self.backup_dir, exist_ok=True)
            temporary = f"{self._weights_path}.partial-{os.getpid()}.weights.h5"
            try:
                self.model.save_weights(temporary, overwrite=True)
                os.replace(temporary, self._weights_path)
            finally:
                if os.path.exists(temporary):
                    os.remove(temporary)
            write_json_atomic(
                self._training_metadata_path, {"epoch": self._current_epoch, "batch": self._last_batch_seen}
            )


class IterationWarmup(keras.callbacks.Callback):
    """He et al.'s warm-up end rule: the constant warm-up ends early once the training accuracy reaches a value.

    He et al. train ResNet-110 at 0.01 "until the training error is below 80% (about 400
    iterations)" and then go back to 0.1; the pre-activation paper warms up all its CIFAR runs at
    0.01 for 400 iterations. The rates themselves are the optimizer's ``TrainingSchedule`` (warm-up
    steps ``[0, warmup_iterations)``); this callback watches the epoch's running training accuracy
    (``logs["accuracy"]``) during the warm-up and, with ``until_accuracy``, ends it at the step where
    it is reached (``schedule.end_warmup``).

    ``ended`` records where the warm-up ended ({epoch, iteration, accuracy}; ``iteration`` is the
    number of warm-up steps run); with ``state_path`` the progress is saved after each epoch and read
    back at ``on_train_begin``, so a resumed run continues (or skips) the warm-up.
    """

    def __init__(self, schedule, *, until_accuracy: float | None = None, state_path: str | None = None):
        super().__init__()
        self.schedule = schedule
        self.max_iterations = int(schedule.warmup_iterations)
        self.until_accuracy = until_accuracy
        self._state_path = state_path
        self.iterations = 0
        self.ended: dict | None = None
        self._epoch = 0

    @property
    def done(self) -> bool:
        return self.ended is not None

    def on_train_begin(self, logs=None):
        state = read_json(self._state_path, {"iterations": 0, "ended": None})
        self.iterations, self.ended = int(state["iterations"]), state["ended"]
        if self.ended is not None:
            self.schedule.end_warmup(int(self.ended["iteration"]))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.done:
            return
        self.iterations += 1
        accuracy = (logs or {}).get("accuracy")
        accuracy = None if accuracy is None else float(accuracy)
        reached = self.until_accuracy is not None and accuracy is not None and accuracy >= self.until_accuracy
        if reached or self.iterations >= self.max_iterations:
            self.ended = {"epoch": self._epoch, "iteration": self.iterations, "accuracy": accuracy}
            self.schedule.end_warmup(self.iterations)

    def on_epoch_end(self, epoch, logs=None):
        if self._state_path:
            write_json_atomic(self._state_path, {"iterations": self.iterations, "ended": self.ended})


class LearningRateLog(keras.callbacks.Callback):
    """The rates that ran, into the epoch's logs (and so ``history.csv``).

    ``lr_first``: the rate of the epoch's first batch; ``learning_rate``: of its last batch
    (the rate in effect when the epoch ended). Both are read from the optimizer's schedule at
    the optimizer's own iteration count, warm-up end included, never recomputed from the flags.
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self._first: float | None = None

    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._first = self.schedule.rate(self._step())

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["lr_first"] = self._first
        logs["learning_rate"] = self.schedule.rate(max(self._step() - 1, 0))
