"""The equations the autoencoder and VAE rely on, each tested as mathematics."""

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from gentk_autoencoders.components import MLPDecoder, MLPEncoder
from gentk_autoencoders.model import Autoencoder
from gentk_vae.model import VAE


def _ppca_data(n=2000, d=5, k=2, sigma=0.5, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, k))
    x = rng.normal(size=(n, k)) @ w.T + sigma * rng.normal(size=(n, d)) + rng.normal(size=d)
    return x.astype("float32")


def _exact_ppca_log_likelihood(x, w, b, sigma):
    from scipy.stats import multivariate_normal

    cov = w @ w.T + sigma**2 * np.eye(len(b))
    return multivariate_normal(mean=b, cov=cov).logpdf(x)


def test_linear_gaussian_vae_elbo_is_below_and_close_to_the_exact_log_likelihood():
    """Probabilistic PCA: with a linear decoder the evidence log N(x; b, W W^T + s^2 I) is exact."""
    keras.utils.set_random_seed(0)
    sigma = 0.5
    x = _ppca_data(sigma=sigma)
    encoder = MLPEncoder(latent_dim=2, hidden=())
    decoder = MLPDecoder(output_shape=(5,), hidden=(), likelihood="gaussian", sigma=sigma)
    vae = VAE(encoder, decoder, n_samples=4)
    vae.compile(optimizer=keras.optimizers.Adam(0.02), jit_compile=True)
    vae.fit(x, batch_size=200, epochs=150, verbose=0, shuffle=True)
    w, b = (v.numpy() for v in decoder.head.weights)
    exact = _exact_ppca_log_likelihood(x, w.T, b, sigma)
    elbo = np.mean([vae.elbo(x, n_samples=64).numpy() for _ in range(4)], axis=0)
    gap = exact - elbo
    assert np.mean(gap) > -0.01, "ELBO must not exceed log p(x)"
    assert np.mean(gap) < 0.1, f"mean gap {np.mean(gap):.3f} nats: the posterior is not learned"
    nll = -vae.log_prob(x[:200], n_samples=500).numpy()
    np.testing.assert_allclose(-nll.mean(), exact[:200].mean(), atol=0.02)


def test_linear_autoencoder_recovers_the_pca_subspace():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0]
    x = (rng.normal(size=(3000, 2)) * [3.0, 2.0]) @ basis.T + 0.1 * rng.normal(size=(3000, 6))
    x = (x - x.mean(0)).astype("float32")
    ae = Autoencoder(
        MLPEncoder(2, hidden=(), distribution="deterministic"),
        MLPDecoder(output_shape=(6,), hidden=(), likelihood="gaussian"),
    )
    ae.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    ae.fit(x, batch_size=100, epochs=60, verbose=0)
    decoder_columns = ae.decoder.head.kernel.numpy().T
    pcs = np.linalg.svd(x, full_matrices=False)[2][:2].T
    angles = scipy.linalg.subspace_angles(decoder_columns, pcs)
    assert np.max(angles) < 0.05, angles


@pytest.mark.parametrize("stride, size", [(2, 8), (1, 5), (2, 6)])
def test_transposed_convolution_is_the_adjoint_of_convolution(stride, size):
    """<A x, y> = <x, A* y> with A a Conv2D and A* the Conv2DTranspose sharing its kernel."""
    rng = np.random.default_rng(0)
    conv = keras.layers.Conv2D(4, 3, strides=stride, padding="same", use_bias=False)
    x = rng.normal(size=(2, size, size, 3)).astype("float32")
    ax = conv(x).numpy()
    tconv = keras.layers.Conv2DTranspose(3, 3, strides=stride, padding="same", use_bias=False)
    y = rng.normal(size=ax.shape).astype("float32")
    tconv.build(y.shape)
    tconv.kernel.assign(conv.kernel)  # (3, 3, in=3, out=4) read as (3, 3, out=3, in=4)
    aty = tconv(y).numpy()[:, :size, :size, :]
    np.testing.assert_allclose(np.sum(ax * y), np.sum(x * aty), rtol=1e-4)


def test_iwae_bound_is_non_decreasing_in_k_and_tends_to_log_evidence():
    keras.utils.set_random_seed(2)
    x = _ppca_data(n=300, seed=3)
    vae = VAE(
        MLPEncoder(2, hidden=()),
        MLPDecoder(output_shape=(5,), hidden=(), likelihood="gaussian", sigma=0.5),
    )
    vae(x[:2])
    values = [
        float(np.mean([vae.log_prob(x, n_samples=k).numpy().mean() for _ in range(8)]))
        for k in (1, 10, 100)
    ]
    assert values[0] <= values[1] + 1e-3 <= values[2] + 2e-3, values
    w, b = (v.numpy() for v in vae.decoder.head.weights)
    assert values[2] <= _exact_ppca_log_likelihood(x, w.T, b, 0.5).mean() + 0.05
    tf.debugging.assert_all_finite(tf.constant(values), "bounds")


def test_uniform_start_is_pytorchs_linear_default_and_survives_its_config():
    """init="uniform": every weight and bias of layer l ~ U(-1/sqrt(fan_in_l), 1/sqrt(fan_in_l))
    (PyTorch's nn.Linear); "glorot" keeps Keras' zero biases."""
    keras.utils.set_random_seed(0)
    encoder = MLPEncoder(latent_dim=3, hidden=(400, 300), init="uniform")
    encoder(np.zeros((2, 8, 8, 1), "float32"))
    decoder = MLPDecoder.from_config(MLPDecoder(hidden=(300,), init="uniform").get_config())
    assert decoder.init == "uniform"
    decoder(np.zeros((2, 3), "float32"))
    for layers, fan_in in ((encoder.body.layers + [encoder.head], 64), (
            decoder.body.layers + [decoder.head], 3)):  # fmt: skip
        for layer in layers:
            bound = 1 / np.sqrt(fan_in)
            for w in (layer.kernel.numpy(), layer.bias.numpy()):
                assert np.abs(w).max() <= bound
                if w.size >= 300:  # uniform on the interval: mean 0, variance bound^2 / 3
                    assert abs(w.mean()) < 0.1 * bound
                    assert abs(w.var() / (bound**2 / 3) - 1) < 0.15
            fan_in = layer.units
    glorot = MLPEncoder(latent_dim=3, hidden=(16,))
    glorot(np.zeros((2, 4), "float32"))
    assert not glorot.body.layers[0].bias.numpy().any()
    with pytest.raises(ValueError, match="init"):
        MLPEncoder(init="normal")
