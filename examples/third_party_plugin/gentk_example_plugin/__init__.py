"""An example third-party gentk plugin: a decoder, an adversarial divergence and a model recipe.

Everything here uses gentk's public API only: ``gentk.hookimpl``, the interfaces, the
``ImageRecipe`` base and the registry (to reuse the built-in ``mlp`` encoder by name).
"""

from __future__ import annotations

import dataclasses

from gentk import hookimpl


@dataclasses.dataclass
class TanhDecoderOptions:
    output_shape: tuple[int, ...] = dataclasses.field(
        default=(8, 8, 1), metadata={"help": "data shape"}
    )
    hidden: tuple[int, ...] = dataclasses.field(default=(64,), metadata={"help": "widths"})


def _decoder_class():
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    from gentk.interfaces import Decoder

    @keras.saving.register_keras_serializable(package="gentk_example_plugin")
    class TanhMLPDecoder(Decoder):
        """A tanh MLP with a unit-variance Gaussian likelihood."""

        def __init__(self, output_shape=(8, 8, 1), hidden=(64,), **kwargs):
            super().__init__(**kwargs)
            self.event_shape = tuple(int(s) for s in output_shape)
            self.hidden = tuple(int(h) for h in hidden)
            self.body = [keras.layers.Dense(h, activation="tanh") for h in self.hidden]
            size = 1
            for s in self.event_shape:
                size *= s
            self.head = keras.layers.Dense(size, dtype="float32")

        def build(self, z_shape):
            width = int(z_shape[-1])
            for layer in self.body:
                layer.build((None, width))
                width = layer.units
            self.head.build((None, width))

        def call(self, z, condition=None, training=False):
            h = z
            for layer in self.body:
                h = layer(h)
            loc = tf.reshape(self.head(h), (-1, *self.event_shape))
            return tfp.distributions.Independent(
                tfp.distributions.Normal(loc, 1.0), len(self.event_shape)
            )

        def get_config(self):
            return {**super().get_config(), "output_shape": self.event_shape, "hidden": self.hidden}

    return TanhMLPDecoder


@hookimpl
def register_components(register):
    import numpy as np

    divergence = _divergence_class()
    register(
        "divergence",
        "symmetric-least-squares",
        divergence,
        help="Example plugin: LSGAN with targets (-1, 1, 0)",
        example=lambda: (
            divergence(),
            tuple(np.random.default_rng(0).normal(size=(2, 6)).astype("float32")),
        ),
    )
    cls = _decoder_class()
    register(
        "decoder",
        "tanh-mlp",
        cls,
        config=TanhDecoderOptions,
        help="Example plugin: tanh MLP decoder with a unit Gaussian likelihood",
        example=lambda: (
            cls(hidden=(8,)),
            (np.random.default_rng(0).normal(size=(3, 2)).astype("float32"),),
        ),
    )


class SymmetricLeastSquares:
    """LSGAN with targets (a, b, c) = (-1, 1, 0) (Mao et al., 2017, eq. 8): the critic pushes
    real scores to 1 and fake to -1; the generator pulls fake scores to 0. Any GAN recipe takes
    it: ``gentk run dcgan --set divergence=symmetric-least-squares``."""

    supports = ("adversarial",)

    def critic_loss(self, real_scores, fake_scores):
        import tensorflow as tf

        return 0.5 * tf.reduce_mean(tf.square(real_scores - 1.0)) + 0.5 * tf.reduce_mean(
            tf.square(fake_scores + 1.0)
        )

    def generator_loss(self, fake_scores):
        import tensorflow as tf

        return 0.5 * tf.reduce_mean(tf.square(fake_scores))

    def get_config(self):
        return {}


def _divergence_class():
    from gentk.interfaces import Divergence

    return type("SymmetricLeastSquares", (SymmetricLeastSquares, Divergence), {})


@hookimpl
def register_models(register):
    from gentk.image_recipe import ImageRecipe

    class LinearAutoencoderRecipe(ImageRecipe):
        name = "linear-autoencoder"
        help = "Example plugin: a linear autoencoder (spans the PCA subspace)"

        def build(self, config, data):
            from gentk_example_plugin.model import LinearAutoencoder  # imported on demand

            encoder = self.component(
                "encoder",
                "mlp",
                latent_dim=config.latent_dim,
                hidden=(),
                distribution="deterministic",
            )
            decoder = self.component(
                "decoder",
                "tanh-mlp",
                output_shape=data.shape,
                hidden=tuple(reversed(config.hidden)),
            )
            return LinearAutoencoder(encoder, decoder, name="linear_autoencoder")

    register(LinearAutoencoderRecipe())
