"""The example plugin's own model class: an autoencoder whose code is linear in the input.

This module is imported only when the recipe builds a model, not when the plugin's hooks run:
the usual layout of a plugin with several models. ``gentk.load_model`` imports it itself when
a saved model names it, so a ``model.keras`` written by ``gentk run`` loads in a new process.
"""

from __future__ import annotations

import keras
from gentk_autoencoders.model import Autoencoder

__all__ = ["LinearAutoencoder"]


@keras.saving.register_keras_serializable(package="gentk_example_plugin")
class LinearAutoencoder(Autoencoder):
    """An ``Autoencoder`` that also reports the code's share of the input variance.

    Args:
        encoder: a linear ``Encoder`` (or its serialized config).
        decoder: a ``Decoder`` (or its serialized config).
    """

    def explained_variance(self, x):
        """Variance of the reconstruction over variance of ``x`` (1.0: nothing lost)."""
        import numpy as np

        x = np.asarray(x, dtype="float32")
        recon = np.asarray(self(x))
        return float(np.var(recon) / max(float(np.var(x)), 1e-12))
