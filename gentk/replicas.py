"""Model code that stays right under ``tf.distribute`` strategies: conditional optimizer
updates (``run_if``) and statistics over the global batch rather than one replica's share
(``replica_sum``, ``global_moments``, ``from_first_replica``). Outside a strategy each is the
plain computation.

Non-gradient state (batch-norm moving averages, codebook counts) updated from a replica's
share of the batch would drift apart between replicas; computed from these, every replica
makes the same update, the one a single process makes on the global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

__all__ = ["run_if", "replica_sum", "global_moments", "from_first_replica"]


def _context():
    """The replica context when several replicas are in sync, else None."""
    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return None
    ctx = tf.distribute.get_replica_context()
    return ctx if ctx is not None and ctx.num_replicas_in_sync > 1 else None


def replica_sum(x: tf.Tensor):
    """``x`` summed over the replicas in sync (differentiable); ``x`` itself with one."""
    ctx = _context()
    return x if ctx is None else ctx.all_reduce("SUM", x)


def from_first_replica(x: tf.Tensor):
    """Replica 0's ``x`` on every replica (e.g. the examples a dead code restarts from)."""
    ctx = _context()
    if ctx is None:
        return x
    first = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), x.dtype)
    return ctx.all_reduce("SUM", x * first)


def global_moments(x: tf.Tensor, axes: Sequence[int]):
    """``tf.nn.moments(x, axes)`` over the global batch: sums and counts are added across
    replicas first (differentiable), so shares of any size give the global mean and variance."""
    x = tf.convert_to_tensor(x)
    count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), x.dtype)
    if _context() is None:
        return tf.nn.moments(x, axes=axes)
    total, squares, count = replica_sum(
        [tf.reduce_sum(x, axis=axes), tf.reduce_sum(tf.square(x), axis=axes), count]
    )
    mean = total / count
    return mean, tf.maximum(squares / count - tf.square(mean), 0.0)


def run_if(pred: tf.Tensor | bool, fn: Callable[[], Any], *args) -> None:
    """``fn(*args)`` when ``pred`` holds, from a ``train_step`` under any ``tf.distribute``
    strategy; what ``fn`` returns is dropped.

    A ``tf.cond`` whose branch applies gradients fails under ``MirroredStrategy`` and
    ``MultiWorkerMirroredStrategy`` (the gradients' all-reduce may not sit inside a branch in a
    replica context), so under a strategy the condition is taken in the cross-replica context
    and ``fn`` runs on every replica from there, as Keras' ``LossScaleOptimizer`` does. ``pred``
    must be equal on every replica (e.g. computed from a step counter); pass the replica's
    tensors (its batch) as ``args``, not in a closure, so each replica gets its own.
    """

    def branch(*a):
        fn(*a)
        return tf.constant(True)

    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        tf.cond(pred, lambda: branch(*args), lambda: tf.constant(False))
        return

    def cross(strategy, pred, *args):
        first = strategy.experimental_local_results(pred)[0]

        def run():
            strategy.extended.call_for_each_replica(fn, args=args)
            return tf.constant(True)

        tf.cond(first, run, lambda: tf.constant(False))

    tf.distribute.get_replica_context().merge_call(cross, args=(pred, *args))
