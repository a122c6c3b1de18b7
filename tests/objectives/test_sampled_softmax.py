"""The sampled multinomial likelihood: exactly the full softmax when the sample is the whole
catalogue under a uniform proposal, accidental hits removed, sparse = dense, and close to the
full value with many samples from a non-uniform proposal."""

import numpy as np
import tensorflow as tf

from gentk.objectives import multinomial_log_likelihood, sampled_multinomial_log_likelihood


def _problem(seed=0, users=6, items=12, width=5):
    rng = np.random.default_rng(seed)
    hidden = tf.constant(rng.normal(size=(users, width)), tf.float64)
    kernel = tf.constant(rng.normal(size=(width, items)), tf.float64)
    bias = tf.constant(rng.normal(size=items), tf.float64)
    x = (rng.random((users, items)) < 0.3).astype("float64")
    x[:, 0] = 1.0  # every user has a positive
    return hidden, kernel, bias, tf.constant(x)


def test_the_whole_catalogue_under_a_uniform_proposal_is_the_full_softmax():
    hidden, kernel, bias, x = _problem()
    items = int(x.shape[1])
    full = multinomial_log_likelihood(hidden @ kernel + bias, x)
    log_q = tf.fill([items], tf.constant(-np.log(items), tf.float64))
    sampled = sampled_multinomial_log_likelihood(
        hidden, kernel, bias, x, tf.range(items, dtype=tf.int64), log_q
    )
    np.testing.assert_allclose(sampled.numpy(), full.numpy(), rtol=1e-10)
    sparse = sampled_multinomial_log_likelihood(
        hidden, kernel, bias, tf.sparse.from_dense(x), tf.range(items, dtype=tf.int64), log_q
    )
    np.testing.assert_allclose(sparse.numpy(), full.numpy(), rtol=1e-10)


def test_a_sample_of_the_positive_alone_gives_log_one():
    """Every sampled copy of the positive is an accidental hit: the softmax has one term."""
    hidden, kernel, bias, _ = _problem()
    x = np.zeros((6, 12))
    x[:, 3] = 1.0
    log_q = tf.math.log(tf.constant(np.full(12, 1 / 12)))
    out = sampled_multinomial_log_likelihood(
        hidden, kernel, bias, tf.constant(x), tf.constant([3, 3, 3], tf.int64), log_q
    )
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-12)


def test_many_samples_from_a_skewed_proposal_approach_the_full_value():
    hidden, kernel, bias, x = _problem(seed=1, items=40)
    full = multinomial_log_likelihood(hidden @ kernel + bias, x).numpy()
    q = np.random.default_rng(2).random(40) ** 2 + 0.05
    q /= q.sum()
    ids = tf.random.stateless_categorical(np.log(q)[None, :], 20000, seed=[1, 2])[0]
    out = sampled_multinomial_log_likelihood(
        hidden, kernel, bias, x, ids, tf.constant(np.log(q))
    ).numpy()
    np.testing.assert_allclose(out, full, rtol=0.02)
