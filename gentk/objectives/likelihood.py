"""Likelihood objectives: the (beta-weighted) ELBO, the IWAE bound and the multinomial term
(full, or a sampled softmax with the log-Q correction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = [
    "elbo",
    "iwae_bound",
    "multinomial_log_likelihood",
    "sampled_multinomial_log_likelihood",
]


def elbo(log_likelihood: tf.Tensor, kl: tf.Tensor, beta: float | tf.Tensor = 1.0):
    """ELBO_beta = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)), per example.

    With beta = 1 this is the evidence lower bound: ELBO <= log p(x).
    """
    return log_likelihood - beta * kl


def iwae_bound(log_weights: tf.Tensor):
    """The importance-weighted bound from ``[K, B]`` log weights log p(x, z_k) - log q(z_k|x).

    L_K = log (1/K) sum_k w_k. L_1 is the ELBO, L_K is non-decreasing in K and tends to
    log p(x) (Burda, Grosse and Salakhutdinov, 2016).
    """
    import tensorflow as tf

    k = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k)


def multinomial_log_likelihood(logits: tf.Tensor, x: tf.Tensor | tf.SparseTensor):
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


def sampled_multinomial_log_likelihood(
    hidden: tf.Tensor,
    kernel: tf.Tensor | keras.Variable,
    bias: tf.Tensor | keras.Variable,
    x: tf.Tensor | tf.SparseTensor,
    sampled: tf.Tensor,
    log_q: tf.Tensor,
    *,
    items_first: bool = False,
) -> tf.Tensor:
    """Sampled-softmax estimate of ``multinomial_log_likelihood(hidden @ kernel + bias, x)``
    that computes logits only for the batch's positives and ``S`` sampled items.

    Each positive (row u, item i) is scored against the shared sample ``sampled`` ``[S]``
    (drawn with replacement from a proposal q, ``log_q`` ``[I]``). The sampled logits are
    corrected by the log of their expected count in the sample, ``log(S q_j)`` (the log-Q
    correction; Bengio and Senecal, 2008; Jean et al., 2015), so that their exponentials sum
    to an importance estimate of the partition function over the other items; sampled copies
    of the positive itself ("accidental hits") are removed and the positive enters with its
    own logit:

        log pi_ui ~ l_ui - log(exp(l_ui) + sum_{s: j_s != i} exp(l_{u j_s} - log(S q_{j_s})))

    a consistent estimate of ``log softmax(l_u)_i`` (exact when q is uniform and the sample is
    the whole catalogue once).
    ``x`` is dense ``[B, I]`` or a ``tf.SparseTensor``; ``kernel`` is ``[H, I]``, or ``[I, H]``
    with ``items_first=True``: then every lookup gathers rows, so the gradients to ``kernel``
    and ``bias`` are ``tf.IndexedSlices`` over the positives and the sample (a column gather's
    gradient is a dense ``[H, I]``), which an optimizer such as ``LazyAdam`` applies at the
    cost of the rows touched. Variables are read row by row (``gather_rows``).
    """
    import tensorflow as tf

    from gentk.training.optimizers import gather_rows

    if isinstance(x, tf.SparseTensor):
        pairs, weights = x.indices, tf.cast(x.values, hidden.dtype)
    else:
        pairs = tf.where(x > 0)
        weights = tf.cast(tf.gather_nd(x, pairs), hidden.dtype)
    rows, items = pairs[:, 0], pairs[:, 1]
    log_count = tf.math.log(tf.cast(tf.size(sampled), hidden.dtype)) + tf.gather(log_q, sampled)
    h = tf.gather(hidden, rows)  # [P, H]
    if items_first:
        true = tf.reduce_sum(h * gather_rows(kernel, items), axis=1)
        negatives = tf.matmul(hidden, gather_rows(kernel, sampled), transpose_b=True)
    else:
        true = tf.reduce_sum(h * tf.transpose(tf.gather(kernel, items, axis=1)), axis=1)
        negatives = hidden @ tf.gather(kernel, sampled, axis=1)
    true = true + gather_rows(bias, items)  # [P]: the positive's own logit
    negatives = negatives + gather_rows(bias, sampled)
    negatives = tf.gather(negatives - log_count, rows)  # [P, S]
    hit = tf.equal(items[:, None], tf.cast(sampled, items.dtype)[None, :])
    negatives = tf.where(hit, tf.constant(-float("inf"), hidden.dtype), negatives)
    log_pi = true - tf.reduce_logsumexp(tf.concat([true[:, None], negatives], axis=1), axis=1)
    return tf.math.unsorted_segment_sum(weights * log_pi, rows, tf.shape(hidden)[0])
