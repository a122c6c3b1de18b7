"""KL: the closed form agrees with a Monte-Carlo estimate within its standard error."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.objectives import kl_divergence, monte_carlo_kl

tfd = tfp.distributions


def test_closed_form_gaussian_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3, 4)).astype("float32")
    sd = rng.uniform(0.3, 2.0, size=(3, 4)).astype("float32")
    q = tfd.MultivariateNormalDiag(mu, sd)
    p = tfd.MultivariateNormalDiag(np.zeros(4, "float32"), np.ones(4, "float32"))
    exact = kl_divergence(q, p).numpy()
    by_hand = 0.5 * np.sum(sd**2 + mu**2 - 1 - np.log(sd**2), axis=1)
    np.testing.assert_allclose(exact, by_hand, rtol=1e-5)
    z = q.sample(200_000, seed=tf.constant([1, 2]))
    terms = (q.log_prob(z) - p.log_prob(z)).numpy()
    stderr = terms.std(axis=0) / np.sqrt(len(terms))
    mc = monte_carlo_kl(q, p, z=z).numpy()
    assert np.all(np.abs(mc - exact) < 4 * stderr), (mc, exact, stderr)


def test_falls_back_to_monte_carlo_when_tfp_has_no_closed_form():
    q = tfd.Independent(tfd.Logistic(np.zeros(2, "float32"), 1.0), 1)
    p = tfd.MultivariateNormalDiag(np.zeros(2, "float32"), np.ones(2, "float32"))
    est = kl_divergence(q, p, num_samples=50_000, seed=tf.constant([3, 4])).numpy()
    # KL(Logistic(0,1) || N(0,1)) per dim = -H(logistic) - E[log N] = -2 + 0.5 log 2pi + pi^2/6
    per_dim = -2.0 + 0.5 * np.log(2 * np.pi) + np.pi**2 / 6
    np.testing.assert_allclose(est, 2 * per_dim, atol=0.05)
