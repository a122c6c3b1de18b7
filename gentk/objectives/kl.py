"""KL divergence between distributions: TFP's analytic KL, with a named Monte-Carlo fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf
    from tensorflow_probability import distributions as tfd

__all__ = ["kl_divergence", "monte_carlo_kl", "standard_normal"]


def monte_carlo_kl(
    q: tfd.Distribution,
    p: tfd.Distribution,
    *,
    z: tf.Tensor | None = None,
    num_samples: int = 1,
    seed: int | None = None,
):
    """Monte-Carlo KL(q || p) = E_q[log q(z) - log p(z)], averaged over ``num_samples`` draws.

    Args:
        q, p: distributions with the same event shape.
        z: samples of q to use (``[num_samples, B, ...]`` or ``[B, ...]``); drawn when None.
        num_samples: draws when ``z`` is None.
        seed: a stateless seed (int32[2]) for the draws.

    Returns:
        ``[B]`` estimates.
    """
    import tensorflow as tf

    if z is None:
        z = q.sample(num_samples, seed=seed)
    diff = q.log_prob(z) - p.log_prob(z)
    if len(diff.shape) > len(q.batch_shape):
        diff = tf.reduce_mean(diff, axis=0)
    return diff


def kl_divergence(
    q: tfd.Distribution,
    p: tfd.Distribution,
    *,
    z: tf.Tensor | None = None,
    num_samples: int = 1,
    seed: tf.Tensor | None = None,
):
    """KL(q || p): analytic when TFP registers one for the pair, else ``monte_carlo_kl``.

    #### Mathematical details

    For q = N(mu, diag sigma^2) and p = N(0, I):
    KL = 0.5 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2).
    """
    import tensorflow_probability as tfp

    try:
        return tfp.distributions.kl_divergence(q, p)
    except NotImplementedError:
        return monte_carlo_kl(q, p, z=z, num_samples=num_samples, seed=seed)


def standard_normal(latent_dim: int):
    """The N(0, I) prior over ``latent_dim`` dimensions (float32), as a TFP distribution."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    zeros = tf.zeros((latent_dim,), tf.float32)
    return tfp.distributions.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))
