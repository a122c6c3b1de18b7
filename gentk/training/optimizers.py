"""``FusedAdam``: Keras' Adam whose dense updates run as one TensorFlow kernel per variable.

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
strategy's per-variable update). Sparse gradients (``tf.IndexedSlices``) and ``amsgrad`` take
Keras' own path. Saved as ``gentk>FusedAdam`` with Adam's config.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FusedAdam"]


@keras.saving.register_keras_serializable(package="gentk")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same arguments and results) with fused dense updates."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
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


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable (the local copy of a
    distributed one inside the strategy's update)."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
