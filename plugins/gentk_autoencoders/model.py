"""The deterministic autoencoder: ``Autoencoder`` (a ``keras.Model``) and its ``gentk run`` recipe.

#### Mathematical details

    z = f(x),  loss = -log p(x | g(z))

With the fixed-sigma Gaussian likelihood the loss is ||x - g(z)||^2 / (2 sigma^2) + const;
with Bernoulli it is the binary cross-entropy. A linear encoder and decoder trained with squared
error span the principal subspace of the data (Baldi and Hornik, 1989).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from gentk.image_recipe import ImageRecipe
from gentk.models import GenerativeModel, unpack_x

__all__ = ["Autoencoder", "AutoencoderRecipe"]


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class Autoencoder(GenerativeModel):
    """An encoder and decoder trained to reconstruct; the encoder's point mass is the code.

    Args:
        encoder: an ``Encoder`` layer (or its serialized config).
        decoder: a ``Decoder`` layer (or its serialized config).
    """

    loss_names = ("loss", "mse")

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if isinstance(decoder, dict):
            decoder = keras.saving.deserialize_keras_object(decoder)
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x):
        return self.encoder(x).mean()

    def decode(self, z):
        return self.decoder(z).mean()

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training).mean(), training=training).mean()

    def compute_losses(self, data, training=False):
        x = tf.cast(unpack_x(data), tf.float32)
        px = self.decoder(self.encoder(x, training=training).mean(), training=training)
        nll = -tf.reduce_mean(px.log_prob(x))
        mse = tf.reduce_mean(tf.square(x - px.mean()))
        return {"loss": nll, "mse": mse}

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }


class AutoencoderRecipe(ImageRecipe):
    name = "autoencoder"
    help = "Deterministic autoencoder (MLP or strided-conv), squared-error or Bernoulli loss"

    def build(self, config, data):
        encoder = self.component(
            "encoder", config.encoder, distribution="deterministic", **self.encoder_options(config)
        )
        decoder = self.component(
            "decoder", config.decoder, **self.decoder_options(config, data.shape)
        )
        return Autoencoder(encoder, decoder, name="autoencoder")
