"""Likelihood objectives: the (beta-weighted) ELBO, the IWAE bound and the multinomial term."""

from __future__ import annotations

__all__ = ["elbo", "iwae_bound", "multinomial_log_likelihood"]


def elbo(log_likelihood, kl, beta=1.0):
    """ELBO_beta = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)), per example.

    With beta = 1 this is the evidence lower bound: ELBO <= log p(x).
    """
    return log_likelihood - beta * kl


def iwae_bound(log_weights):
    """The importance-weighted bound from ``[K, B]`` log weights log p(x, z_k) - log q(z_k|x).

    L_K = log (1/K) sum_k w_k. L_1 is the ELBO, L_K is non-decreasing in K and tends to
    log p(x) (Burda, Grosse and Salakhutdinov, 2016).
    """
    import tensorflow as tf

    k = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k)


def multinomial_log_likelihood(logits, x):
    """sum_i x_i log softmax(logits)_i per row, for dense ``x`` or a ``tf.SparseTensor``.

    This is ``tfd.Multinomial(total_count=sum(x), logits=logits).log_prob(x)`` without the
    log multinomial coefficient, which does not depend on the model (Liang et al., 2018, eq. 2).
    A sparse ``x`` is never densified: only the log-probabilities at its entries are gathered.
    """
    import tensorflow as tf

    log_probs = tf.nn.log_softmax(logits, axis=-1)
    if isinstance(x, tf.SparseTensor):
        picked = tf.gather_nd(log_probs, x.indices) * tf.cast(x.values, log_probs.dtype)
        return tf.math.unsorted_segment_sum(picked, x.indices[:, 0], tf.shape(logits)[0])
    return tf.reduce_sum(log_probs * tf.cast(x, log_probs.dtype), axis=-1)
