"""The VAE family's equations: discretised likelihood, score-function gradients, KL annealing,
the IWAE objective and the conditional VAE's label paths, each tested as mathematics."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gentk_autoencoders.components import MLPDecoder, MLPEncoder
from gentk_vae.cvae import CVAE
from gentk_vae.iwae import IWAE
from gentk_vae.model import VAE

from gentk.distributions import DiscretizedLogistic
from tests.plugins.test_autoencoder_vae_math import _exact_ppca_log_likelihood, _ppca_data


def test_discretized_logistic_is_a_distribution_over_the_256_levels():
    loc = tf.constant([0.0, 0.3, 0.5, 0.999, 1.2, -0.4])
    scale = tf.constant([0.02, 0.1, 0.0005, 0.01, 0.3, 0.05])
    d = DiscretizedLogistic(loc, scale)
    levels = np.arange(256) / 255.0
    p = np.exp(d.log_prob(levels[:, None]).numpy().astype(np.float64))
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-4)
    # interior bins against the logistic CDF in float64
    from scipy.special import expit

    cdf = lambda v: expit((v - loc.numpy().astype(np.float64)) / scale.numpy())  # noqa: E731
    k = 100 / 255.0
    expected = cdf(k + 0.5 / 255) - cdf(k - 0.5 / 255)
    np.testing.assert_allclose(p[100], expected, rtol=1e-3, atol=1e-12)
    # values between levels are rounded to the nearest level
    np.testing.assert_allclose(
        d.log_prob(tf.fill([6], 100.3 / 255)).numpy(), np.log(p[100]), rtol=1e-4
    )
    s = d.sample(1000, seed=(1, 2)).numpy()
    assert np.allclose(s * 255, np.round(s * 255), atol=1e-3) and s.min() >= 0 and s.max() <= 1


def _linear_vae(estimator):
    keras.utils.set_random_seed(3)
    encoder = MLPEncoder(latent_dim=2, hidden=())
    decoder = MLPDecoder(output_shape=(5,), hidden=(), likelihood="gaussian", sigma=0.5)
    return VAE(encoder, decoder, gradient_estimator=estimator, seed=7)


def _expected_loss(vae, x):
    """-(E_q[log p(x|z)] - KL) in closed form for a linear-Gaussian decoder."""
    q = vae.encoder(x)
    mu, s = q.mean(), q.stddev()
    w, b = vae.decoder.head.kernel, vae.decoder.head.bias
    sigma2 = vae.decoder.sigma**2
    sq = tf.reduce_sum(tf.square(x - (mu @ w + b)), -1) + tf.reduce_sum(
        tf.square(s) @ tf.square(w), -1
    )
    log_lik = -0.5 * x.shape[1] * np.log(2 * np.pi * sigma2) - sq / (2 * sigma2)
    kl = tf.reduce_sum(0.5 * (tf.square(s) + tf.square(mu) - 1) - tf.math.log(s), -1)
    return -tf.reduce_mean(log_lik - kl)


def _gradients(vae, x, repeats):
    weights = vae.encoder.trainable_weights

    @tf.function
    def one():
        with tf.GradientTape() as tape:
            loss = vae.compute_losses(x, training=True)["loss"]
        return tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(loss, weights)], 0)

    return np.array([one().numpy() for _ in range(repeats)])


def test_score_function_and_reparameterised_gradients_agree_with_the_exact_gradient():
    x = tf.constant(_ppca_data(n=32, sigma=0.5, seed=4))
    reparam = _linear_vae("reparameterization")
    score = _linear_vae("score-function")
    reparam(x), score(x)
    score.set_weights(reparam.get_weights())
    with tf.GradientTape() as tape:
        exact_loss = _expected_loss(reparam, x)
    exact = np.concatenate(
        [g.numpy().ravel() for g in tape.gradient(exact_loss, reparam.encoder.trainable_weights)]
    )
    g_rep, g_sf = _gradients(reparam, x, 200), _gradients(score, x, 400)
    for g in (g_rep, g_sf):
        se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
        z = np.abs(g.mean(axis=0) - exact) / (se + 1e-8)
        assert np.all(z < 4.5), f"estimator mean off by {z.max():.1f} standard errors"
    # same expectation; the log-derivative estimator pays for it in variance
    assert g_sf.var(axis=0).sum() > 3 * g_rep.var(axis=0).sum()
    # the loss value is the ELBO's, not the surrogate's
    losses = [score.compute_losses(x, training=True)["loss"].numpy() for _ in range(200)]
    assert abs(np.mean(losses) - exact_loss.numpy()) < 4 * np.std(losses) / np.sqrt(200) + 1e-3


def test_kl_weight_is_annealed_linearly_to_beta():
    vae = VAE(
        MLPEncoder(latent_dim=2, hidden=()),
        MLPDecoder(output_shape=(3,), hidden=()),
        beta=0.5,
        kl_anneal_steps=100,
    )
    vae.compile(optimizer=keras.optimizers.Adam())
    vae(np.zeros((2, 3), "float32"))
    vae.optimizer.build(vae.trainable_variables)
    for step, expected in [(0, 0.0), (40, 0.2), (100, 0.5), (500, 0.5)]:
        vae.optimizer.iterations.assign(step)
        assert float(vae.kl_weight(training=True)) == pytest.approx(expected)
        assert float(vae.kl_weight(training=False)) == pytest.approx(0.5)


def test_iwae_trains_on_a_bound_between_the_elbo_and_the_exact_evidence():
    keras.utils.set_random_seed(0)
    sigma = 0.5
    x = _ppca_data(sigma=sigma)
    decoder = MLPDecoder(output_shape=(5,), hidden=(), likelihood="gaussian", sigma=sigma)
    iwae = IWAE(MLPEncoder(latent_dim=2, hidden=()), decoder, n_samples=5)
    iwae.compile(optimizer=keras.optimizers.Adam(0.02))
    history = iwae.fit(x, batch_size=200, epochs=80, verbose=0)
    assert history.history["iwae_bound"][-1] >= history.history["elbo"][-1]
    w, b = (v.numpy() for v in decoder.head.weights)
    exact = _exact_ppca_log_likelihood(x[:500], w.T, b, sigma).mean()
    xs = x[:500]
    bounds = [
        np.mean([iwae.log_prob(xs, n_samples=k, batch_samples=k).numpy().mean() for _ in range(8)])
        for k in (1, 5, 50)
    ]
    assert bounds[0] <= bounds[1] + 1e-3 <= bounds[2] + 2e-3
    assert bounds[2] <= exact + 0.01 and exact - bounds[2] < 0.05


def _digits():
    from gentk.data import digits

    d = digits()
    return d.x, d.labels


def test_cvae_needs_labels_without_a_classifier_and_not_with_one():
    x, y = _digits()
    x, y = x[:64], y[:64]
    plain = CVAE(MLPEncoder(2, hidden=(16,)), MLPDecoder((8, 8, 1), hidden=(16,)), n_classes=10)
    assert plain({"x": x, "label": y}).shape == x.shape
    with pytest.raises(ValueError, match="no classifier"):
        plain.encode(x)
    both = CVAE(
        MLPEncoder(2, hidden=(16,)),
        MLPDecoder((8, 8, 1), hidden=(16,)),
        n_classes=10,
        classifier_hidden=(32,),
    )
    both({"x": x, "label": y})
    assert both.encode(x).shape == (64, 2) and both(x).shape == x.shape
    # a labelled encoding conditions on the one-hot label, an unlabelled one on r(c|x)
    c = tf.nn.softmax(both.classifier(x))
    np.testing.assert_allclose(
        both.encode(x).numpy(), both.encoder(x, c).mean().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        both.encode(x, y).numpy(),
        both.encoder(x, tf.one_hot(y, 10)).mean().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.slow
def test_cvae_samples_are_recognised_as_the_asked_class():
    from sklearn.linear_model import LogisticRegression

    x, y = _digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, judge = order[:1200], order[1200:]
    keras.utils.set_random_seed(0)
    model = CVAE(
        MLPEncoder(8, hidden=(256, 128)),
        MLPDecoder((8, 8, 1), hidden=(128, 256)),
        n_classes=10,
        classifier_hidden=(128,),
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    data = tf.data.Dataset.from_tensor_slices({"x": x[train], "label": y[train]})
    model.fit(data.shuffle(1200, seed=0).batch(64), epochs=60, verbose=0, shuffle=False)
    # a classifier trained separately, on digits the CVAE never saw
    judge_model = LogisticRegression(max_iter=2000).fit(x[judge].reshape(len(judge), -1), y[judge])
    asked = np.repeat(np.arange(10), 30)
    samples = np.concatenate([model.sample(30, seed=k, label=k).numpy() for k in range(10)])
    accuracy = np.mean(judge_model.predict(samples.reshape(len(samples), -1)) == asked)
    assert accuracy > 0.7, f"class-conditional samples recognised at {accuracy:.2f} (chance 0.1)"
    held_out_accuracy = np.mean(model.predict_label(x[judge]).numpy() == y[judge])
    assert held_out_accuracy > 0.85


@pytest.mark.parametrize("likelihood", ["discretized-logistic", "gaussian-learned"])
def test_learned_scale_likelihoods_train_without_nan_on_blank_borders(likelihood):
    """Digits' borders are always 0: the scale must not collapse until the loss is NaN."""
    x, _ = _digits()
    keras.utils.set_random_seed(0)
    vae = VAE(
        MLPEncoder(2, hidden=(64,)), MLPDecoder((8, 8, 1), hidden=(64,), likelihood=likelihood)
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(x, batch_size=64, epochs=12, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    assert np.all(np.isfinite(vae.log_prob(x[:50], n_samples=20).numpy()))


def test_cvae_fits_on_a_dict_of_arrays_and_survives_save_and_load(tmp_path):
    import gentk

    x, y = _digits()
    keras.utils.set_random_seed(0)
    model = CVAE(MLPEncoder(4, hidden=(16,)), MLPDecoder((8, 8, 1), hidden=(16,)), n_classes=10)
    model.compile(optimizer="adam")
    model.fit({"x": x[:256], "label": y[:256]}, batch_size=64, epochs=1, verbose=0)
    model.save(tmp_path / "cvae.keras")
    loaded = gentk.load_model(tmp_path / "cvae.keras")
    inputs = {"x": x[:8], "label": y[:8]}
    np.testing.assert_allclose(loaded(inputs).numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-6)
