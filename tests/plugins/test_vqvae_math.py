"""VQ-VAE: quantisation, straight-through gradients, the two losses, EMA, restarts, and the
causal mask of the PixelCNN prior."""

import keras
import numpy as np
import tensorflow as tf
from gentk_vqvae.layers import MaskedConv2D, VectorQuantizer, code_statistics
from gentk_vqvae.model import VQVAE


def _quantizer(**kwargs):
    q = VectorQuantizer(num_codes=5, code_dim=3, **kwargs)
    q.build((None, 2, 2, 3))
    return q


def test_quantizer_picks_the_nearest_code_and_the_losses_match_their_definitions():
    rng = np.random.default_rng(0)
    q = _quantizer(restart_after=0)
    book = rng.normal(size=(5, 3)).astype("float32")
    q.codebook.assign(book)
    z_e = rng.normal(size=(4, 2, 2, 3)).astype("float32")
    z_st, idx, codebook, commitment = q(tf.constant(z_e))
    dist = ((z_e[..., None, :] - book) ** 2).sum(-1)
    np.testing.assert_array_equal(idx.numpy(), dist.argmin(-1))
    z_q = book[dist.argmin(-1)]
    np.testing.assert_allclose(z_st.numpy(), z_q, rtol=1e-5, atol=1e-6)  # forward: z_q
    expected = ((z_e - z_q) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(codebook.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(commitment.numpy(), expected, rtol=1e-5)
    # gradients: commitment only to z_e, codebook only to the codes, straight-through identity
    z = tf.constant(z_e)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        z_st, _, codebook, commitment = q(z)
        upstream = tf.reduce_sum(z_st * tf.constant(rng.normal(size=z_e.shape), tf.float32))
    g_commit_z, g_commit_book = tape.gradient(commitment, [z, q.codebook])
    g_book_z, g_book_book = tape.gradient(codebook, [z, q.codebook])
    assert g_commit_book is None and g_book_z is None
    np.testing.assert_allclose(g_commit_z.numpy(), 2 * (z_e - z_q), rtol=1e-4, atol=1e-6)
    expected_book = np.zeros_like(book)
    np.add.at(expected_book, dist.argmin(-1).ravel(), (2 * (z_q - z_e)).reshape(-1, 3))
    np.testing.assert_allclose(
        tf.convert_to_tensor(g_book_book).numpy(), expected_book, rtol=1e-4, atol=1e-6
    )
    g_st = tape.gradient(upstream, z).numpy()
    np.testing.assert_allclose(g_st, tape.gradient(upstream, z_st).numpy(), rtol=1e-6)


def test_decoder_gradients_reach_the_encoder_through_the_quantiser():
    keras.utils.set_random_seed(0)
    model = VQVAE((8, 8, 1), filters=(8,), num_codes=8, code_dim=4, prior_filters=8)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    model(x)
    with tf.GradientTape() as tape:
        z_st, _, _, _ = model.quantizer(model.encoder(x))
        reconstruction = -tf.reduce_mean(model._likelihood(z_st).log_prob(x))
    grads = tape.gradient(reconstruction, model.encoder.trainable_weights)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_ema_codebook_follows_the_assigned_means_and_dead_codes_restart():
    q = _quantizer(ema=True, decay=0.5, restart_after=0)
    q.codebook.assign(np.eye(5, 3, dtype="float32") * 10)
    q.ema_sum.assign(q.codebook)
    z = np.array([[9.0, 0.5, 0.0], [11.0, -0.5, 0.0]], "float32").reshape(1, 1, 2, 3)
    for _ in range(40):
        q(tf.constant(z), training=True)
    # code 0 received both vectors every step: it converges to their mean (10, 0, 0)
    np.testing.assert_allclose(q.codebook.numpy()[0], [10.0, 0.0, 0.0], atol=1e-3)
    # restarts: codes unused for 3 updates jump onto encoder outputs of the batch
    r = _quantizer(restart_after=3)
    r.codebook.assign(np.full((5, 3), 100.0, "float32") * np.arange(1, 6)[:, None])
    z = np.random.default_rng(1).normal(size=(1, 2, 2, 3)).astype("float32")
    for _ in range(3):
        r(tf.constant(z), training=True)
    book = r.codebook.numpy()
    rows = z.reshape(-1, 3)
    restarted = [k for k in range(5) if np.min(np.abs(rows - book[k]).sum(1)) < 1e-6]
    assert len(restarted) >= 4  # all but the one code the batch used
    perplexity, usage = code_statistics(tf.constant([0, 0, 1, 1]), 4)
    np.testing.assert_allclose([float(perplexity), float(usage)], [2.0, 0.5], rtol=1e-6)


def test_masked_convolutions_are_causal_in_raster_order():
    keras.utils.set_random_seed(0)
    stack = keras.Sequential(
        [
            MaskedConv2D(4, 5, "A", "relu"),
            MaskedConv2D(4, 3, "B", "relu"),
            MaskedConv2D(4, 3, "B"),
        ]
    )
    x = tf.constant(np.random.default_rng(2).normal(size=(1, 5, 5, 2)).astype("float32"))
    stack(x)
    for i, j in [(0, 0), (2, 2), (4, 1)]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(stack(x)[0, i, j])
        g = np.abs(tape.gradient(out, x).numpy()[0]).sum(-1)
        order = np.arange(25).reshape(5, 5)
        assert np.all(g[order >= i * 5 + j] == 0), f"cell ({i}, {j}) sees the future"
        if i * 5 + j > 0:
            assert np.any(g[order < i * 5 + j] != 0)


def test_prior_samples_are_code_grids_and_decode_to_images():
    keras.utils.set_random_seed(0)
    model = VQVAE((8, 8, 1), filters=(8,), num_codes=8, code_dim=4, prior_filters=8)
    model(np.zeros((1, 8, 8, 1), "float32"))
    codes = model.sample_codes(3, seed=1)
    assert codes.shape == (3, 4, 4) and codes.min() >= 0 and codes.max() < 8
    np.testing.assert_array_equal(codes, model.sample_codes(3, seed=1))
    images = model.sample(3, seed=1).numpy()
    assert images.shape == (3, 8, 8, 1) and np.all((images >= 0) & (images <= 1))
