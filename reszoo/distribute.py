"""Distribution strategies for ``reszoo.train``: one device, several GPUs, several machines.

- ``default``: no distribution.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over all GPUs of this machine
  (or all logical CPUs when there is no GPU); ``auto`` picks it when there are
  two or more GPUs.
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over several
  processes / machines. Every worker runs the same command; the cluster comes
  from ``TF_CONFIG`` or, when that is not set and the process was started by
  SLURM's ``srun``, from ``SlurmClusterResolver``. Worker 0 (or the task
  called ``chief``) is the chief: it alone writes the export folder.

Synchronous data parallelism everywhere: the global batch (``--batch-size``) is
split evenly over the replicas, gradients are summed over all of them.
BatchNormalization statistics stay per replica (as in the papers' multi-GPU
Torch code), so results depend on the per-replica batch, not on how the
replicas are spread over machines.

Keras 3's ``Model.fit`` does not work under ``MultiWorkerMirroredStrategy``
(https://github.com/keras-team/keras/issues/20585, also
https://github.com/tensorflow/tensorflow/issues/72388); ``fix_fit_for_multiworker``
is reszoo's workaround, kept in this one place.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from reszoo.training.choices import STRATEGIES

# What SlurmClusterResolver reads; srun sets them for every task of a job step.
SLURM_VARIABLES = ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NODELIST")


def cluster_source(environ: Mapping[str, str] | None = None) -> str | None:
    """Where a multi-worker cluster is described: ``"TF_CONFIG"``, ``"SLURM"`` or None (nowhere)."""
    environ = os.environ if environ is None else environ
    if environ.get("TF_CONFIG"):
        return "TF_CONFIG"
    if all(environ.get(name) for name in SLURM_VARIABLES):
        return "SLURM"
    return None


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The strategy ``--strategy kind`` names (see the module docstring).

    ``multiworker`` must be created before TensorFlow runs anything else and
    raises ValueError when neither TF_CONFIG nor SLURM describes a cluster.
    """
    if kind not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}. Received: strategy={kind!r}")
    if kind == "multiworker":
        return _multiworker_strategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if kind == "default" or (kind == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def _multiworker_strategy() -> tf.distribute.MultiWorkerMirroredStrategy:
    source = cluster_source()
    if source is None:
        raise ValueError(
            "--strategy multiworker needs the cluster in TF_CONFIG (or a SLURM job step started with srun). "
            'Received: no TF_CONFIG. Example: TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    resolver = tf.distribute.cluster_resolver.SlurmClusterResolver() if source == "SLURM" else None
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


def is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    if is_multiworker(strategy):
        return "multiworker"
    return "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else "default"


def task(strategy: tf.distribute.Strategy) -> tuple[str | None, int]:
    """(task type, task index) of this process in a multi-worker cluster; (None, 0) otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multiworker(strategy) or resolver is None:
        return None, 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the process that writes the export: the ``chief`` task, else worker 0, else the only process."""
    task_type, task_id = task(strategy)
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not _has_chief(strategy))


def _has_chief(strategy) -> bool:
    return "chief" in strategy.cluster_resolver.cluster_spec().as_dict()


def worker_label(strategy: tf.distribute.Strategy) -> str:
    """``""`` outside a cluster, else ``"worker1"`` / ``"chief0"``: names per-worker backup folders."""
    task_type, task_id = task(strategy)
    return "" if task_type is None else f"{task_type}{task_id}"


def num_workers(strategy: tf.distribute.Strategy) -> int:
    if not is_multiworker(strategy):
        return 1
    spec = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(spec.get(job, [])) for job in ("chief", "worker"))


def check_same_resume_epoch(strategy: tf.distribute.Strategy, epoch: int) -> None:
    """Under multiworker, raise ValueError unless every worker resumes at ``epoch``.

    Each worker restores its own backup; workers that restored different epochs
    would run different numbers of steps and wait on each other's collectives
    forever (a kill between two workers' end-of-epoch backups can leave them so).
    """
    if not is_multiworker(strategy):
        return
    mine = strategy.experimental_distribute_values_from_function(lambda context: tf.constant([epoch], tf.int64))
    everyone = sorted({int(e) for e in strategy.gather(mine, axis=0).numpy()})
    if everyone != [epoch]:
        raise ValueError(
            f"the workers' backups end at different epochs ({', '.join(map(str, everyone))}; this worker's: "
            f"{epoch}), so they cannot resume together. Remove every worker's backup dir to start over."
        )


def full_batches(dataset: tf.data.Dataset, batch_size: int, num_images: int) -> tf.data.Dataset:
    """Only the batches of exactly ``batch_size`` images (of ``num_images`` per epoch).

    Under ``multiworker`` every worker reads the same (identically shuffled)
    pipeline and keeps its part of each global batch (``tf.data``'s DATA
    sharding); a smaller last batch would leave some replicas with nothing.
    Dropping it costs fewer than ``batch_size`` images per epoch (80 of
    CIFAR's 50,000 at batch 128), a different few every epoch.
    """
    # The filter hides the number of batches from Keras (it would warn that the input "ran out of data").
    return dataset.filter(lambda images, labels: tf.shape(images)[0] == batch_size).apply(
        tf.data.experimental.assert_cardinality(num_images // batch_size)
    )


def weights_digest(model: keras.Model) -> str:
    """SHA-256 over the trainable weights' bytes: equal on all workers of a healthy synchronous run.

    BatchNormalization's moving statistics are left out: every replica updates its
    own copy from its own part of the batch (the exported model has the chief's,
    as a single-process MirroredStrategy model has its first replica's).
    """
    digest = hashlib.sha256()
    for weight in model.trainable_weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()


# --- keras-team/keras#20585 ----------------------------------------------------------------
#
# Keras 3.15's fit/evaluate fail under MultiWorkerMirroredStrategy in two places:
#   1. `_maybe_symbolic_build` reduces the first distributed *input batch* with
#      `strategy.reduce("MEAN", batch)` to find its shapes, which the collective
#      all-reduce of a multi-worker strategy cannot do (ValueError: "Attempt to convert
#      a value (PerReplica...) ... to a Tensor");
#   2. `reduce_per_replica` then reduces the scalar metric results of each step with
#      `strategy.reduce("MEAN", v, axis=0)` in multi-worker mode (tensorflow#72388:
#      "Invalid reduction dimension 0 for input with 0 dimensions").
# The smallest fix that keeps `fit` (and with it every Keras callback:
# BackupAndRestore, CSVLogger, TensorBoard, ...) is per model instance, not a patch of
# Keras itself: build from one replica's batch instead of a reduced one, and give `fit`
# and `evaluate` step functions that run `strategy.run(model.train_step / test_step)` and
# reduce the scalars with `axis=None`. `fit` and `evaluate` use `model.train_function` /
# `model.test_function` when they are set (`make_*_function` return early); `compile`
# resets them, so call this after `compile`. Epoch logs are unaffected: Keras reads
# them from the metric variables (`get_metrics_result`), which MultiWorkerMirroredStrategy
# all-reduces on read. Remove this once the issue is fixed upstream.


def fix_fit_for_multiworker(model: keras.Model) -> keras.Model:
    """Make ``model.fit`` / ``model.evaluate`` work under MultiWorkerMirroredStrategy (see above)."""
    strategy = model.distribute_strategy
    if not is_multiworker(strategy):
        return model
    model.train_function = _step_function(strategy, model.train_step)
    model.test_function = _step_function(strategy, model.test_step)
    model._maybe_symbolic_build = functools.partial(_build_from_one_replica, model)
    return model


def _step_function(strategy, step):
    @tf.function(reduce_retracing=True)
    def one_step(batch):
        outputs = strategy.run(step, args=(batch,))
        return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), outputs)

    def function(iterator):
        batch = iterator.get_next_as_optional()
        if not batch.has_value():
            raise StopIteration
        return one_step(batch.get_value())

    return function


def _build_from_one_replica(model, iterator=None, data_batch=None):
    strategy = model.distribute_strategy
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = next(batches)
            break
    local = tf.nest.map_structure(
        lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
        data_batch,
    )
    with strategy.scope():
        model._symbolic_build(data_batch=local)
