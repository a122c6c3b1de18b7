"""The example plugin's own model class: an autoencoder whose code is linear in the input.

This module is imported only when the recipe builds a model, not when the plugin's hooks run:
the usual layout of a plugin with several models. ``gentk.load_model`` imports it itself when
a saved model names it, so a ``model.keras`` written by ``gentk run`` loads in a new process.
It builds on the core's ``EncoderDecoderModel`` (encoder and decoder, their serialization, the
train/test steps, loss trackers and the multi-worker contract) and on no other plugin.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from gentk.api import EncoderDecoderModel, unpack_x

__all__ = ["LinearAutoencoder"]


@keras.saving.register_keras_serializable(package="gentk_example_plugin")
class LinearAutoencoder(EncoderDecoderModel):
    """An encoder and decoder trained to reconstruct (the encoder's point mass is the code),
    reporting the code's share of the input variance.

    Args:
        encoder: a linear ``Encoder`` (or its serialized config).
        decoder: a ``Decoder`` (or its serialized config).
    """

    loss_names = ("loss", "mse")

    def compute_losses(self, data: Any, training: bool = False):
        """-log p(x | code) (the decoder's likelihood) and the reconstruction's squared error."""
        x = tf.cast(unpack_x(data), tf.float32)
        px = self.decoder(self.encoder(x, training=training).mean(), training=training)
        return {
            "loss": -tf.reduce_mean(px.log_prob(x)),
            "mse": tf.reduce_mean(tf.square(x - px.mean())),
        }

    def explained_variance(self, x: tf.Tensor):
        """Variance of the reconstruction over variance of ``x`` (1.0: nothing lost)."""
        import numpy as np

        x = np.asarray(x, dtype="float32")
        recon = np.asarray(self(x))
        return float(np.var(recon) / max(float(np.var(x)), 1e-12))
