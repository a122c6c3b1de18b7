"""The distribution heads that several plugins' components share: q(z|x) from an encoder's
outputs (``latent_distribution``) and p(x|z) over pixels or vector entries
(``pixel_likelihood``: Bernoulli, fixed- or learned-scale Gaussian, 8-bit discretised
logistic), each a TFP distribution whose event is one example."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from gentk.distributions.discretized import DiscretizedLogistic

tfd = tfp.distributions

__all__ = [
    "LEARNED_SCALE",
    "LIKELIHOODS",
    "MIN_LOG_SCALE",
    "latent_distribution",
    "pixel_likelihood",
]

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned", "discretized-logistic")
LEARNED_SCALE = ("gaussian-learned", "discretized-logistic")


def latent_distribution(params: tf.Tensor, kind: str):
    """q(z|x) from head outputs: ``gaussian`` splits [loc, raw scale]; ``deterministic`` is a
    point mass at ``params``."""
    params = tf.cast(params, tf.float32)
    if kind == "deterministic":
        return tfd.Independent(tfd.Deterministic(params), reinterpreted_batch_ndims=1)
    loc, raw = tf.split(params, 2, axis=-1)
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw) + 1e-5)


MIN_LOG_SCALE = -7.0


def _learned_scale(log_scale):
    """exp(log_scale) floored at exp(-7) (as PixelCNN++): on pixels that never vary (digits'
    blank borders) the likelihood would otherwise shrink the scale towards 0 until it overflows."""
    return tf.exp(tf.maximum(tf.cast(log_scale, tf.float32), MIN_LOG_SCALE))


def pixel_likelihood(
    params: tf.Tensor, kind: str, sigma: float = 1.0, log_scale: tf.Tensor | float | None = None
):
    """p(x|z) with event shape ``params.shape[1:]``.

    ``bernoulli``: logits; ``gaussian``: mean with fixed ``sigma``, so -log p is
    ||x - mu||^2 / (2 sigma^2) + const; ``gaussian-learned``: mean with per-pixel learned
    ``log_scale`` (floored at -7); ``discretized-logistic``: 8-bit pixels (256 levels in
    [0, 1]) under a logistic of learned per-pixel scale, so -log p is a code length in nats."""
    params = tf.cast(params, tf.float32)
    ndims = len(params.shape) - 1
    if kind == "bernoulli":
        base = tfd.Bernoulli(logits=params, dtype=tf.float32)
    elif kind == "gaussian":
        base = tfd.Normal(loc=params, scale=tf.cast(sigma, tf.float32))
    elif kind == "discretized-logistic":
        base = DiscretizedLogistic(
            loc=params, scale=_learned_scale(log_scale) * tf.ones_like(params)
        )
    else:
        base = tfd.Normal(loc=params, scale=_learned_scale(log_scale))
    return tfd.Independent(base, reinterpreted_batch_ndims=ndims)
