"""The keras-tuner side of ``reszoo.tune``: the shared trial context, the HyperModel and the tuners.

``FamilyHyperModel`` declares a family's search space as a ``keras_tuner.HyperModel`` and builds every
trial through ``reszoo.build`` and the training library's own data loading, normalization layer,
compile step, learning-rate schedule and callbacks, so a trial trains exactly as ``python -m
reszoo.train`` would with the printed command line. ``_ReszooTuning`` adds the parameter budget,
seeds and failure accounting to keras-tuner's random, Bayesian and Hyperband tuners.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

import keras
import keras_tuner as kt

import reszoo
from reszoo import augment, data
from reszoo.callbacks import DivergenceError, read_json, write_json_atomic
from reszoo.cli import UsageError
from reszoo.training import loop
from reszoo.training.backup import Backup
from reszoo.training.config import TrainConfig, training_schedule
from reszoo.tune.options import PARAMS_FILE, TRIAL_BACKUP, SearchOptions
from reszoo.tune.results import failure_reason, read_trial_record, results_rows, trial_status, write_trial_record
from reszoo.tune.spaces import SearchSpace

# Side of the square input a network is built on to count its parameters (stride 2 twice leaves 2x2).
COUNT_INPUT_SIZE = 8
# Real failures in a row that end the search (keras-tuner's own default limit, which would also count
# rejected and diverged trials and is therefore replaced by ours).
MAX_CONSECUTIVE_FAILURES = 3
# Candidates over --max-params in a row after which the search stops: the space is mostly too big.
MAX_CONSECUTIVE_REJECTIONS = 50


class SearchError(RuntimeError):
    """Trials keep failing for reasons other than the parameter budget or divergence."""


class SearchStopped(Exception):
    """Too many candidates in a row exceeded --max-params: the search ends with what it has."""


# The training configuration of a trial ------------------------------------------------------


def trial_config(
    options: SearchOptions,
    space: SearchSpace,
    values: dict[str, Any],
    *,
    info: data.DatasetInfo | None = None,
    export_dir: str | None = None,
) -> TrainConfig:
    """The ``TrainConfig`` of a configuration, resolved as ``python -m reszoo.train`` resolves its flags.

    Trials train it and the retraining runs it; ``config.command_line()`` is for people to read.
    """
    overrides = {name: value for name, value in space.builder_kwargs(values).items() if value is not None}
    return TrainConfig.create(
        model=options.family,
        dataset=options.dataset,
        overrides=overrides,
        info=info,
        epochs=options.epochs,
        recipe=options.recipe,
        val_split=options.val_split,
        seed=options.seed,
        data_dir=options.data_dir,
        image_size=options.image_size,
        export_dir=export_dir,
        **space.training_values(values),
    )


def load_bundle(options: SearchOptions, *, batch_size: int, augment: str, val_split: int):
    """``reszoo.training.loop.load_data`` with the search's data arguments (the hold-out depends only on the seed)."""
    data_args = argparse.Namespace(
        dataset=options.dataset,
        data_dir=options.data_dir,
        batch_size=batch_size,
        image_size=options.image_size,
        augment=augment,
        val_split=val_split,
        seed=options.seed,
    )
    return loop.load_data(data_args)


# What every trial shares -------------------------------------------------------------------


class Context:
    """What every trial shares: the options, the data (one bundle per batch size), the strategy and a
    parameter counter."""

    def __init__(self, options: SearchOptions):
        self.options = options
        self.space: SearchSpace = options.search_space
        self.strategy = loop.make_strategy("auto")  # MirroredStrategy only with several GPUs
        self._bundles: dict[tuple[int, str], Any] = {}
        self.probe = self.bundle(self.space.smallest()["batch_size"], "standard")
        self.counter = ParamCounter(
            os.path.join(options.project_dir, PARAMS_FILE), self.probe.num_classes, self.probe.image_shape[-1]
        )

    def bundle(self, batch_size: int, augment: str):
        """The data batched by ``batch_size``, loaded once per batch size."""
        key = (batch_size, augment)
        if key not in self._bundles:
            self._bundles[key] = load_bundle(
                self.options, batch_size=batch_size, augment=augment, val_split=self.options.val_split
            )
        return self._bundles[key]

    def trial_bundle(self, config: TrainConfig):
        return self.bundle(config.batch_size, augment.BASE_AUGMENTATION[config.augment])

    def train_config(self, values: dict[str, Any], export_dir: str | None = None) -> TrainConfig:
        """The frozen training config of a configuration, on the loaded data's sizes."""
        return trial_config(self.options, self.space, values, info=self.probe.info(), export_dir=export_dir)


class ParamCounter:
    """Trainable parameters of a configuration, from a network built on a tiny input; cached in a JSON file."""

    def __init__(self, path: str, num_classes: int, channels: int):
        self.path = path
        self.num_classes = num_classes
        self.channels = channels
        self.cache: dict[str, int] = read_json(path, {})

    def count(self, family: str, builder_kwargs: dict[str, Any]) -> int:
        key = json.dumps([family, self.num_classes, self.channels, builder_kwargs], sort_keys=True, default=str)
        if key not in self.cache:
            net = reszoo.build(
                family,
                **builder_kwargs,
                num_classes=self.num_classes,
                input_shape=(COUNT_INPUT_SIZE, COUNT_INPUT_SIZE, self.channels),
            )
            self.cache[key] = reszoo.trainable_params(net)
            del net
            if os.path.isdir(os.path.dirname(self.path)):
                write_json_atomic(self.path, self.cache)
        return self.cache[key]


# The HyperModel ------------------------------------------------------------------------------


class FamilyHyperModel(kt.HyperModel):
    """A family's search space as a keras-tuner HyperModel; trials train as ``reszoo.train`` does."""

    def __init__(self, context: Context):
        super().__init__(name=f"reszoo_{context.space.family}")
        self.context = context
        self.space = context.space
        self._schedules: dict[int, Any] = {}  # the optimizer's schedule of each built model, for its callbacks

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def build(self, hp):
        """raw images -> normalization -> the family's network, compiled with the trial's lr."""
        config = self.context.train_config(self.space.declare(hp))
        bundle = self.context.trial_bundle(config)
        model, _ = loop.build_training_model(config, bundle)
        schedule = training_schedule(config, loop.steps_per_epoch(config, bundle, self.context.strategy))
        loop.compile_model(model, config, schedule)
        self._schedules[id(model)] = schedule
        return model

    def fit(self, hp, model, *fit_args, trial_dir: str, callbacks=(), epochs: int, initial_epoch: int = 0, **kwargs):
        """``model.fit`` with reszoo.train's callbacks, backed up in the trial folder; the best epoch's metrics."""
        config = self.context.train_config(self.space.declare(hp))
        bundle = self.context.trial_bundle(config)
        backup = open_trial_backup(trial_dir, config)
        ours, named = loop.make_callbacks(config, backup, self._schedules.pop(id(model)))
        record = {"params": reszoo.trainable_params(model), "epochs": epochs}
        try:
            model.fit(
                loop.training_set(config, bundle, self.context.strategy),
                validation_data=bundle.val,
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=[*ours, *callbacks],
                shuffle=False,  # the tf.data pipeline shuffles; Keras would ignore it with a warning
                verbose=1 if sys.stdout.isatty() else 2,
            )
        except DivergenceError as error:
            write_trial_record(trial_dir, status="diverged", reason=str(error), **record)
            raise kt.errors.FailedTrialError(f"diverged: {error}") from None
        _, rows = backup.merged_history()
        seconds = [named["timer"].seconds_by_epoch[e] for e in sorted(named["timer"].seconds_by_epoch)]
        write_trial_record(trial_dir, status="completed", epoch_seconds=seconds, **record)
        shutil.rmtree(backup.checkpoint, ignore_errors=True)  # the weights are kept by keras-tuner
        best = max(rows, key=lambda r: float(r["val_accuracy"]))
        return {"val_accuracy": float(best["val_accuracy"]), "val_loss": float(best["val_loss"])}


def open_trial_backup(trial_dir: str, config: TrainConfig) -> Backup:
    """reszoo.train's backup folder in the trial folder: an interrupted trial resumes at its last epoch.

    A backup of another configuration (the trial id was given out again by a search that restarted
    from scratch) is stale and removed.
    """
    backup = Backup(os.path.join(trial_dir, TRIAL_BACKUP))
    try:
        backup.open(loop.run_record(config))
    except UsageError:
        shutil.rmtree(backup.path)
        backup.open(loop.run_record(config))
    return backup


# The tuners ----------------------------------------------------------------------------------


class _ReszooTuning:
    """Mixed into keras-tuner's tuners: the parameter budget, seeds, and failure accounting.

    ``run_trial`` rejects a configuration over ``--max-params`` before building it for training
    (``FailedTrialError``) and gives each trial the same seed. ``on_trial_end`` raises
    ``SearchError`` after ``MAX_CONSECUTIVE_FAILURES`` real failures in a row, and ends the search
    after ``MAX_CONSECUTIVE_REJECTIONS`` rejections in a row; every rejection lets one more trial
    run, so ``--max-trials`` counts the trials that train.
    """

    context: Context
    ran: list[str]

    def setup(self, context: Context) -> None:
        self.context = context
        self.ran = []
        self.consecutive_failures = 0
        self.consecutive_rejections = 0

    def on_search_begin(self):
        super().on_search_begin()
        # keras-tuner writes its tuner file only after a trial ends; without it a search killed during
        # its first trial would start again from scratch instead of resuming that trial.
        self.save()

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        self.ran.append(trial.trial_id)
        context, options = self.context, self.context.options
        values = context.space.decode(trial.hyperparameters.values)
        trial_dir = self.get_trial_dir(trial.trial_id)
        if options.max_params is not None:
            params = context.counter.count(options.family, context.space.builder_kwargs(values))
            if params > options.max_params:
                reason = f"rejected: {params:,} trainable parameters > --max-params {options.max_params:,}"
                write_trial_record(trial_dir, status="rejected", params=params, reason=reason)
                raise kt.errors.FailedTrialError(reason)
        keras.utils.set_random_seed(options.seed)
        return super().run_trial(trial, *fit_args, trial_dir=trial_dir, **fit_kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        status = trial_status(trial, read_trial_record(self.get_trial_dir(trial.trial_id)))
        if status == "rejected":
            self._count_rejection()
            return
        self.consecutive_rejections = 0
        self.consecutive_failures = self.consecutive_failures + 1 if status == "failed" else 0
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise SearchError(
                f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; the last (trial {trial.trial_id}): "
                f"{failure_reason(trial.message)}"
            )

    def _count_rejection(self) -> None:
        """A rejected trial lets one more run; too many in a row stop the search."""
        self.oracle.max_trials += 1
        self.consecutive_rejections += 1
        if self.consecutive_rejections >= MAX_CONSECUTIVE_REJECTIONS:
            raise SearchStopped(
                f"{MAX_CONSECUTIVE_REJECTIONS} candidates in a row exceeded --max-params "
                f"{self.context.options.max_params:,}; narrow the space with --space"
            )


class RandomTuner(_ReszooTuning, kt.RandomSearch):
    """keras-tuner's random search with reszoo's trials (``_ReszooTuning``)."""


class BayesianTuner(_ReszooTuning, kt.BayesianOptimization):
    """keras-tuner's Bayesian optimization (Gaussian process) with reszoo's trials (``_ReszooTuning``)."""


class HyperbandTuner(_ReszooTuning, kt.Hyperband):
    """keras-tuner's Hyperband with reszoo's trials (``_ReszooTuning``)."""


TUNER_CLASSES = {"random": RandomTuner, "bayesian": BayesianTuner, "hyperband": HyperbandTuner}


def make_tuner(options: SearchOptions, context: Context) -> _ReszooTuning:
    """The keras-tuner tuner on the project folder (``overwrite=False``: an existing search continues)."""
    budget = {"max_epochs": options.epochs} if options.tuner == "hyperband" else {"max_trials": options.max_trials}
    tuner = TUNER_CLASSES[options.tuner](
        hypermodel=FamilyHyperModel(context),
        objective=kt.Objective("val_accuracy", direction="max"),
        seed=options.seed,
        # Rejected and diverged trials are FAILED for keras-tuner too; _ReszooTuning counts the real failures.
        max_consecutive_failed_trials=sys.maxsize,
        directory=os.path.dirname(options.project_dir),
        project_name=os.path.basename(options.project_dir),
        overwrite=False,
        distribution_strategy=context.strategy if context.strategy.num_replicas_in_sync > 1 else None,
        **budget,
    )
    tuner.setup(context)
    rejected = sum(row["status"] == "rejected" for row in results_rows(tuner, context.space))
    # Hyperband has no trial budget of its own; --max-trials caps it too. Rejections do not count.
    tuner.oracle.max_trials = options.max_trials + rejected
    return tuner
