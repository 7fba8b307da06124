"""Training callbacks that Keras does not provide.

Keras has the learning-rate scheduler, the CSV logger and the progress bar we
need; what it lacks is a per-epoch *training* time that leaves out the
evaluation ``fit`` runs after each epoch. The papers' seconds-per-epoch figures
(the seed's Table 4) time training only, so ``EpochTimer`` measures exactly that.
"""

from __future__ import annotations

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's training seconds in ``logs["epoch_seconds"]`` and ``self.epoch_seconds``.

    The clock starts at ``on_epoch_begin`` and stops when the epoch's training
    is over: at ``on_test_begin`` (``fit`` evaluating ``validation_data``) or at
    ``on_epoch_end`` when there is no evaluation. Evaluation time is therefore
    excluded. Put this callback before ``CSVLogger`` in the callback list so the
    value reaches the CSV file; ``History`` always runs last and records it too.

    It deliberately defines no batch hooks, so Keras may still dispatch other
    callbacks' batch hooks asynchronously.
    """

    KEY = "epoch_seconds"

    def __init__(self, clock=time.perf_counter):
        super().__init__()
        self._clock = clock
        self._started: float | None = None
        self._stopped: float | None = None
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []

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
        self._started = self._stopped = None
        if logs is not None:
            logs[self.KEY] = seconds
