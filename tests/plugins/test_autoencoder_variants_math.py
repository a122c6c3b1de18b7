"""Denoising, contractive, sparse and stacked autoencoders, and (un)pooling, tested as math."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gentk_autoencoders.components import MLPDecoder, MLPEncoder
from gentk_autoencoders.model import Autoencoder, pretrain_layerwise, sparsity_kl
from gentk_autoencoders.unpooling import UnpoolingAutoencoder

from gentk.layers import AverageUnpooling2D, MaxPoolingWithArgmax2D, MaxUnpooling2D


def _ae(**kwargs):
    keras.utils.set_random_seed(0)
    ae = Autoencoder(
        MLPEncoder(3, hidden=(16,), distribution="deterministic"),
        MLPDecoder(output_shape=(6,), hidden=(16,), likelihood="gaussian"),
        **kwargs,
    )
    ae(np.zeros((1, 6), "float32"))
    return ae


def test_contractive_penalty_is_the_squared_frobenius_norm_of_the_jacobian():
    ae = _ae(contractive_weight=1.0)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    penalty = ae.contractive_penalty(tf.constant(x)).numpy()
    # h = W2^T relu(W1^T x + b1) + b2, so J = W2^T diag(1[a > 0]) W1^T
    (w1, b1), (w2, _) = ae.encoder.body.layers[0].weights, ae.encoder.head.weights
    w1, b1, w2 = w1.numpy(), b1.numpy(), w2.numpy()
    for i in range(len(x)):
        active = (x[i] @ w1 + b1) > 0
        jac = (w1 * active).dot(w2).T  # [latent, input]
        np.testing.assert_allclose(penalty[i], np.sum(jac**2), rtol=1e-5)
    # and it enters the loss with its weight; gradients reach the encoder through it
    with tf.GradientTape() as tape:
        reg = ae.regularizer(tf.constant(x), ae.encoder(x).mean())
    np.testing.assert_allclose(reg.numpy(), penalty.mean(), rtol=1e-5)
    grads = tape.gradient(reg, ae.encoder.trainable_weights)
    assert all(g is not None for g in grads[:2])


def test_sparsity_penalties_match_their_definitions():
    h = np.random.default_rng(1).normal(size=(50, 4)).astype("float32")
    rho_hat = (1 / (1 + np.exp(-h.astype(np.float64)))).mean(0)
    rho = 0.05
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(sparsity_kl(tf.constant(h), rho).numpy(), expected, rtol=1e-5)
    ae = _ae(l1_weight=0.3, sparsity_weight=2.0, sparsity_target=rho)
    reg = ae.regularizer(tf.zeros((50, 6)), tf.constant(h)).numpy()
    np.testing.assert_allclose(reg, 0.3 * np.abs(h).sum(1).mean() + 2.0 * expected, rtol=1e-5)


@pytest.mark.parametrize("noise, level", [("masking", 0.3), ("gaussian", 0.5)])
def test_denoising_corrupts_the_input_and_scores_the_clean_target(noise, level):
    ae = _ae(noise=noise, noise_level=level)
    x = np.full((4000, 6), 2.0, "float32")
    corrupted = ae.corrupt(tf.constant(x)).numpy()
    if noise == "masking":
        assert abs(np.mean(corrupted == 0) - level) < 0.01
        assert np.all((corrupted == 0) | (corrupted == 2.0))
    else:
        assert abs(np.std(corrupted - x) - level) < 0.01
    fixed = tf.constant(corrupted[:8])
    ae.corrupt = lambda _: fixed
    loss = ae.compute_losses(x[:8], training=True)["loss"].numpy()
    px = ae.decoder(ae.encoder(fixed).mean())
    np.testing.assert_allclose(loss, -np.mean(px.log_prob(x[:8]).numpy()), rtol=1e-5)
    # no corruption outside training
    clean = ae.compute_losses(x[:8], training=False)["loss"].numpy()
    px = ae.decoder(ae.encoder(x[:8]).mean())
    np.testing.assert_allclose(clean, -np.mean(px.log_prob(x[:8]).numpy()), rtol=1e-5)


def test_stacked_pretraining_trains_each_layer_to_reconstruct_its_input():
    from gentk.data import digits

    x = digits().x[:600].reshape(600, -1)
    keras.utils.set_random_seed(0)
    ae = Autoencoder(
        MLPEncoder(8, hidden=(48, 24), distribution="deterministic"),
        MLPDecoder(output_shape=(64,), hidden=(24, 48), likelihood="gaussian"),
    )
    before = np.mean((ae(x).numpy() - x) ** 2)
    report = pretrain_layerwise(ae, x, epochs=15, batch_size=64, lr=3e-3)
    assert len(report) == 3
    for first, last in report:
        assert last < 0.7 * first
    after = np.mean((ae(x).numpy() - x) ** 2)
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("size", [6, 5])
def test_max_unpooling_is_the_adjoint_of_max_pooling_at_the_recorded_indices(size):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(2, size, size, 3)).astype("float32"))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    expected = tf.nn.max_pool2d(x, 2, 2, "SAME")
    np.testing.assert_allclose(pooled.numpy(), expected.numpy())
    other = rng.normal(size=x.shape).astype("float32")
    y = rng.normal(size=pooled.shape).astype("float32")
    select = tf.gather(tf.reshape(other, [-1]), tf.reshape(argmax, [-1])).numpy()  # S x
    unpooled = MaxUnpooling2D()(tf.constant(y), argmax, output_size=(size, size)).numpy()
    np.testing.assert_allclose(np.dot(select, y.ravel()), np.sum(other * unpooled), rtol=1e-4)
    # the maxima go back where they came from: pooling the unpooled map gives them again
    back = MaxUnpooling2D()(pooled, argmax, output_size=(size, size))
    np.testing.assert_allclose(np.sum(back.numpy() != 0), pooled.numpy().size)
    np.testing.assert_allclose(
        tf.gather_nd(back, tf.where(back != 0)).numpy().sum(), pooled.numpy().sum(), rtol=1e-5
    )


def test_average_unpooling_is_the_adjoint_of_average_pooling():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 8, 6, 3)).astype("float32")
    y = rng.normal(size=(2, 4, 3, 3)).astype("float32")
    pooled = keras.layers.AveragePooling2D(2)(x).numpy()
    unpooled = AverageUnpooling2D(2)(y).numpy()
    np.testing.assert_allclose(np.sum(pooled * y), np.sum(x * unpooled), rtol=1e-5)


@pytest.mark.parametrize("unpooling", ["max", "average"])
def test_unpooling_autoencoder_learns_to_reconstruct_digits(unpooling):
    from gentk.data import digits

    x = digits().x[:512]
    keras.utils.set_random_seed(0)
    ae = UnpoolingAutoencoder((8, 8, 1), latent_dim=16, filters=(16, 32), unpooling=unpooling)
    ae.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = np.mean((ae(x).numpy() - x) ** 2)
    ae.fit(x, batch_size=64, epochs=15, verbose=0)
    after = np.mean((ae(x).numpy() - x) ** 2)
    assert after < 0.5 * before
    if unpooling == "average":
        assert ae.decode(ae.encode(x[:3])).shape == (3, 8, 8, 1)
    else:
        with pytest.raises(ValueError, match="switches"):
            ae.decode(ae.encode(x[:3]))
