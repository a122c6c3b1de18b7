"""``FusedAdam``: Keras' Adam whose dense updates run as one TensorFlow kernel per variable;
``LazyAdam``: the same, with sparse gradients applied to the rows they touch only.

Keras 3's ``Adam.update_step`` spells the update as about ten element-wise operations, each
writing a tensor the size of the variable. ``tf.raw_ops.ResourceApplyAdam`` computes the same
update (Kingma and Ba, 2015, with Keras' epsilon placement)::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (g - m) (1 - beta_1);  v <- v + (g^2 - v) (1 - beta_2)
    w <- w - alpha m / (sqrt(v) + epsilon)

in one pass over ``w``, ``m``, ``v`` and ``g``: on 2 CPU cores 3.7-4.0 ms instead of 9.9-11.5 ms
for the 4.5M weights of Mult-VAE [I-600-200-600-I] on ML-1M (``benchmarks/recommender_speed.py
peer``). Everything around the update is Keras' own: gradient clipping, weight decay, loss
scaling, EMA, gradient accumulation and ``tf.distribute`` (the kernel runs inside the
strategy's per-variable update). ``amsgrad`` takes Keras' own path. A sparse gradient
(``tf.IndexedSlices``) is summed into a dense one first: Keras 3.x's Adam squares each of its
slices apart, so a row gathered twice in a batch gets ``v`` from ``g1^2 + g2^2`` instead of
``(g1 + g2)^2`` (a step sqrt(2) times too long for two equal slices; tested).
Saved as ``gentk>FusedAdam`` with Adam's config.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FusedAdam", "LazyAdam", "gather_rows"]


@keras.saving.register_keras_serializable(package="gentk")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same arguments and results) with fused dense updates."""

    def update_step(
        self,
        gradient: tf.Tensor | tf.IndexedSlices,
        variable: keras.Variable,
        learning_rate: tf.Tensor,
    ):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)  # duplicate rows summed
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(m),
            v=_handle(v),
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


def _variable(variable):
    """The TensorFlow variable behind a Keras one (the local copy of a distributed one inside
    the strategy's update)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def gather_rows(params: keras.Variable | tf.Tensor, indices: tf.Tensor):
    """``params[indices]`` along the first axis; of a (Keras) variable only those rows are read
    (its TensorFlow variable's ``sparse_read``), and the gradient is ``tf.IndexedSlices``. A
    whole read of a variable that ``LazyAdam`` then updates row by row makes TensorFlow copy it
    every step (38 ms at 1M x 100, against 1 ms for the rows). Tensors are gathered as usual."""
    return tf.gather(_variable(params), indices)


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable."""
    return _variable(variable).handle


def _rows(variable, rows):
    """``variable[rows]`` read through its handle (the rows only, also for the local copy of a
    distributed variable inside the strategy's update)."""
    return tf.raw_ops.ResourceGather(resource=_handle(variable), indices=rows, dtype=variable.dtype)


@keras.saving.register_keras_serializable(package="gentk")
class LazyAdam(FusedAdam):
    """``FusedAdam`` whose sparse gradients (``tf.IndexedSlices``, e.g. from rows gathered out
    of an embedding or an item-major output layer) update only the rows they touch: the
    "lazy" Adam of TensorFlow Addons' ``LazyAdam`` and PyTorch's ``SparseAdam``. For the
    touched rows ``r`` (duplicate indices summed first)::

        m_r <- beta_1 m_r + (1 - beta_1) g_r;   v_r <- beta_2 v_r + (1 - beta_2) g_r^2
        w_r <- w_r - alpha m_r / (sqrt(v_r) + epsilon)
        alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)

    with ``t`` the optimizer's global step, as both published variants count it; the rows not
    touched keep their weights and moments (dense Adam would decay their moments and keep
    moving them by their old momentum). A step then costs O(rows touched x width) instead of
    O(rows x width). Dense gradients take ``FusedAdam``'s update, so a dense gradient is
    exactly Adam. Keras applies ``weight_decay`` to whole variables before the update (set it
    to None to keep the update lazy). Saved as ``gentk>LazyAdam`` with Adam's config."""

    def update_step(
        self,
        gradient: tf.Tensor | tf.IndexedSlices,
        variable: keras.Variable,
        learning_rate: tf.Tensor,
    ):
        if self.amsgrad or not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, position = tf.unique(gradient.indices)
        g = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), position, tf.shape(rows)[0]
        )
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = (
            tf.cast(learning_rate, dtype)
            * tf.sqrt(1 - tf.pow(beta_2, step))
            / (1 - tf.pow(beta_1, step))
        )
        m_rows = beta_1 * _rows(m, rows) + (1 - beta_1) * g
        v_rows = beta_2 * _rows(v, rows) + (1 - beta_2) * tf.square(g)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        update = alpha * m_rows / (tf.sqrt(v_rows) + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(update, rows))
