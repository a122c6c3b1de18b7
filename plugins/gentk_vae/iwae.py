"""The importance-weighted autoencoder: ``IWAE`` (a ``keras.Model``) (its ``iwae`` recipe is in
``gentk_vae.recipe``).

#### Mathematical details

With K draws z_1..z_K ~ q(z|x) and weights w_k = p(x, z_k) / q(z_k|x), the IWAE trains on

    L_K(x) = E[log (1/K) sum_k w_k],   ELBO = L_1 <= L_K <= L_{K+1} <= log p(x),

so a larger K gives a tighter bound and a posterior approximation that need not cover the whole
posterior (Burda, Grosse and Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016).
The gradient is the self-normalised weighted average of the K reparameterised gradients.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from gentk.api import iwae_bound, kl_divergence, unpack_x
from gentk_vae.model import VAE

__all__ = ["IWAE"]


@keras.saving.register_keras_serializable(package="gentk_vae")
class IWAE(VAE):
    """A VAE trained on the K-sample importance-weighted bound; ``n_samples`` is K."""

    loss_names = ("loss", "iwae_bound", "elbo", "kl")

    def __init__(self, encoder: keras.Model, decoder: keras.Model, n_samples: int = 5, **kwargs):
        if kwargs.get("gradient_estimator", "reparameterization") != "reparameterization":
            raise ValueError("IWAE trains with reparameterised gradients only")
        super().__init__(encoder, decoder, n_samples=n_samples, **kwargs)

    def compute_losses(self, data: Any, training: bool = False):
        x = tf.cast(unpack_x(data), tf.float32)
        q, z, log_lik = self._terms(x, training, self.n_samples)
        log_w = log_lik + self.prior().log_prob(z) - q.log_prob(z)
        bound = iwae_bound(log_w)
        return {
            "loss": -tf.reduce_mean(bound),
            "iwae_bound": tf.reduce_mean(bound),
            "elbo": tf.reduce_mean(log_w),
            "kl": tf.reduce_mean(kl_divergence(q, self.prior(), z=z)),
        }
