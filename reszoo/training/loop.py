"""The run of a ``TrainConfig``: data, model, compile, callbacks, ``model.fit``, metrics, export.

Data flows one way: config -> strategy -> paths -> dataset -> model (registry) inside the
strategy scope -> ``model.fit`` with callbacks -> export folder. Every step reads the frozen
config; nothing here changes it (the paths are filled in once, with ``config.replace``).

Examples:
    from reszoo.training import TrainConfig, loop
    summary = loop.run(TrainConfig.create(model="fast_resnet", dataset="synthetic:64", epochs=1,
                                          overrides={"depth": 8}))
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import reszoo
from reszoo import augment, cli, data, distribute, registry
from reszoo.callbacks import (
    DivergenceError,
    EpochTimer,
    IterationWarmup,
    LearningRateLog,
    SafeBackupAndRestore,
    StopOnDivergence,
)
from reszoo.export import (
    HISTORY_FILE,
    check_export_dir,
    export_for_serving,
    staged_export,
    write_formats,
    write_model_files,
)
from reszoo.schedules import TrainingSchedule
from reszoo.training.backup import LOGS_DIR, Backup, BackupError
from reszoo.training.config import (
    TrainConfig,
    builder_arguments,
    describe_warmup,
    described_sizes,
    resolve,
    training_schedule,
)

UsageError = cli.UsageError
# Settings that do not change what is trained (left out of the run fingerprint).
NOT_TRAINING_KEYS = (
    "export_dir",
    "serving_dir",
    "backup_dir",
    "verbose",
    "tensorboard",
    "build_kwargs",
    "warmup_origin",
    "resume_with_changes",
    "export_formats",
)
log = cli.logger("train")  # "[reszoo.train] message"


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


# The run -----------------------------------------------------------------------------


def run(config: TrainConfig | argparse.Namespace | Sequence[str] | None = None) -> dict[str, Any]:
    """Train and export as the command line does; returns the summary (also written as summary.json).

    Args:
        config: a ``TrainConfig`` (``TrainConfig.from_summary`` reruns a run), a namespace from
            ``reszoo.training.cli.parse_args`` or a list of command-line arguments.

    Raises:
        UsageError: bad arguments, unknown model, existing export folder,
            missing data; raised before training starts, leaving nothing behind.
        DivergenceError: the loss or the weights stopped being finite; the
            backup of the last good epoch stays for inspection or a resumed run.
    """
    _require(
        keras.backend.backend() == "tensorflow",
        "reszoo.train needs Keras' TensorFlow backend (tf.distribute, SavedModel export). "
        f"Received: KERAS_BACKEND={keras.backend.backend()}",
    )
    given = None if isinstance(config, TrainConfig) else _parsed(config)
    resolved = config if isinstance(config, TrainConfig) else resolve(given)
    strategy = make_strategy(resolved.strategy)  # first: MultiWorkerMirroredStrategy must precede other TF work
    export_dir, backup_dir = resolve_paths(resolved, strategy)
    check_writable(export_dir, "export dir")
    check_writable(backup_dir, "backup dir")
    backup = Backup(backup_dir)
    backup.lock()  # before any work: a second run on the same backup is refused at once
    try:
        remove_stale_partials(export_dir)
        seed_everything(resolved)
        bundle = load_data(resolved)
        if given is not None and resolved.recipe and _sizes_differ(resolved, bundle):
            # Iteration-counted recipes depend on the real size, known now; everything else resolves as before.
            resolved = resolve(given, info=bundle.info())
        resolved = resolved.replace(export_dir=export_dir, backup_dir=backup_dir)
        check_data(resolved, bundle)
        with dtype_policy(resolved.precision):
            return train_and_export(resolved, strategy, bundle, backup)
    finally:
        backup.release()


def _parsed(argv: argparse.Namespace | Sequence[str] | None) -> argparse.Namespace:
    if isinstance(argv, argparse.Namespace):
        return argv
    from reszoo.training.cli import parse_args

    return parse_args(argv)


def _sizes_differ(config: TrainConfig, bundle: data.DatasetBundle) -> bool:
    described = described_sizes(config.dataset, config.data_dir, config.image_size, config.val_split)
    return described != (bundle.train_size, bundle.num_classes)


def train_and_export(config: TrainConfig, strategy, bundle: data.DatasetBundle, backup: Backup) -> dict[str, Any]:
    started = time.perf_counter()
    steps = steps_per_epoch(config, bundle, strategy)
    with strategy.scope():
        model, net = build_training_model(config, bundle)  # first: a bad builder argument leaves nothing behind
        schedule = training_schedule(config, steps)
        compile_model(model, config, schedule)
        distribute.fix_fit_for_multiworker(model)
    initialise_from(config, model, backup)  # before the backup is opened: a bad source leaves nothing
    refused: BackupError | None = None
    try:
        resumed_at = backup.open(run_record(config), allow_changes=config.resume_with_changes)
    except BackupError as error:  # under multiworker the others must hear of it, or they wait forever
        if not distribute.is_multiworker(strategy):
            raise
        refused, resumed_at = error, -1
    try:
        distribute.check_same_resume_epoch(strategy, resumed_at)
    except ValueError as error:
        raise refused or UsageError(str(error)) from None
    log_start(config, net, bundle, strategy, backup, resumed_at, steps)
    callbacks, named = make_callbacks(config, backup, schedule)
    try:
        fit(config, model, training_set(config, bundle, strategy), bundle, callbacks, backup)
    except KeyboardInterrupt as stop:
        raise interrupted(stop, backup) from None
    except (tf.errors.UnavailableError, tf.errors.AbortedError) as error:
        if not distribute.is_multiworker(strategy):
            raise
        raise worker_lost(error, backup) from None
    columns, rows = backup.merged_history()
    final = final_metrics(config, model, bundle, backup, rows)
    summary = make_summary(config, model, net, bundle, strategy, rows, named, final, steps)
    summary.update(resumed_at_epoch=resumed_at, wall_seconds=time.perf_counter() - started)
    summary["resumed_with_changes"] = backup.changes or None
    export(config, model, strategy, bundle, backup, summary, (columns, rows))
    return summary


# Paths ---------------------------------------------------------------------------------


def dataset_tag(spec: str) -> str:
    """The dataset's part of the default export name: ``cifar10``, a folder's basename, or ``synthetic``."""
    kind, _, rest = spec.partition(":")
    if kind == "folder" and rest:
        return os.path.basename(os.path.normpath(rest)) or "folder"
    return kind


def default_export_dir(model: str, spec: str, now: datetime.datetime | None = None) -> str:
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return os.path.join("saved_models", f"{model}-{dataset_tag(spec)}-{stamp}")


def run_fingerprint(config: TrainConfig) -> str:
    """A short hash of everything that decides what is trained (not where it goes)."""
    values = {k: v for k, v in sorted(config.to_dict().items()) if k not in NOT_TRAINING_KEYS}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


def default_backup_dir(config: TrainConfig, export_dir: str) -> str:
    """``<export-dir>.backup``; with the default (time-stamped) export dir, a name derived from the
    config instead, so that the same command finds its backup again."""
    if config.export_dir:
        return export_dir + ".backup"
    name = f"{config.model}-{dataset_tag(config.dataset)}-{run_fingerprint(config)}.backup"
    return os.path.abspath(os.path.join(os.path.dirname(export_dir), name))


def check_backup_dir(backup_dir: str, export_dir: str) -> str:
    path = os.path.abspath(backup_dir)
    inside = os.path.commonpath([path, export_dir]) == export_dir
    _require(
        not inside,
        f"--backup-dir must lie outside the export dir {export_dir} (the export appears only when complete). "
        f"Received: --backup-dir={backup_dir}",
    )
    _require(not os.path.lexists(path) or os.path.isdir(path), f"backup dir {path} exists and is not a directory.")
    return path


def resolve_paths(config: TrainConfig, strategy) -> tuple[str, str]:
    """(export dir, backup dir), both absolute and checked. Under multiworker every worker but the
    chief backs up into its own ``<backup dir>-<worker>`` folder."""
    replicas = strategy.num_replicas_in_sync
    _require(
        config.batch_size % replicas == 0,
        f"--batch-size must be divisible by the number of replicas ({replicas}). "
        f"Received: --batch-size={config.batch_size}",
    )
    try:
        export_dir = check_export_dir(config.export_dir or default_export_dir(config.model, config.dataset))
    except ValueError as error:
        raise UsageError(str(error)) from None
    backup_dir = config.backup_dir or default_backup_dir(config, export_dir)
    if not distribute.is_chief(strategy):
        backup_dir = f"{backup_dir.rstrip(os.sep)}-{distribute.worker_label(strategy)}"
    return export_dir, check_backup_dir(backup_dir, export_dir)


def check_writable(path: str, what: str) -> None:
    """Refuse up front (``UsageError``) a ``path`` whose nearest existing folder cannot be written.

    A probe file, not ``os.access``: it is what the run will do, and it tells the truth for root
    and on read-only file systems too.
    """
    parent = os.path.dirname(path.rstrip(os.sep)) or "."
    while not os.path.isdir(parent):
        parent = os.path.dirname(parent) or "."
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".reszoo-write-check-"):
            pass  # creating (and removing) the probe file is the check
    except OSError as error:
        raise UsageError(
            f"the {what} {path} cannot be written: {parent} is not writable ({error.strerror}). "
            f"Pass another --{what.split()[0]}-dir."
        ) from None


def remove_stale_partials(export_dir: str) -> list[str]:
    """Remove the hidden ``.<name>.partial-<pid>`` folders that killed exports left, if their process is gone."""
    parent, name = os.path.split(export_dir.rstrip(os.sep))
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(parent):
            prefix, _, pid = entry.rpartition(".partial-")
            if prefix != f".{name}" or not pid.isdigit() or _alive(int(pid)):
                continue
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
            removed.append(entry)
            log(f"removed {os.path.join(parent, entry)}, left by an export that was killed")
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def interrupted(stop: KeyboardInterrupt, backup: Backup) -> cli.Interrupted:
    """The one line a Ctrl-C or SIGTERM during training prints: where the backup is, and how to resume."""
    done = backup.resumed_epoch()
    kind = cli.Terminated if isinstance(stop, cli.Terminated) else cli.Interrupted
    what = "terminated" if kind is cli.Terminated else "interrupted"
    return kind(
        f"{what} in epoch {done}: {_what_is_kept(done)} is in {backup.path}; the same command resumes from there."
    )


def _what_is_kept(done: int) -> str:
    """The backup of ``done`` completed epochs, in words."""
    return f"the backup of epochs 0-{done - 1}" if done > 1 else ("the backup of epoch 0" if done else "the backup")


class WorkerLostError(RuntimeError):
    """Under multiworker, another worker stopped mid-training (killed, preempted): exit status 4."""


def worker_lost(error: Exception, backup: Backup) -> WorkerLostError:
    """The one line a worker prints when a peer vanished: which, where the backup is, how to resume."""
    # TensorFlow names the unhealthy tasks after "unhealthy"; the op's own device (this worker) comes first.
    text = str(error)
    tasks = sorted(set(re.findall(r"/job:worker/(?:replica:\d+/)?task:(\d+)", text.partition("unhealthy")[2])))
    who = f"worker {', '.join(tasks)}" if tasks else "another worker"
    done = backup.resumed_epoch()
    return WorkerLostError(
        f"another worker stopped ({who} stopped answering: {type(error).__name__}) in epoch {done}; "
        f"{_what_is_kept(done)} is in "
        f"{backup.path}; start every worker again with the same command to resume."
    )


def run_record(config: TrainConfig) -> dict[str, Any]:
    """What ``run.json`` in the backup folder records: the config but its paths."""
    return {k: v for k, v in config.to_dict().items() if k not in ("export_dir", "backup_dir")}


# Environment -----------------------------------------------------------------------------


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """``distribute.make_strategy``, with a missing cluster reported as a ``UsageError``."""
    try:
        return distribute.make_strategy(kind)
    except ValueError as error:
        raise UsageError(str(error)) from None


def seed_everything(config: TrainConfig) -> None:
    """``--seed``: Python, NumPy and TensorFlow seeds; ``--deterministic``: deterministic TF ops too."""
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` while models are built, restored afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def versions() -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "reszoo": reszoo.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


# Data ---------------------------------------------------------------------------------


def load_data(config) -> data.DatasetBundle:
    """The dataset of ``config`` (a ``TrainConfig``, or anything with its data fields), batched."""
    try:
        return data.load_dataset(
            config.dataset,
            data_dir=config.data_dir,
            batch_size=config.batch_size,
            image_size=config.image_size,
            augment=augment.BASE_AUGMENTATION[config.augment],
            val_split=config.val_split,
            seed=config.seed,
        )
    except ValueError as error:  # DatasetError included: missing / offline data, bad spec
        raise UsageError(str(error)) from None


def check_data(config: TrainConfig, bundle: data.DatasetBundle) -> None:
    height, width = bundle.image_shape[:2]
    _require(
        config.cutout <= min(height, width),
        f"--cutout must not exceed the image size ({height}x{width}). Received: --cutout={config.cutout}",
    )


def training_set(config: TrainConfig, bundle: data.DatasetBundle, strategy) -> tf.data.Dataset:
    """``bundle.train`` with RandAugment / Cutout (``reszoo.augment``), whole batches only under multiworker."""
    train = bundle.train
    if config.augment == "randaugment" or config.cutout:
        train = augment.augment_training_set(
            train,
            kind=config.augment,
            cutout_size=config.cutout,
            fill=bundle.mean,
            batch_size=config.batch_size,
            seed=config.seed,
        )
    if config.mixup or config.cutmix:
        train = augment.mix_training_set(
            train,
            num_classes=bundle.num_classes,
            mixup=config.mixup,
            cutmix=config.cutmix,
            prob=config.mix_prob,
            seed=config.seed,
        )
    if distribute.is_multiworker(strategy):
        train = distribute.full_batches(train, config.batch_size, bundle.train_size)
    return train


def initialise_from(config: TrainConfig, model: keras.Model, backup: Backup) -> None:
    """``--init-from``: the source's weights (``reszoo.convert.init_from``), logged; a resumed run's come
    from its backup instead."""
    if not config.init_from:
        return
    if backup.resumed_epoch():
        log(f"--init-from {config.init_from}: not applied, the run resumes from its backup's weights")
        return
    from reszoo import convert  # torch only for pytorchcv: sources

    try:
        messages = convert.init_from(model, config.init_from)
    except (ValueError, OSError) as error:
        raise UsageError(f"--init-from {config.init_from}: {error}") from None
    for message in messages:
        log(f"--init-from {config.init_from}: {message}")


def steps_per_epoch(config: TrainConfig, bundle: data.DatasetBundle, strategy) -> int:
    """Batches per epoch: the last, smaller batch counts, except under multiworker (whole batches only)."""
    if distribute.is_multiworker(strategy):
        return max(1, bundle.train_size // config.batch_size)
    return -(-bundle.train_size // config.batch_size)


# Model ------------------------------------------------------------------------------


def build_training_model(config: TrainConfig, bundle: data.DatasetBundle) -> tuple[keras.Model, keras.Model]:
    """``(trainable model, network)``: raw 0-255 images -> ``normalize`` -> the registry's network."""
    try:
        family, _, _ = registry.resolve(config.model, **config.build_kwargs)
        net = reszoo.build(
            config.model,
            **config.build_kwargs,
            num_classes=bundle.num_classes,
            input_shape=tuple(bundle.image_shape),
            weight_decay=config.weight_decay,
            fused_bn=config.fused_bn,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    check_image_size(net, bundle.image_shape)
    images = keras.Input(shape=tuple(bundle.image_shape), name="images")
    # keras.applications' EfficientNet standardises raw pixels itself; standardising twice
    # shrinks its stem activations ~19x, so it gets the raw 0-255 images.
    inputs = images if family.normalizes_inputs else data.normalization_layer(bundle)(images)
    return keras.Model(images, net(inputs), name=net.name), net


def total_downsampling(model: keras.Model) -> int:
    """The network's total stride: the product of the strides along a path from its input to its output.

    Every path through a residual stage downsamples alike (the shortcut as the residual branch), so
    the first inbound path is as good as any; nested models (EfficientNet's backbone) count theirs.
    """
    factor, tensor = 1, model.outputs[0]
    while True:
        operation, node_index, _ = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            return factor
        if isinstance(operation, keras.Model):
            factor *= total_downsampling(operation)
        else:
            strides = getattr(operation, "strides", None) or getattr(operation, "stride", None) or 1
            factor *= max(strides) if isinstance(strides, (tuple, list)) else int(strides)
        node = operation._inbound_nodes[node_index]
        if not node.input_tensors:
            return factor
        tensor = node.input_tensors[0]


def check_image_size(net: keras.Model, image_shape) -> None:
    """Refuse images smaller than the network's total downsampling (a 3-stage CIFAR net: 4 pixels a side)."""
    needed = total_downsampling(net)
    height, width = int(image_shape[0]), int(image_shape[1])
    _require(
        min(height, width) >= needed,
        f"{net.name} downsamples its input {needed}x (its stages' strides), so it needs images of at least "
        f"{needed}x{needed} pixels. Received: {height}x{width} images (--image-size)",
    )


def compile_model(
    model: keras.Model,
    config: TrainConfig,
    schedule: TrainingSchedule | float | None = None,
    *,
    steps_per_execution: int = 1,
) -> None:
    """SGD (Nesterov) on ``schedule`` (default: the constant ``config.lr``), with the weights' moving average
    under ``--ema``; cross-entropy (label-smoothed, and on soft labels under MixUp / CutMix); loss scaling
    under mixed_float16 (Keras would wrap the optimizer too; done here so it is explicit); ``--jit``.
    ``steps_per_execution``: Keras' batches per compiled call; the command line keeps 1 (``bench fit
    --steps-per-execution`` measured what more would win)."""
    optimizer = keras.optimizers.SGD(
        learning_rate=config.lr if schedule is None else schedule,
        momentum=config.momentum,
        nesterov=config.nesterov,
        use_ema=config.ema is not None,
        ema_momentum=0.99 if config.ema is None else config.ema,
    )
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    mixing = bool(config.mixup or config.cutmix)
    if config.label_smoothing or mixing:
        loss = augment.SmoothedSparseCrossentropy(config.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    metrics = [augment.accuracy_metric()] if mixing else ["accuracy"]
    jit = config.jit
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=metrics,
        jit_compile="auto" if jit is None else jit,
        steps_per_execution=steps_per_execution,
    )


# Callbacks ----------------------------------------------------------------------------


def make_callbacks(
    config: TrainConfig, backup: Backup, schedule: TrainingSchedule
) -> tuple[list[keras.callbacks.Callback], dict[str, Any]]:
    """The callback list, in the order that matters, and the ones ``run`` reads afterwards.

    ``schedule`` is the optimizer's (``compile_model``): the rates are its, at every step;
    the callbacks only log them and end He et al.'s warm-up early. Order: the timer first
    (its ``epoch_seconds`` reaches the logs), the divergence guard before anything that
    writes, the warm-up rule and the rate log before the loggers, the EMA swap (validation
    sees the averaged weights), and the backup last, so that an epoch's history row, timing
    and warm-up state are on disk before the backup says the epoch is done.
    """
    timer = EpochTimer(state_path=backup.epoch_seconds)
    named: dict[str, Any] = {"timer": timer, "warmup": None}
    callbacks: list[keras.callbacks.Callback] = [timer, StopOnDivergence()]
    if config.warmup_iterations:
        named["warmup"] = IterationWarmup(schedule, until_accuracy=config.warmup_accuracy, state_path=backup.warmup)
        callbacks.append(named["warmup"])
    callbacks.append(LearningRateLog(schedule))
    if config.ema is not None:
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=False))
    callbacks.append(keras.callbacks.CSVLogger(backup.history, append=True))
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=backup.logs))
    if config.keep_best:
        callbacks.append(best_checkpoint(backup))
    callbacks.append(
        SafeBackupAndRestore(backup.checkpoint, save_freq=config.backup_every or "epoch", delete_checkpoint=False)
    )
    return callbacks, named


def best_checkpoint(backup: Backup) -> keras.callbacks.ModelCheckpoint:
    """Weights of the best-validation-accuracy epoch; a resumed run starts from the best so far."""
    _, rows = backup.merged_history()
    done = [float(r["val_accuracy"]) for r in rows if int(r["epoch"]) < backup.resumed_epoch()]
    return keras.callbacks.ModelCheckpoint(
        backup.best_weights,
        monitor="val_accuracy",
        mode="max",
        save_best_only=True,
        save_weights_only=True,
        initial_value_threshold=max(done) if done and os.path.exists(backup.best_weights) else None,
    )


# Fit and metrics -------------------------------------------------------------------------


def fit(config: TrainConfig, model, train, bundle, callbacks, backup: Backup) -> None:
    """``model.fit``; a ``DivergenceError`` comes back naming the backup it left."""
    try:
        model.fit(
            train,
            epochs=config.epochs,
            validation_data=bundle.val if config.val_split else bundle.test,
            callbacks=callbacks,
            shuffle=False,  # the training dataset shuffles itself (Keras ignores this for tf.data anyway)
            verbose=1 if (config.verbose or sys.stdout.isatty()) else 2,
        )
    except DivergenceError as error:
        done = backup.resumed_epoch()
        epochs = "epoch 0" if done == 1 else f"epochs 0-{done - 1}"
        kept = f"The backup of {epochs} is in {backup.path}" if done else f"No epoch was completed ({backup.path})"
        raise DivergenceError(f"{error} {kept}.", epoch=error.epoch, last_finite_loss=error.last_finite_loss) from None
    finally:  # a stopped fit (divergence, Ctrl-C) skips on_train_end, which closes them
        _close_csv_loggers(callbacks)


def _close_csv_loggers(callbacks) -> None:
    """Close the history files a stopped ``fit`` leaves open (Keras closes them only in ``on_train_end``)."""
    for callback in callbacks:
        csv_file = getattr(callback, "csv_file", None) if isinstance(callback, keras.callbacks.CSVLogger) else None
        if csv_file is not None and not csv_file.closed:
            csv_file.close()


def error_percent(accuracy: float) -> float:
    return 100.0 * (1.0 - float(accuracy))


def final_metrics(config: TrainConfig, model: keras.Model, bundle, backup: Backup, rows) -> dict[str, Any]:
    """Errors of the model being exported: the last epoch's, or with ``--keep-best`` the best one's.

    With ``--val-split`` the test split is evaluated here, once; without, ``fit`` evaluated
    it after every epoch (the papers' curves) and the last epoch's values are final.
    """
    selected = rows[-1]
    if config.keep_best and os.path.exists(backup.best_weights):
        model.load_weights(backup.best_weights)
        selected = max(rows, key=lambda r: float(r["val_accuracy"]))
    final = {
        "selected_epoch": int(selected["epoch"]),
        "train_accuracy": float(selected["accuracy"]),
        "train_loss": float(selected["loss"]),
        "val_accuracy": float(selected["val_accuracy"]),
        "val_loss": float(selected["val_loss"]),
    }
    if config.val_split:
        test = model.evaluate(bundle.test, verbose=0, return_dict=True)
        final.update(test_accuracy=test["accuracy"], test_loss=test["loss"])
    else:
        final.update(test_accuracy=final.pop("val_accuracy"), test_loss=final.pop("val_loss"))
    return final


# Log and summary ---------------------------------------------------------------------------


def log_start(config: TrainConfig, net, bundle, strategy, backup: Backup, resumed_at: int, steps: int) -> None:
    params = reszoo.trainable_params(net)
    milestones = f" at {','.join(map(str, config.milestones))}" if config.milestones else ""
    log(
        f"training {net.name} ({params:,} trainable parameters) on {bundle.name}: "
        f"{bundle.train_size} train / {bundle.val_size or 0} val / {bundle.test_size} test images, "
        f"{bundle.num_classes} classes, {'x'.join(map(str, bundle.image_shape))}; {config.epochs} epochs, "
        f"batch {config.batch_size} ({steps} iterations an epoch), lr {config.lr} ({config.schedule}{milestones} "
        f"per {config.schedule_unit}), {describe_warmup(config)}, wd {config.weight_decay}, "
        f"{describe_regularisers(config)}recipe {config.recipe or 'none'}, {describe_precision(config)}, "
        f"{distribute.strategy_name(strategy)} strategy x{strategy.num_replicas_in_sync}"
    )
    if resumed_at:
        log(f"resuming from the backup in {backup.path} at epoch {resumed_at} (counted from 0)")
    for key, (before, now) in backup.changes.items():
        log(f"--resume-with-changes: {key} was {before!r} in the backup's run, now {now!r}")
    else:
        log(f"backing up to {backup.path} after every epoch; rerun the same command to resume")


def describe_precision(config: TrainConfig) -> str:
    """The dtype policy, and why when ``--precision auto`` chose it."""
    return f"{config.precision} ({config.precision_origin})" if config.precision_origin else config.precision


def describe_regularisers(config: TrainConfig) -> str:
    """The regularisers beyond weight decay in words, each followed by ", " (or nothing when there are none)."""
    parts = []
    if config.mixup:
        parts.append(f"MixUp alpha {config.mixup:g}")
    if config.cutmix:
        parts.append(f"CutMix alpha {config.cutmix:g}")
    if config.mixup or config.cutmix:
        parts.append(f"mixing {config.mix_prob:.0%} of the images")
    if config.label_smoothing:
        parts.append(f"label smoothing {config.label_smoothing:g}")
    if config.ema is not None:
        parts.append(f"weight EMA {config.ema:g} (evaluated and exported)")
    return "".join(f"{part}, " for part in parts)


def make_summary(config: TrainConfig, model, net, bundle, strategy, rows, named, final, steps) -> dict[str, Any]:
    seconds_by_epoch = named["timer"].seconds_by_epoch
    epoch_seconds = [seconds_by_epoch.get(e) for e in range(config.epochs)]  # None: lost (a backup from elsewhere)
    timed = [s for s in epoch_seconds if s is not None]
    return {
        "model": config.model,
        "network": net.name,
        "builder_kwargs": {**builder_arguments(config), "weight_decay": config.weight_decay},
        # The resolved settings under their command-line names; "config" is the same record, for
        # TrainConfig.from_summary. "args" stays for readers of earlier summaries.
        "args": config.to_dict(),
        "params": reszoo.trainable_params(net),
        "epochs": config.epochs,
        "epoch_seconds": epoch_seconds,
        "train_images_per_second": bundle.train_size * len(timed) / sum(timed),
        "train_error": error_percent(final["train_accuracy"]),
        "val_error": error_percent(final["val_accuracy"]) if config.val_split else None,
        "test_error": error_percent(final["test_accuracy"]),
        "train_loss": final["train_loss"],
        "test_loss": float(final["test_loss"]),
        "selected_epoch": final["selected_epoch"],
        # The rates that ran, read from the optimizer's schedule: each epoch's first and last batch
        # (history.csv's lr_first and learning_rate; history_learning_rates is the latter, as before).
        "learning_rates": _rates(rows, "lr_first"),
        "learning_rates_last": _rates(rows, "learning_rate"),
        "history_learning_rates": _rates(rows, "learning_rate"),
        "schedule": {"kind": config.schedule, "unit": config.schedule_unit, "steps_per_epoch": steps},
        "warmup": warmup_summary(config, named["warmup"]),
        "regularisers": {
            "mixup": config.mixup,
            "cutmix": config.cutmix,
            "mix_prob": config.mix_prob if (config.mixup or config.cutmix) else None,
            "ema": config.ema,
            "label_smoothing": config.label_smoothing,
            "cutout": config.cutout,
        },
        "class_names": list(bundle.class_names),
        "num_classes": bundle.num_classes,
        "dataset": bundle.name,
        "synthetic": bool(bundle.synthetic),
        "train_size": bundle.train_size,
        "val_size": bundle.val_size or 0,
        "test_size": bundle.test_size,
        "input_shape": list(bundle.image_shape),
        "recipe": config.recipe,
        "precision": config.precision,
        "precision_origin": config.precision_origin or None,  # why, when --precision auto chose it
        "jit_compile": bool(model.jit_compile),
        "deterministic": bool(config.deterministic),
        "strategy": distribute.strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "workers": distribute.num_workers(strategy),
        "versions": versions(),
        "export_dir": config.export_dir,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "fused_bn": config.fused_bn,
        "config": config.to_dict(),
    }


def _rates(rows: list[dict[str, str]], column: str) -> list[float | None]:
    return [float(r[column]) if r.get(column) not in (None, "") else None for r in rows]


def warmup_summary(config: TrainConfig, warmup: IterationWarmup | None) -> dict[str, Any] | None:
    if config.warmup_epochs:
        kind = "constant" if config.warmup_lr is not None else "linear"
        return {"kind": "epochs", "epochs": config.warmup_epochs, "lr": config.warmup_lr, "shape": kind}
    if warmup is None:
        return None
    return {
        "kind": "iterations",
        "lr": config.warmup_lr,
        "max_iterations": config.warmup_iterations,
        "origin": config.warmup_origin,
        "until_accuracy": config.warmup_accuracy,
        "ended": warmup.ended,
        "description": describe_warmup(config),
    }


# Export ------------------------------------------------------------------------------------


def write_history(path: str, columns: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def export(config: TrainConfig, model, strategy, bundle, backup: Backup, summary, history) -> None:
    """The chief writes the export folder (atomically) and removes the backup; other workers write
    theirs into a temporary folder and delete it (saving may involve every worker)."""
    log(f"trainable weights sha256 {distribute.weights_digest(model)}")
    if not distribute.is_chief(strategy):
        with tempfile.TemporaryDirectory() as scratch:
            write_model_files(model, scratch, class_names=bundle.class_names, summary=summary)
        shutil.rmtree(backup.path, ignore_errors=True)
        log(f"worker {distribute.worker_label(strategy)} done; the chief writes the export")
        return
    assert config.export_dir is not None  # filled in by run()
    with staged_export(config.export_dir) as staging:
        write_model_files(model, staging, class_names=bundle.class_names, summary=summary)
        if config.export_formats:
            for path in write_formats(model, staging, config.export_formats):
                log(f"exported {os.path.basename(path)}")
        write_history(os.path.join(staging, HISTORY_FILE), *history)
        if config.tensorboard and os.path.isdir(backup.logs):
            shutil.copytree(backup.logs, os.path.join(staging, LOGS_DIR))
    shutil.rmtree(backup.path, ignore_errors=True)
    if config.serving_dir:
        log(f"TF Serving version folder: {export_for_serving(config.export_dir, config.serving_dir)}")
    val = "" if summary["val_error"] is None else f", val error {summary['val_error']:.2f}%"
    log(
        f"{bundle.name}: test error {summary['test_error']:.2f}%, train error {summary['train_error']:.2f}%{val}, "
        f"{summary['train_images_per_second']:.0f} train images/s; exported to {config.export_dir}"
    )
