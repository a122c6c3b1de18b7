"""RecVAE's equations: the composite prior's density by hand, beta proportional to the user's
clicks, the alternating encoder/decoder phases (each updates only its own weights, and the old
encoder is copied as the decoder phase begins), and a save/load round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gentk_recommender.recvae import CompositePrior, RecVAE, RecVAEEncoder
from scipy import stats
from scipy.special import logsumexp


def _clicks(n=16, items=40, seed=0):
    return (np.random.default_rng(seed).random((n, items)) < 0.2).astype("float32")


def test_composite_prior_density_by_hand():
    rng = np.random.default_rng(1)
    loc, scale = rng.normal(size=(5, 3)), np.exp(rng.normal(size=(5, 3)) * 0.3)
    import tensorflow_probability as tfp

    q_old = tfp.distributions.MultivariateNormalDiag(loc.astype("float32"), scale.astype("float32"))
    prior = CompositePrior(3, weights=(3, 15, 2), wide_log_variance=10.0)
    z = rng.normal(size=(5, 3)) * 3
    w = np.array([3, 15, 2]) / 20
    parts = np.stack([
        np.log(w[0]) + stats.norm(0, 1).logpdf(z),
        np.log(w[1]) + stats.norm(loc, scale).logpdf(z),
        np.log(w[2]) + stats.norm(0, np.exp(5.0)).logpdf(z),
    ])  # fmt: skip
    expected = logsumexp(parts, axis=0).sum(axis=1)  # a mixture per dimension
    got = prior(q_old).log_prob(z.astype("float32")).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    alone = prior().log_prob(z.astype("float32")).numpy()  # no anchor: N(0, 1) there
    parts[1] = np.log(w[1]) + stats.norm(0, 1).logpdf(z)
    np.testing.assert_allclose(alone, logsumexp(parts, axis=0).sum(axis=1), rtol=1e-5)


def test_the_loss_is_the_elbo_with_beta_proportional_to_the_clicks():
    x = tf.constant(_clicks())
    model = RecVAE(40, hidden=16, depth=2, latent_dim=4, gamma=0.01, seed=3)
    model.build()
    np.testing.assert_allclose(model.kl_weight(x).numpy(), 0.01 * x.numpy().sum(axis=1))
    losses = model.compute_losses(x, training=False)  # z = mu: deterministic
    q = model.encoder(x)
    z = q.mean()
    log_pi = tf.nn.log_softmax(model.decoder.logits(z)).numpy()
    neg_ll = -(x.numpy() * log_pi).sum(axis=1)
    kl = (q.log_prob(z) - model.prior(x).log_prob(z)).numpy()
    expected = np.mean(neg_ll + 0.01 * x.numpy().sum(axis=1) * kl)
    np.testing.assert_allclose(losses["loss"].numpy(), expected, rtol=1e-5)
    sparse = tf.sparse.from_dense(x)  # the same model on a sparse batch
    np.testing.assert_allclose(model.compute_losses(sparse)["loss"].numpy(), expected, rtol=1e-5)


def test_phases_alternate_and_each_updates_only_its_own_weights(tmp_path):
    x = _clicks(n=32)
    model = RecVAE(40, hidden=16, depth=2, latent_dim=4, encoder_epochs=2, steps_per_epoch=2)
    assert [bool(model.encoder_phase(t)) for t in range(8)] == [1, 1, 1, 1, 0, 0, 1, 1]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.build()
    snap = lambda layer: [w.numpy().copy() for w in layer.weights]  # noqa: E731
    data = tf.data.Dataset.from_tensor_slices(x).batch(16)  # 2 updates per pass
    enc0, dec0, old0 = snap(model.encoder), snap(model.decoder), snap(model.old_encoder)
    model.fit(data, epochs=2, verbose=0, shuffle=False)  # 4 encoder updates
    enc1, dec1, old1 = snap(model.encoder), snap(model.decoder), snap(model.old_encoder)
    assert all(not np.array_equal(a, b) for a, b in zip(enc0, enc1) if a.ndim == 2)
    assert all(np.array_equal(a, b) for a, b in zip(dec0, dec1))
    assert all(np.array_equal(a, b) for a, b in zip(old0, old1))
    model.fit(data, epochs=3, initial_epoch=2, verbose=0, shuffle=False)  # 2 decoder updates
    enc2, dec2, old2 = snap(model.encoder), snap(model.decoder), snap(model.old_encoder)
    assert all(np.array_equal(a, b) for a, b in zip(enc1, enc2))
    assert all(not np.array_equal(a, b) for a, b in zip(dec1, dec2))
    for a, b in zip(old2, enc1):  # q_old = the encoder as the decoder phase began
        np.testing.assert_array_equal(a, b)
    assert int(model.updates.numpy()) == 6
    path = tmp_path / "recvae.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x[:4]).numpy(), model(x[:4]).numpy(), rtol=1e-5)
    assert int(loaded.updates.numpy()) == 6
    for a, b in zip(snap(loaded.old_encoder), old2):
        np.testing.assert_array_equal(a, b)


def test_encoder_dense_links_and_shapes():
    enc = RecVAEEncoder(40, hidden=8, depth=3, latent_dim=4, dropout=0.0)
    enc.build()
    x = tf.constant(_clicks(n=5))
    q = enc(x)
    assert q.mean().shape == (5, 4) and q.stddev().shape == (5, 4)
    # by hand: h1 = LN(swish(W1 x~)), h2 = LN(swish(W2 h1 + h1)), h3 = LN(swish(W3 h2 + h1 + h2))
    xn = tf.math.l2_normalize(x, axis=1)
    h1 = enc.norms[0](tf.nn.silu(enc.dense[0](xn)))
    h2 = enc.norms[1](tf.nn.silu(enc.dense[1](h1) + h1))
    h3 = enc.norms[2](tf.nn.silu(enc.dense[2](h2) + h1 + h2))
    np.testing.assert_allclose(q.mean().numpy(), enc.head(h3).numpy()[:, :4], rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="depth"):
        RecVAEEncoder(40, depth=0)
