"""The vector quantiser (straight-through, codebook/commitment losses, EMA, dead-code restarts)
and the masked convolution of the PixelCNN prior.

#### Mathematical details

For encoder outputs z_e (one D-vector per grid cell) and codebook e_1..e_K:

    k(z) = argmin_k ||z_e - e_k||^2,   z_q = e_{k(z)},
    forward z_e + sg(z_q - z_e) = z_q,   backward dz_q/dz_e = I       (straight-through)
    codebook = ||sg(z_e) - z_q||^2,   commitment = ||z_e - sg(z_q)||^2,

summed over the cells and D per image (van den Oord et al., "Neural Discrete Representation
Learning", 2017). With ``ema`` the codebook is not trained by gradient: it follows exponential
moving averages of the counts N_k and sums m_k of the vectors assigned to each code,
e_k = m_k / N_k (N_k Laplace-smoothed), and the codebook loss is dropped. A code unused for
``restart_after`` consecutive updates is restarted at a random encoder output of the batch.
Perplexity exp(-sum_k p_k log p_k) of the code frequencies p measures how many codes are used.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from gentk.api import from_first_replica, replica_sum

__all__ = ["VectorQuantizer", "MaskedConv2D", "code_statistics"]


def code_statistics(indices: tf.Tensor, num_codes: int):
    """(perplexity, fraction of codes used) of a batch of code indices."""
    counts = tf.math.bincount(
        tf.cast(tf.reshape(indices, [-1]), tf.int32), minlength=num_codes, maxlength=num_codes
    )
    p = tf.cast(counts, tf.float32) / tf.cast(tf.reduce_sum(counts), tf.float32)
    entropy = -tf.reduce_sum(tf.where(p > 0, p * tf.math.log(tf.maximum(p, 1e-12)), 0.0))
    return tf.exp(entropy), tf.reduce_mean(tf.cast(counts > 0, tf.float32))


@keras.saving.register_keras_serializable(package="gentk_vqvae")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-codebook quantisation of the last axis.

    ``call(z_e, training)`` returns ``(z_st, indices, codebook_loss, commitment_loss)``
    with the losses per example (summed over cells and D).

    Args:
        num_codes: K.
        code_dim: D, the size of each code vector.
        ema: update the codebook by exponential moving averages instead of gradients.
        decay: EMA decay.
        restart_after: updates a code may go unused before it is restarted (0: never).
        seed: seed of the restarts.
    """

    def __init__(
        self,
        num_codes: int = 64,
        code_dim: int = 16,
        ema: bool = False,
        decay: float = 0.99,
        restart_after: int = 100,
        seed: int = 0,
        **kw,
    ):
        super().__init__(**kw)
        self.num_codes = int(num_codes)
        self.code_dim = int(code_dim)
        self.ema = bool(ema)
        self.decay = float(decay)
        self.restart_after = int(restart_after)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape: tuple[int | None, ...]):
        init = keras.initializers.RandomUniform(-1.0 / self.num_codes, 1.0 / self.num_codes)
        self.codebook = self.add_weight(
            shape=(self.num_codes, self.code_dim),
            initializer=init,
            trainable=not self.ema,
            name="codebook",
        )
        self.unused = self.add_weight(
            shape=(self.num_codes,), initializer="zeros", trainable=False, name="unused_steps"
        )
        if self.ema:
            self.ema_count = self.add_weight(
                shape=(self.num_codes,), initializer="ones", trainable=False, name="ema_count"
            )
            self.ema_sum = self.add_weight(
                shape=(self.num_codes, self.code_dim),
                initializer=init,
                trainable=False,
                name="ema_sum",
            )

    def nearest(self, flat: tf.Tensor):
        """Index of the nearest code for each row of ``flat`` [N, D]."""
        flat = tf.cast(flat, tf.float32)  # an encoder computing in 16 bits: distances in 32
        c = tf.convert_to_tensor(self.codebook)
        d = (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, c, transpose_b=True)
            + tf.reduce_sum(c**2, axis=1)[None, :]
        )
        return tf.argmin(d, axis=1, output_type=tf.int32)

    def nearest_grid(self, z_e: tf.Tensor):
        """Code indices of ``z_e`` [..., D], shaped like ``z_e`` without its last axis."""
        idx = self.nearest(tf.reshape(z_e, (-1, self.code_dim)))
        return tf.reshape(idx, tf.shape(z_e)[:-1])

    def lookup(self, indices: tf.Tensor):
        """Code vectors for integer ``indices`` of any shape (shape + [D])."""
        return tf.gather(tf.convert_to_tensor(self.codebook), tf.cast(indices, tf.int32))

    def _update(self, flat, idx):
        # counts and sums over the global batch under tf.distribute: every replica makes the
        # same codebook update (gentk.replicas)
        onehot = tf.one_hot(idx, self.num_codes, dtype=flat.dtype)
        used = replica_sum(tf.reduce_sum(onehot, axis=0))
        if self.ema:
            count = self.decay * self.ema_count + (1 - self.decay) * used
            sums = self.decay * self.ema_sum + (1 - self.decay) * replica_sum(
                tf.matmul(onehot, flat, transpose_a=True)
            )
            n = tf.reduce_sum(count)
            smoothed = (count + 1e-5) / (n + self.num_codes * 1e-5) * n
            self.ema_count.assign(count)
            self.ema_sum.assign(sums)
            self.codebook.assign(sums / smoothed[:, None])
        unused = tf.where(used > 0, 0.0, self.unused + 1.0)
        if self.restart_after > 0:
            dead = unused >= float(self.restart_after)
            pick = keras.random.randint(
                (self.num_codes,), 0, tf.shape(flat)[0], seed=self.seed_generator
            )
            fresh = from_first_replica(tf.gather(flat, pick))
            self.codebook.assign(tf.where(dead[:, None], fresh, self.codebook))
            if self.ema:
                self.ema_sum.assign(tf.where(dead[:, None], fresh, self.ema_sum))
                self.ema_count.assign(tf.where(dead, 1.0, self.ema_count))
            unused = tf.where(dead, 0.0, unused)
        self.unused.assign(unused)

    def call(self, z_e: tf.Tensor, training: bool = False):
        shape = tf.shape(z_e)
        flat = tf.reshape(z_e, (-1, self.code_dim))
        idx = self.nearest(flat)
        z_q = tf.reshape(self.lookup(idx), shape)
        axes = list(range(1, len(z_e.shape)))
        codebook = tf.reduce_sum(tf.square(tf.stop_gradient(z_e) - z_q), axis=axes)
        commitment = tf.reduce_sum(tf.square(z_e - tf.stop_gradient(z_q)), axis=axes)
        if self.ema:
            codebook = tf.zeros_like(codebook)
        if training:
            self._update(tf.stop_gradient(flat), idx)
        z_st = z_e + tf.stop_gradient(z_q - z_e)
        return z_st, tf.reshape(idx, shape[:-1]), codebook, commitment

    def get_config(self):
        return {
            **super().get_config(),
            "num_codes": self.num_codes,
            "code_dim": self.code_dim,
            "ema": self.ema,
            "decay": self.decay,
            "restart_after": self.restart_after,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="gentk_vqvae")
class MaskedConv2D(keras.layers.Layer):
    """A 'same' convolution whose kernel only sees cells before the centre in raster order
    (type ``A``) or before and at it (type ``B``): output (i, j) depends on inputs (i', j')
    with i' < i, or i' = i and j' < j (A) / j' <= j (B) (van den Oord et al., "Pixel
    Recurrent Neural Networks", 2016)."""

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        mask_type: str = "B",
        activation: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"`mask_type` must be A or B. Received: {mask_type!r}")
        if int(kernel_size) % 2 != 1:
            raise ValueError(f"`kernel_size` must be odd. Received: {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.mask_type = mask_type
        self.activation = keras.activations.get(activation)

    def build(self, input_shape: tuple[int | None, ...]):
        k, c = self.kernel_size, int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(k, k, c, self.filters), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        centre = k // 2
        mask = [[0.0] * k for _ in range(k)]
        for i in range(k):
            for j in range(k):
                before = i < centre or (i == centre and j < centre)
                mask[i][j] = (
                    1.0 if before or (self.mask_type == "B" and (i, j) == (centre,) * 2) else 0.0
                )
        self.mask = tf.constant(mask, shape=(k, k, 1, 1))

    def call(self, x: tf.Tensor):
        dtype = x.dtype  # the compute dtype under mixed precision (the weights are float32)
        kernel = tf.cast(self.kernel, dtype) * tf.cast(self.mask, dtype)
        y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + tf.cast(self.bias, dtype)
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "mask_type": self.mask_type,
            "activation": keras.activations.serialize(self.activation),
        }
