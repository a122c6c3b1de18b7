"""Multi-worker training on ``tf.distribute.MultiWorkerMirroredStrategy``: the cluster as
``TF_CONFIG`` describes it, each worker's share of every global batch, and the loop that drives
a model's own ``train_step``/``test_step`` with ``strategy.run`` (Keras 3's ``fit`` fails under
this strategy, keras-team/keras#20585), calling the same Keras callbacks as ``fit``.

#### How a global batch is shared

Every worker builds the recipe's training pipeline with the same seed, so all of them see the
same sequence of global batches. Replica ``j`` of ``R`` takes rows ``j, j + R, j + 2R, ...`` of
each global batch (dense tensors and ``tf.SparseTensor`` alike); the model's steps divide the
loss by ``R``, so the gradients summed across replicas are those of the global batch's mean. A
global batch with fewer than ``R`` rows (at most the last of an epoch) is skipped by all workers
alike, so every worker runs the same number of steps.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gentk.errors import TrainingError, UserError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = [
    "cluster_workers",
    "is_chief",
    "multi_worker_strategy",
    "worker_share",
    "distribute_batches",
    "broadcast_from_chief",
    "fit_distributed",
    "multiworker_errors",
]


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "") or "{}"
    try:
        config = json.loads(raw)
    except ValueError:
        raise UserError("TF_CONFIG is not valid JSON") from None
    if not isinstance(config, dict):
        raise UserError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return config


def cluster_workers() -> int:
    """How many training tasks ``TF_CONFIG`` names (``chief`` and ``worker``); 1 without it."""
    cluster = _tf_config().get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", [])) or 1


def is_chief() -> bool:
    """Whether this process writes the run's files: the ``chief`` task, or worker 0 when the
    cluster names no chief (TensorFlow's convention), or any process outside a cluster."""
    config = _tf_config()
    task = config.get("task", {})
    if cluster_workers() == 1 or not task:
        return True
    if task.get("type") == "chief":
        return True
    return (
        task.get("type") == "worker"
        and int(task.get("index", 0)) == 0
        and (not config.get("cluster", {}).get("chief"))
    )


@functools.cache
def multi_worker_strategy():
    """This process's ``MultiWorkerMirroredStrategy`` (one per process, from ``TF_CONFIG``).

    TensorFlow configures collective ops when the strategy is made, which it allows only
    before the first TensorFlow operation: ``gentk run`` makes it first thing; a Python program
    calls this (or ``gentk.run``) before any other TensorFlow work.
    """
    import tensorflow as tf

    timeout = float(os.environ.get("GENTK_COLLECTIVE_TIMEOUT", "600"))
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except RuntimeError as err:
        if "program startup" not in str(err):
            raise
        raise UserError(
            "multi-worker training must set up TensorFlow's collective ops before any other "
            "TensorFlow operation ran in this process: call gentk.multi_worker_strategy() "
            "first thing in the program (gentk run does)"
        ) from None


@contextlib.contextmanager
def multiworker_errors():
    """TensorFlow's errors of a cluster that lost a worker (a peer killed, refused or gone)
    as one ``TrainingError`` line."""
    import tensorflow as tf

    lost = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
            tf.errors.CancelledError, tf.errors.AbortedError)  # fmt: skip
    try:
        yield
    except lost as err:
        raise TrainingError(
            f"another worker stopped responding ({type(err).__name__}); the completed "
            "checkpoints are kept: start every worker again with --resume"
        ) from None


def _rows(t):
    import tensorflow as tf

    if isinstance(t, tf.SparseTensor):
        return t.dense_shape[0]
    return tf.shape(t, out_type=tf.int64)[0]


def _part(t, j, parts):
    """Rows ``j, j + parts, ...`` of a dense or sparse batch ``t``."""
    import tensorflow as tf

    if isinstance(t, tf.SparseTensor):
        keep = tf.equal(t.indices[:, 0] % parts, j)
        kept = tf.sparse.retain(t, keep)
        rows = (t.dense_shape[0] - j + parts - 1) // parts
        indices = tf.concat([kept.indices[:, :1] // parts, kept.indices[:, 1:]], axis=1)
        shape = tf.concat([[rows], t.dense_shape[1:]], axis=0)
        return tf.SparseTensor(indices, kept.values, shape)
    return t[j::parts]


def worker_share(dataset: tf.data.Dataset, replicas: int, first: int, count: int):
    """The batches of replicas ``first .. first + count - 1`` of ``replicas``, in that order,
    for each global batch of ``dataset`` with at least ``replicas`` rows (see the module
    docstring)."""
    import tensorflow as tf

    def big_enough(*batch):
        return _rows(tf.nest.flatten(batch, expand_composites=False)[0]) >= replicas

    def parts(*batch):
        batch = batch if len(batch) > 1 else batch[0]
        ids = tf.data.Dataset.range(first, first + count)
        return ids.map(lambda j: tf.nest.map_structure(lambda t: _part(t, j, replicas), batch))

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.filter(big_enough).flat_map(parts).with_options(options)


def distribute_batches(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """``dataset`` of global batches as ``strategy``'s per-replica batches, each worker
    building its own share (``distribute_datasets_from_function``)."""

    def share(context):
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        return worker_share(dataset, replicas, context.input_pipeline_id * local, local)

    return strategy.distribute_datasets_from_function(share)


def broadcast_from_chief(
    strategy: tf.distribute.Strategy, values: Sequence[tf.Variable], chief: bool
):
    """``values`` (a list of variables) set everywhere to the chief's values: a resumed run
    trains from the chief's checkpoint even where the other workers cannot read it."""
    import tensorflow as tf

    for v in values:
        mine = tf.convert_to_tensor(v) if chief else tf.zeros_like(v)
        per_replica = strategy.run(lambda m=mine: tf.identity(m))
        v.assign(strategy.reduce("SUM", per_replica, axis=None) / _local_replicas(strategy))


def _local_replicas(strategy) -> int:
    return max(1, strategy.num_replicas_in_sync // cluster_workers())


def broadcast_int(strategy: tf.distribute.Strategy, value: int, chief: bool) -> int:
    """The chief's ``value`` on every worker (e.g. the epoch a resumed run starts after)."""
    import tensorflow as tf

    mine = tf.constant(float(value) if chief else 0.0)
    per_replica = strategy.run(lambda: tf.identity(mine))
    total = strategy.reduce("SUM", per_replica, axis=None) / _local_replicas(strategy)
    return int(round(float(total)))


def _step_function(strategy, step, signature):
    """``step`` (a model's ``train_step``/``test_step``) on a distributed batch; returns its
    logs as floats. The trackers are per replica (``ON_READ``): each ``Mean`` tracker's total
    and count are summed over replicas, so a logged value is the exact mean over every row the
    workers saw (replicas of an uneven last batch count for their rows); other logged values
    are averaged over replicas. One collective reduces them all."""
    import keras
    import tensorflow as tf

    keys: list[str] = []
    model = getattr(step, "__self__", None)
    trackers = {
        m.name: m for m in getattr(model, "metrics", []) if isinstance(m, keras.metrics.Mean)
    }

    def stacked(batch):
        logs = step(batch)
        keys[:] = list(logs)
        parts = []
        for k in keys:
            tracker = trackers.get(k)
            if tracker is not None:
                parts += [tracker.total, tracker.count]
            else:
                parts += [tf.reshape(logs[k], []), 1.0]
        return tf.stack([tf.cast(tf.convert_to_tensor(p), tf.float32) for p in parts])

    # no AutoGraph, as in Keras' own fit: a model's train_step is traced as written
    @tf.function(input_signature=[signature], reduce_retracing=True, autograph=False)
    def run_step(batch):
        sums = strategy.reduce("SUM", strategy.run(stacked, args=(batch,)), axis=None)
        pairs = tf.reshape(sums, [-1, 2])
        return pairs[:, 0] / tf.maximum(pairs[:, 1], 1e-12)

    def call(batch) -> dict:
        return dict(zip(keys, run_step(batch).numpy().tolist()))

    return call


def fit_distributed(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    train: tf.data.Dataset,
    *,
    validation_data: tf.data.Dataset | None = None,
    validation_freq: int = 1,
    epochs: int,
    initial_epoch: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
    shuffle: bool = False,
):
    """``model.fit(train, validation_data=..., ...)`` for ``strategy`` (same arguments; the
    ``tf.data`` pipelines shuffle themselves, so ``shuffle`` must be False): the model's own
    ``train_step``/``test_step`` under ``strategy.run``, the callbacks called as ``fit`` calls
    them (epoch, train-batch and ``val_``-prefixed epoch logs), ``model.stop_training``
    honoured after every batch. Returns the ``keras.callbacks.History``.
    """
    import keras

    if shuffle:
        raise ValueError("fit_distributed takes tf.data pipelines that shuffle themselves")
    train_dist = distribute_batches(strategy, train)
    val_dist = (
        distribute_batches(strategy, validation_data) if validation_data is not None else None
    )
    train_step = _step_function(strategy, model.train_step, train_dist.element_spec)
    test_step = (
        _step_function(strategy, model.test_step, val_dist.element_spec)
        if val_dist is not None
        else None
    )
    cardinality = int(train.cardinality())
    steps = cardinality if cardinality >= 0 else None
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history],
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    model.stop_training = False
    callback_list.on_train_begin()
    with multiworker_errors():
        _epochs(model, callback_list, train_dist, val_dist, train_step, test_step,
                range(initial_epoch, epochs), validation_freq)  # fmt: skip
    return history


def _validates(epoch: int, validation_freq) -> bool:
    """Keras' rule: ``validation_freq`` is every N epochs, or the (1-based) epochs to run on."""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _epochs(model, callback_list, train_dist, val_dist, train_step, test_step, epochs, freq=1):
    logs = {}
    for epoch in epochs:
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for i, batch in enumerate(train_dist):
            callback_list.on_train_batch_begin(i)
            logs = train_step(batch)
            callback_list.on_train_batch_end(i, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if test_step is not None and not model.stop_training and _validates(epoch, freq):
            model.reset_metrics()
            callback_list.on_test_begin()
            val_logs = {}
            for i, batch in enumerate(val_dist):
                callback_list.on_test_batch_begin(i)
                val_logs = test_step(batch)
                callback_list.on_test_batch_end(i, val_logs)
            callback_list.on_test_end(val_logs)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
