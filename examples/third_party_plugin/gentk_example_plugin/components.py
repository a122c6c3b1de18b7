"""The example plugin's components: a tanh MLP decoder and an adversarial divergence.

Imported only when one of them is used (the hooks register them as ``"module:Class"``
strings), so ``gentk plugins`` lists them without importing TensorFlow.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import Bijector, Decoder, Divergence

__all__ = ["Householder", "SymmetricLeastSquares", "TanhMLPDecoder"]


@keras.saving.register_keras_serializable(package="gentk_example_plugin")
class TanhMLPDecoder(Decoder):
    """A tanh MLP with a unit-variance Gaussian likelihood."""

    def __init__(
        self,
        output_shape: tuple[int, int, int] = (8, 8, 1),
        hidden: tuple[int, ...] = (64,),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(s) for s in output_shape)
        self.hidden = tuple(int(h) for h in hidden)
        self.body = [keras.layers.Dense(h, activation="tanh") for h in self.hidden]
        size = 1
        for s in self.event_shape:
            size *= s
        self.head = keras.layers.Dense(size, dtype="float32")

    def build(self, z_shape: tuple[int | None, ...]):
        width = int(z_shape[-1])
        for layer in self.body:
            layer.build((None, width))
            width = layer.units
        self.head.build((None, width))

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = z
        for layer in self.body:
            h = layer(h)
        loc = tf.reshape(self.head(h), (-1, *self.event_shape))
        return tfp.distributions.Independent(
            tfp.distributions.Normal(loc, 1.0), len(self.event_shape)
        )

    def get_config(self):
        return {**super().get_config(), "output_shape": self.event_shape, "hidden": self.hidden}


class SymmetricLeastSquares(Divergence):
    """LSGAN with targets (a, b, c) = (-1, 1, 0) (Mao et al., 2017, eq. 8): the critic pushes
    real scores to 1 and fake to -1; the generator pulls fake scores to 0. Any GAN recipe takes
    it: ``gentk run dcgan --set divergence=symmetric-least-squares``."""

    supports = ("adversarial",)

    def critic_loss(self, real_scores: tf.Tensor, fake_scores: tf.Tensor):
        return 0.5 * tf.reduce_mean(tf.square(real_scores - 1.0)) + 0.5 * tf.reduce_mean(
            tf.square(fake_scores + 1.0)
        )

    def generator_loss(self, fake_scores: tf.Tensor):
        return 0.5 * tf.reduce_mean(tf.square(fake_scores))

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="gentk_example_plugin")
class Householder(Bijector):
    """A learned Householder reflection ``z - 2 v (v . z) / |v|^2``: orthogonal, so its
    log-determinant is 0. Any flow recipe takes it:
    ``gentk run realnvp --set bijectors=affine-coupling,householder``."""

    def __init__(self, dim: int = 2, condition_dim: int = 0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.condition_dim, self.seed = int(dim), int(condition_dim), int(seed)
        self.v = self.add_weight(
            shape=(self.dim,), initializer=keras.initializers.RandomNormal(seed=self.seed),
            name="v",
        )  # fmt: skip
        self.built = True

    def __call__(self, condition: tf.Tensor | None = None, **kwargs):
        return self.call(condition)

    def call(self, condition: tf.Tensor | None = None):
        reflection = tf.linalg.LinearOperatorHouseholder(self.v)
        return tfp.bijectors.ScaleMatvecLinearOperator(reflection)

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "condition_dim": self.condition_dim,
            "seed": self.seed,
        }
