"""Pooling that remembers where the maxima were, and the unpooling layers that undo pooling.

#### Mathematical details

``MaxPoolingWithArgmax2D`` returns the pooled maxima and the flat positions they came from.
For those recorded positions the pooling is the linear selection S x = x[argmax], and
``MaxUnpooling2D`` is its adjoint S^T y: each value goes back to its argmax, zeros elsewhere
(SegNet; Zeiler and Fergus' switches), so <S x, y> = <x, S^T y>.

``AverageUnpooling2D`` is the adjoint of ``AveragePooling2D`` with the same pool size:
each value is spread evenly over its p x p window, U y = upsample(y) / p^2.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

__all__ = ["MaxPoolingWithArgmax2D", "MaxUnpooling2D", "AverageUnpooling2D"]


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


@keras.saving.register_keras_serializable(package="gentk")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Non-overlapping max pooling (``padding='same'``) returning ``(pooled, argmax)``; the
    argmax holds flat indices into the input batch (``include_batch_in_index``)."""

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)

    def call(self, x: tf.Tensor):
        window = [1, *self.pool_size, 1]
        pooled, argmax = tf.nn.max_pool_with_argmax(
            x, window, window, padding="SAME", include_batch_in_index=True
        )
        return pooled, argmax

    def compute_output_shape(self, input_shape: tuple[int | None, ...]):
        b, h, w, c = input_shape
        ph, pw = self.pool_size
        out = (b, -(-h // ph), -(-w // pw), c)
        return out, out

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="gentk")
class MaxUnpooling2D(keras.layers.Layer):
    """Put each value back at the position its ``MaxPoolingWithArgmax2D`` recorded.

    ``call(x, argmax, output_size)`` with ``output_size = (H, W)`` of the pooled layer's input;
    everything not at an argmax is zero."""

    def call(self, x: tf.Tensor, argmax: tf.Tensor, output_size: tf.Tensor | Sequence[int]):
        shape = tf.shape(x)
        h, w = output_size
        total = shape[0] * h * w * shape[3]
        flat = tf.scatter_nd(
            tf.reshape(argmax, (-1, 1)), tf.reshape(x, (-1,)), tf.cast([total], argmax.dtype)
        )
        return tf.reshape(flat, tf.stack([shape[0], h, w, shape[3]]))


@keras.saving.register_keras_serializable(package="gentk")
class AverageUnpooling2D(keras.layers.Layer):
    """The adjoint of ``AveragePooling2D(pool_size)``: nearest upsampling divided by p_h p_w."""

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)

    def call(self, x: tf.Tensor):
        ph, pw = self.pool_size
        up = tf.repeat(tf.repeat(x, ph, axis=1), pw, axis=2)
        return up / float(ph * pw)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]):
        b, h, w, c = input_shape
        ph, pw = self.pool_size
        return (b, None if h is None else h * ph, None if w is None else w * pw, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}
