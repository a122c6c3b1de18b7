"""The flows' equations: invertibility, log-determinants against autodiff Jacobians, MADE's
autoregressive structure, the logit/dequantisation accounting, a density that integrates to 1,
and actnorm's data-dependent initialisation surviving save and load."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from gentk_flows import bijectors as B
from gentk_flows.model import FlowModel
from gentk_flows.networks import MADE

tfd, tfb = tfp.distributions, tfp.bijectors

LAYERS = [
    lambda d: B.AffineLayer(d),
    lambda d: B.ActNorm(d),
    lambda d: B.InvertibleLinear(d, seed=3),
    lambda d: B.Reverse(d),
    lambda d: B.DiagonalScale(d),
    lambda d: B.SinhArcsinhLayer(d),
    lambda d: B.AdditiveCoupling(d, hidden=(16,)),
    lambda d: B.AffineCoupling(d, hidden=(16,)),
    lambda d: B.SplineCoupling(d, hidden=(16,), bins=5, bound=3.0),
    lambda d: B.MaskedAutoregressive(d, hidden=(16, 16)),
    lambda d: B.InverseAutoregressive(d, hidden=(16, 16)),
    lambda d: B.SplineAutoregressive(d, hidden=(16, 16), bins=5, bound=3.0),
    lambda d: B.BatchNorm(d),  # called outside training: the moving statistics
]


def _randomised(layer, seed=0, size=0.3):
    """The layer with every weight moved off its (often identity) initial value."""
    if not layer.built:
        layer.build()
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + size * rng.normal(size=w.shape).astype("float32"))
    return layer


@pytest.mark.parametrize("make", LAYERS, ids=lambda f: type(f(4)).__name__)
def test_inverse_and_log_determinants_against_autodiff(make):
    dim = 4
    layer = _randomised(make(dim))
    bij = layer()
    x = tf.constant(np.random.default_rng(1).normal(size=(6, dim)).astype("float32"))
    y = bij.forward(x)
    np.testing.assert_allclose(bij.inverse(y).numpy(), x.numpy(), atol=2e-4)
    fldj = bij.forward_log_det_jacobian(x, event_ndims=1).numpy() * np.ones(6)
    ildj = bij.inverse_log_det_jacobian(y, event_ndims=1).numpy() * np.ones(6)
    np.testing.assert_allclose(fldj, -ildj, atol=2e-4)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = bij.forward(tf.identity(x))  # a new tensor: TFP caches forward(x) by input
    jac = tape.batch_jacobian(out, x).numpy()
    _, logdet = np.linalg.slogdet(jac.astype(np.float64))
    np.testing.assert_allclose(fldj, logdet, atol=2e-3)


@pytest.mark.parametrize("make", LAYERS, ids=lambda f: type(f(4)).__name__)
def test_inverse_and_log_det_in_one_call_is_the_bijectors_inverse_and_its_log_det(make):
    """The one-pass normalising direction a density uses (each layer's network once) gives
    what TFP's inverse and inverse_log_det_jacobian give, conditional layers too."""
    dim = 4
    networked = (B._Coupling, B.MaskedAutoregressive, B.SplineAutoregressive)
    for classes in (0, 3) if isinstance(make(dim), networked) else (0,):
        config = {**make(dim).get_config(), "condition_dim": classes}
        layer = _randomised(type(make(dim)).from_config(config))
        c = tf.one_hot([0, 1, 2, 0, 1, 2], classes) if classes else None
        y = tf.constant(np.random.default_rng(1).normal(size=(6, dim)).astype("float32") * 2)
        x, log_det = layer.inverse_and_log_det(y, c)
        bij = layer(condition=c)
        np.testing.assert_allclose(x.numpy(), bij.inverse(y).numpy(), atol=1e-5)
        expected = bij.inverse_log_det_jacobian(y, event_ndims=1).numpy() * np.ones(6)
        np.testing.assert_allclose(log_det.numpy() * np.ones(6), expected, atol=1e-4)


def test_made_outputs_depend_only_on_earlier_inputs():
    made = MADE(5, hidden=(12, 12), params=2)
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 5)).astype("float32"))
    made.build((None, 5))
    for w in made.trainable_weights:  # the output layer starts at zero: move it
        w.assign(w + 0.1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = made(x)[..., 0]
    jac = np.abs(tape.batch_jacobian(out, x).numpy()).max(axis=0)
    assert np.all(np.triu(jac) == 0)  # output d never sees input >= d
    assert np.all(np.tril(jac, -1)[np.tril_indices(5, -1)] > 0)  # and sees every earlier one


def test_invertible_linear_log_det_is_that_of_its_matrix():
    layer = _randomised(B.InvertibleLinear(3, seed=1))
    bij = layer()
    w = bij.forward(tf.eye(3)).numpy().T  # columns: images of the basis vectors
    fldj = float(bij.forward_log_det_jacobian(tf.zeros((1, 3)), event_ndims=1).numpy().ravel()[0])
    assert fldj == pytest.approx(np.linalg.slogdet(w)[1], abs=1e-4)


def test_log_prob_is_that_of_a_transformed_distribution_of_the_same_bijectors():
    layers = [_randomised(B.AffineCoupling(2, hidden=(8,)), 0), B.Reverse(2),
              _randomised(B.AffineCoupling(2, hidden=(8,)), 1)]  # fmt: skip
    model = FlowModel(layers, (2,))
    x = np.random.default_rng(0).normal(size=(7, 2)).astype("float32")
    chain = tfb.Chain([layer() for layer in reversed(layers)])
    reference = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), chain)
    np.testing.assert_allclose(model.log_prob(x), reference.log_prob(x), rtol=1e-5, atol=1e-5)


def test_a_conditional_flows_density_is_its_transformed_distributions_log_prob():
    """``FlowModel.density`` (one pass per layer) against ``distribution().log_prob`` (TFP's
    chain), with standardisation, every kind of layer with a network, and labels. The layers
    start from a fixed seed: the two float32 paths agree to about 1e-5 of the log-density,
    and unseeded starts (which depended on the tests run before) drew weights whose densities
    of -30 to -70 nats landed at 1.3-1.8x this tolerance in 2 of 12 draws."""
    keras.utils.set_random_seed(0)
    made = [B.SplineCoupling(3, 2, hidden=(8,), bins=4), B.Reverse(3),
            B.MaskedAutoregressive(3, 2, hidden=(8,)), B.SplineAutoregressive(3, 2, bins=4),
            B.AffineCoupling(3, 2, hidden=(8,)), B.InvertibleLinear(3)]  # fmt: skip
    layers = [_randomised(layer, k) for k, layer in enumerate(made)]
    model = FlowModel(layers, (3,), standardize=([1.0, -2.0, 0.5], [2.0, 0.5, 1.0]),
                      num_classes=2)  # fmt: skip
    x = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    labels = np.array([0, 1, 1, 0, 1, 0, 0])
    reference = model.distribution(model._condition(labels)).log_prob(x)
    np.testing.assert_allclose(model.log_prob(x, labels), reference, rtol=1e-5, atol=1e-4)


def test_logit_transform_and_bits_per_dim_by_hand():
    """Images in [0, 1] with 4 levels, logit alpha 0.1, one affine layer with known weights."""
    a, levels = 0.1, 4
    layer = B.AffineLayer(4)
    layer.build()
    layer.shift.assign([0.5, -0.5, 0.0, 1.0])
    layer.log_scale.assign([0.2, -0.1, 0.0, 0.3])
    model = FlowModel([layer], (2, 2, 1), dequantize=levels, logit_alpha=a)
    x = np.array([[0.1, 0.5, 0.9, 0.3]], dtype=np.float32)  # continuous, already dequantised
    y = a + (1 - 2 * a) * x
    u = np.log(y) - np.log1p(-y)  # logit
    z = (u - layer.shift.numpy()) * np.exp(-layer.log_scale.numpy())
    log_p = (
        -0.5 * np.sum(z**2) - 2 * math.log(2 * math.pi)  # N(0, I) in 4 dims
        - np.sum(layer.log_scale.numpy())  # affine
        + np.sum(np.log(1 - 2 * a) - np.log(y) - np.log1p(-y))  # d logit(a + (1 - 2a) x) / dx
    )  # fmt: skip
    got = float(model.distribution().log_prob(x.reshape(1, 4)).numpy()[0])
    assert got == pytest.approx(log_p, abs=1e-4)
    nll = -log_p
    bpd = float(model.nats_to_bits_per_dim(nll))
    assert bpd == pytest.approx((nll + 4 * math.log(levels)) / (4 * math.log(2)), rel=1e-6)


def test_dequantised_data_stay_in_their_bins():
    model = FlowModel([B.AffineLayer(3)], (3,), dequantize=17, logit_alpha=0.05)
    k = np.array([[0, 8, 16]] * 500, dtype=np.float32)
    noisy = model._prepare(tf.constant(k / 16.0), training=True).numpy() * 17
    assert np.all(np.floor(noisy) == k) and noisy.std(axis=0).min() > 0.2


def test_a_trained_2d_density_integrates_to_one():
    from gentk_flows.datasets import two_moons

    keras.utils.set_random_seed(0)
    x = two_moons(n=2000).x
    layers = []
    for _ in range(3):
        layers += [B.AffineCoupling(2, hidden=(32, 32)), B.Reverse(2)]
    model = FlowModel(list(reversed(layers)), (2,), standardize=(x.mean(0), x.std(0)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, batch_size=100, epochs=20, verbose=0)
    lo, hi, n = np.array([-4.0, -4.0]), np.array([5.0, 4.5]), 400
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1).astype("float32")
    density = np.exp(model.log_prob(pts).numpy())
    cell = (hi[0] - lo[0]) / (n - 1) * (hi[1] - lo[1]) / (n - 1)
    assert density.sum() * cell == pytest.approx(1.0, abs=0.02)
    assert float(-model.log_prob(x).numpy().mean()) < 1.5  # it learned something


def test_actnorm_initialisation_is_saved_and_not_repeated(tmp_path):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(500, 3)).astype("float32")
    layers = [B.AffineCoupling(3, hidden=(8,)), B.ActNorm(3)]
    model = FlowModel(layers, (3,))
    model.initialize(x)
    h = layers[1]().inverse(x).numpy()
    np.testing.assert_allclose(h.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(h.std(0), 1, atol=1e-3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=100, epochs=1, verbose=0)
    path = tmp_path / "flow.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.log_prob(x[:20]), model.log_prob(x[:20]), rtol=1e-5)
    before = loaded.flow_layers[1].shift.numpy().copy()
    loaded.initialize(x + 10.0)  # already initialised: nothing changes
    np.testing.assert_array_equal(loaded.flow_layers[1].shift.numpy(), before)


@pytest.mark.parametrize("make", LAYERS, ids=lambda f: type(f(4)).__name__)
def test_layers_take_any_batch_shape(make):
    """A flow prior scores z of shape [K, B, L] (K importance samples)."""
    bij = _randomised(make(4), seed=2)()
    z = np.random.default_rng(3).normal(size=(3, 5, 4)).astype("float32")
    flat = bij.inverse(z.reshape(15, 4)).numpy().reshape(3, 5, 4)
    np.testing.assert_allclose(bij.inverse(z).numpy(), flat, rtol=1e-4, atol=1e-4)


def test_a_vae_with_a_flow_prior_scores_k_samples_and_saves(tmp_path):
    from gentk_flows.priors import FlowPrior

    from gentk.plugins import get_registry

    vae = get_registry().get("model", "vae").factory
    from gentk.config import resolve_config

    config = resolve_config(vae.config, None, ["prior=realnvp", "hidden=16", "latent_dim=3"])
    data = vae.load_data(config, None)
    model = vae.build(config, data)
    assert isinstance(model.prior_net, FlowPrior)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(data.train[:256], batch_size=64, epochs=1, verbose=0)
    lp = model.log_prob(data.test[:7], n_samples=20, batch_samples=10).numpy()
    assert lp.shape == (7,) and np.all(np.isfinite(lp))
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    z = np.random.default_rng(0).normal(size=(9, 3)).astype("float32")
    np.testing.assert_allclose(loaded.prior().log_prob(z), model.prior().log_prob(z), rtol=1e-5)


@pytest.mark.parametrize("kind", ["realnvp", "glow"])
@pytest.mark.parametrize("shape,classes", [((4, 4, 1), 0), ((4, 4, 3), 0), ((4, 4, 2), 3)])
def test_multiscale_image_flows_invert_and_their_log_det_is_the_jacobians(kind, shape, classes):
    from gentk_flows.image import MultiscaleFlow

    layer = MultiscaleFlow(shape, kind=kind, scales=2, steps=2, filters=8, condition_dim=classes)
    layer = _randomised(layer, size=0.05)  # conv nets: larger moves overflow float32
    x = tf.constant(np.random.default_rng(2).normal(size=(3, *shape)).astype("float32"))
    c = tf.one_hot([0, 1, 2], classes) if classes else None
    bij = layer(condition=c)
    y = bij.forward(x)
    if classes:  # the label changes the map
        other = layer(condition=tf.one_hot([1, 2, 0], classes)).forward(tf.identity(x))
        assert np.abs(other.numpy() - y.numpy()).max() > 1e-3
    np.testing.assert_allclose(bij.inverse(tf.identity(y)).numpy(), x.numpy(), atol=1e-3)
    fldj = bij.forward_log_det_jacobian(x, event_ndims=3).numpy()
    assert np.abs(fldj).max() > 0.1  # not the identity
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reshape(layer(condition=c).forward(tf.identity(x)), (3, -1))
    d = int(np.prod(shape))
    jac = tape.batch_jacobian(out, x).numpy().reshape(3, d, d).astype(np.float64)
    np.testing.assert_allclose(fldj, np.linalg.slogdet(jac)[1], atol=2e-3)
    z, log_det = layer.inverse_and_log_det(tf.identity(y), c)  # the one-pass direction
    np.testing.assert_allclose(z.numpy(), x.numpy(), atol=1e-3)
    np.testing.assert_allclose(log_det.numpy(), -fldj, atol=2e-3)


def test_squeeze_is_a_permutation_of_2x2_patches_into_channels():
    from gentk_flows.image import squeeze

    x = np.arange(4 * 4 * 2, dtype="float32").reshape(1, 4, 4, 2)
    y = squeeze(4, 4, 2).forward(x).numpy()
    assert y.shape == (1, 2, 2, 8)
    np.testing.assert_array_equal(y[0, 0, 0], x[0, :2, :2].reshape(-1))  # the top-left patch
    assert float(squeeze(4, 4, 2).forward_log_det_jacobian(x, event_ndims=3)) == 0.0


def test_glow_actnorm_is_initialised_per_channel_from_data():
    from gentk_flows.image import MultiscaleFlow

    layer = MultiscaleFlow((4, 4, 2), kind="glow", scales=1, steps=1, filters=4)
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(64, 4, 4, 2)).astype("float32")
    layer.initialize(x)
    shift, log_scale = layer.actnorms[0]
    np.testing.assert_allclose(shift.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(np.exp(log_scale.numpy()), x.std(axis=(0, 1, 2)), rtol=1e-3)
    layer.initialize(x * 10)  # once only
    np.testing.assert_allclose(shift.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-4)


def test_ffjord_log_det_is_the_integrated_trace_of_its_dynamics():
    layer = _randomised(B.FFJORDLayer(3, hidden=(16,)), size=0.1)
    x = tf.constant(np.random.default_rng(4).normal(size=(4, 3)).astype("float32"))
    exact = layer(training=False)
    y = exact.forward(x)
    np.testing.assert_allclose(exact.inverse(tf.identity(y)).numpy(), x.numpy(), atol=1e-3)
    fldj = exact.forward_log_det_jacobian(x, event_ndims=1).numpy()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = layer(training=False).forward(tf.identity(x))
    # pfor cannot vectorise the solver's while loop: one row at a time
    jac = tape.batch_jacobian(out, x, experimental_use_pfor=False).numpy().astype(np.float64)
    np.testing.assert_allclose(fldj, np.linalg.slogdet(jac)[1], atol=5e-3)
    assert np.abs(fldj).max() > 0.01  # not the identity
    small = _randomised(B.FFJORDLayer(2, hidden=(8,)), size=0.1)  # D <= exact_trace_dims:
    x2 = x[:, :2]  # training uses the exact trace too, so both agree
    np.testing.assert_allclose(
        small(training=True).forward_log_det_jacobian(x2, event_ndims=1).numpy(),
        small(training=False).forward_log_det_jacobian(tf.identity(x2), event_ndims=1).numpy(),
        atol=1e-4,
    )
    z = np.random.default_rng(5).normal(size=(2, 4, 3)).astype("float32")  # any batch shape
    np.testing.assert_allclose(
        exact.inverse(z).numpy().reshape(8, 3), exact.inverse(z.reshape(8, 3)).numpy(), atol=1e-4
    )


def test_batch_norm_uses_batch_statistics_in_training_and_moves_its_averages_once():
    layer = _randomised(B.BatchNorm(3, momentum=0.75))
    x = np.random.default_rng(6).normal(2.0, 3.0, size=(256, 3)).astype("float32")
    mean, var = x.mean(axis=0), x.var(axis=0)
    bij = layer(training=True)
    z = bij.inverse(tf.constant(x)).numpy()
    # the batch comes out with mean beta and standard deviation exp(log_gamma)
    np.testing.assert_allclose(z.mean(axis=0), layer.beta.numpy(), atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), np.exp(layer.log_gamma.numpy()), rtol=1e-3)
    expected = np.sum(layer.log_gamma.numpy() - 0.5 * np.log(var + layer.epsilon))
    np.testing.assert_allclose(
        bij.inverse_log_det_jacobian(tf.constant(x), event_ndims=1).numpy(), expected, rtol=1e-5
    )
    # one log_prob of a flow = one update of the moving statistics (from 0 and 1)
    layer.moving_mean.assign(np.zeros(3, "float32"))
    layer.moving_variance.assign(np.ones(3, "float32"))
    model = FlowModel([layer, B.AffineLayer(3)], (3,))
    model.build()
    model.compute_losses(tf.constant(x), training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.25 * mean, rtol=1e-4)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.75 + 0.25 * var, rtol=1e-4)
    # outside training: the moving statistics, and the layer is an exact bijection again
    before = layer.moving_mean.numpy().copy()
    lp = model.log_prob(x[:8]).numpy()
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)
    base = tfd.MultivariateNormalDiag(tf.zeros(3))
    reference = tfd.TransformedDistribution(base, tfb.Chain([model.flow_layers[1](), layer()]))
    np.testing.assert_allclose(lp, reference.log_prob(x[:8]).numpy(), rtol=1e-5)


def test_a_flow_with_batch_norm_trains_with_fit_and_saves(tmp_path):
    x = np.random.default_rng(7).normal(5.0, 2.0, size=(512, 2)).astype("float32")
    model = FlowModel([B.Reverse(2), B.AffineCoupling(2, hidden=(8,)), B.BatchNorm(2)], (2,))
    model.build()
    model.initialize(x)
    bn = model.flow_layers[-1]  # the data side: it sees x
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=0), rtol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=64, epochs=2, verbose=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=0), atol=0.3)
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x[:16]).numpy(), model.log_prob(x[:16]).numpy(),
                               rtol=1e-5)  # fmt: skip


def test_an_iaf_posterior_density_is_the_base_density_minus_the_flows_log_det(tmp_path):
    from gentk.config import resolve_config
    from gentk.plugins import get_registry

    vae = get_registry().get("model", "vae").factory
    overrides = ["posterior=iaf,reverse", "posterior_steps=2", "posterior_hidden=16",
                 "hidden=16", "latent_dim=3"]  # fmt: skip
    config = resolve_config(vae.config, None, overrides)
    data = vae.load_data(config, None)
    model = vae.build(config, data)
    assert [type(x).__name__ for x in model.posterior_layers] == [
        "Reverse", "InverseAutoregressive", "Reverse", "InverseAutoregressive"
    ]  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [w.numpy().copy() for x in model.posterior_layers for w in x.trainable_weights]
    model.fit(data.train[:256], batch_size=64, epochs=1, verbose=0)
    after = [w.numpy() for x in model.posterior_layers for w in x.trainable_weights]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))  # every weight learns
    for layer in model.posterior_layers:
        _randomised(layer, seed=8, size=0.2)  # a far from identity flow
    x = tf.constant(data.test[:5])
    gaussian = model.encoder(x)
    q, flow = model.posterior(gaussian), model._posterior_flow(gaussian)
    z0 = gaussian.sample(4, seed=(1, 2))
    z = flow.forward(z0)
    expected = gaussian.log_prob(z0) - flow.forward_log_det_jacobian(z0, event_ndims=1)
    # a fresh tensor: q inverts z (D passes of the MADE) instead of reading TFP's cache
    np.testing.assert_allclose(q.log_prob(tf.identity(z)).numpy(), expected.numpy(), atol=2e-3)
    assert np.abs((expected - gaussian.log_prob(z)).numpy()).max() > 0.1  # the flow acts
    # the flow is conditioned on x through q's parameters: other inputs, other maps
    other = model._posterior_flow(model.encoder(tf.constant(data.test[5:10])))
    assert np.abs(other.forward(z0).numpy() - z.numpy()).max() > 1e-3
    # the importance-sampled log p(x) is at least the ELBO
    lp = model.log_prob(x, n_samples=200, batch_samples=100).numpy()
    elbo = np.mean([model.elbo(x, n_samples=50).numpy() for _ in range(2)], axis=0)
    assert np.all(lp >= elbo - 0.05)
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.encode(x).numpy(), model.encode(x).numpy(), atol=1e-5)


def test_ffjord_hutchinson_trace_is_unbiased_for_the_exact_one():
    """Each row of a batch draws its own probe vector: 5,000 copies of a point give 5,000
    independent Hutchinson estimates of its log-determinant, whose mean must sit within 4
    standard errors of the exact trace integral."""
    keras.utils.set_random_seed(9)  # the network's initial weights, and the probes
    layer = _randomised(B.FFJORDLayer(3, hidden=(16,), exact_trace_dims=2), seed=9, size=0.5)
    points = np.random.default_rng(10).normal(size=(3, 3)).astype("float32")
    copies = 5000
    x = tf.constant(np.repeat(points, copies, axis=0))
    exact = layer(training=False).forward_log_det_jacobian(points, event_ndims=1).numpy()
    estimates = layer(training=True).forward_log_det_jacobian(x, event_ndims=1).numpy()
    estimates = estimates.reshape(3, copies)
    mean, error = estimates.mean(axis=1), estimates.std(axis=1) / np.sqrt(copies)
    assert np.all(estimates.std(axis=1) > 0.05)  # a stochastic estimate, not the exact trace
    assert np.all(np.abs(mean - exact) < 4 * error), (mean, exact, error)
    assert np.abs(exact).max() > 10 * error.max()  # sharp enough to see a biased estimator


def test_conditioner_nets_start_as_the_identity_or_uniform_like_pytorch():
    """#23 item 3: net_init=identity starts every coupling and MAF layer as the identity (the
    output layer at zero); uniform draws every kernel and bias from U(+-1/sqrt(fan_in)), as
    PyTorch's Linear, so the first step already moves every layer; both save and load."""
    AffineCoupling, MaskedAutoregressive = B.AffineCoupling, B.MaskedAutoregressive
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    keras.utils.set_random_seed(0)
    for cls in (AffineCoupling, MaskedAutoregressive):
        same = cls(dim=4, hidden=(8, 8), net_init="identity")
        same.build()
        np.testing.assert_allclose(same().forward(x).numpy(), x, atol=1e-6)
        moved = cls(dim=4, hidden=(8, 8), net_init="uniform")
        moved.build()
        assert np.abs(moved().forward(x).numpy() - x).max() > 1e-3
        net = moved.net if cls is AffineCoupling else moved.made
        for w in net.weights:  # every kernel and bias within 1/sqrt(fan_in), none all zero
            fan_in = w.shape[0] if len(w.shape) == 2 else None
            assert np.any(w.numpy() != 0)
            if fan_in:
                assert np.abs(w.numpy()).max() <= 1 / np.sqrt(fan_in) + 1e-6
        config = moved.get_config()
        assert config["net_init"] == "uniform"
        again = cls.from_config(config)
        again.build()
        again.set_weights(moved.get_weights())
        np.testing.assert_allclose(again().forward(x).numpy(), moved().forward(x).numpy(),
                                   atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="net_init"):
        AffineCoupling(dim=4, net_init="zeros")


def test_maf_forms_base_and_data_and_layers_saved_before_the_form_keep_theirs():
    """form=base: z = x exp(a(x<d)) + b(x<d) (zuko's); form=data: x = z exp(s) + t, the form of
    MAF layers saved before; a saved config without `form` loads as data. Both are exact
    densities: log-det against the autodiff Jacobian."""
    x = tf.constant(np.random.default_rng(2).normal(size=(6, 3)).astype("float32"))
    keras.utils.set_random_seed(1)
    layer = B.MaskedAutoregressive(dim=3, hidden=(8,), net_init="uniform")
    layer.build()
    params = layer.made(x).numpy()
    a = 3.0 * np.tanh(params[..., 1] / 3.0)
    z_base = layer().inverse(x).numpy()  # x -> base point
    np.testing.assert_allclose(z_base, x.numpy() * np.exp(a) + params[..., 0], atol=1e-5)
    data_form = _saved_before_the_form(layer)
    np.testing.assert_allclose(data_form().inverse(x).numpy(),
                               (x.numpy() - params[..., 0]) * np.exp(-a), atol=1e-5)  # fmt: skip
    _assert_exact_log_dets((layer, data_form), x)


def _saved_before_the_form(layer):
    """``layer`` loaded from its config without ``form`` (as saved before it), same weights."""
    old = layer.get_config()
    del old["form"]
    loaded = type(layer).from_config(old)
    loaded.build()
    loaded.set_weights(layer.get_weights())
    assert loaded.form == "data"
    return loaded


def _assert_exact_log_dets(layers, x):
    """Each layer's inverse log-det, by TFP and in one call, is log|det| of the autodiff
    Jacobian of its inverse."""
    for flow in layers:
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = flow().inverse(x)
        logdet = np.linalg.slogdet(tape.batch_jacobian(z, x).numpy())[1]
        np.testing.assert_allclose(flow().inverse_log_det_jacobian(x, 1).numpy(), logdet,
                                   atol=1e-4)  # fmt: skip
        np.testing.assert_allclose(flow.inverse_and_log_det(x)[1].numpy(), logdet, atol=1e-4)


def test_affine_coupling_forms_base_and_data_and_layers_saved_before_the_form_keep_theirs():
    """form=base: z2 = x2 exp(a(x1)) + b(x1) (zuko's); form=data: x2 = z2 exp(s(z1)) + t(z1)
    (TFP's, the form of layers saved before); a config without `form` loads as data. Both
    exact: log-det against the autodiff Jacobian, in TFP's chain and in the one-pass density."""
    x = tf.constant(np.random.default_rng(2).normal(size=(6, 4)).astype("float32"))
    keras.utils.set_random_seed(1)
    layer = B.AffineCoupling(dim=4, hidden=(8,), net_init="uniform")
    layer.build()
    params = layer._params(x[:, :2], None).numpy()
    a = 3.0 * np.tanh(params[..., 1] / 3.0)
    z_base = layer().inverse(x).numpy()
    np.testing.assert_allclose(z_base[:, :2], x.numpy()[:, :2])
    np.testing.assert_allclose(z_base[:, 2:], x.numpy()[:, 2:] * np.exp(a) + params[..., 0],
                               atol=1e-5)  # fmt: skip
    data_form = _saved_before_the_form(layer)
    expected = (x.numpy()[:, 2:] - params[..., 0]) * np.exp(-a)
    np.testing.assert_allclose(data_form().inverse(x).numpy()[:, 2:], expected, atol=1e-5)
    _assert_exact_log_dets((layer, data_form), x)


def test_soft_clamps_bound_the_log_scale_with_slope_one_at_zero():
    """rational: a / (1 + |a| / b) (zuko's MonotonicAffineTransform); tanh: b tanh(a / b).
    Both odd, inside (-b, b), slope 1 at 0."""
    a = tf.constant([-1e6, -7.0, -1.0, 0.0, 0.5, 3.0, 1e6])
    b = 3.0
    np.testing.assert_allclose(B.soft_clamp(a, b, "rational"), a / (1 + np.abs(a) / b), rtol=1e-6)
    np.testing.assert_allclose(B.soft_clamp(a, b, "tanh"), b * np.tanh(a / b), rtol=1e-6)
    for clamp in B.CLAMPS:
        out = B.soft_clamp(a, b, clamp).numpy()
        assert np.all(np.abs(out) <= b) and np.all(np.diff(out) > 0)
        with tf.GradientTape() as tape:
            zero = tf.constant(0.0)
            tape.watch(zero)
            y = B.soft_clamp(zero, b, clamp)
        assert tape.gradient(y, zero).numpy() == pytest.approx(1.0)


@pytest.mark.parametrize("cls", [B.MaskedAutoregressive, B.AffineCoupling])
def test_the_rational_clamp_is_an_exact_density_and_round_trips(cls):
    """clamp=rational: the log-scale a / (1 + |a| / b) in the base-side map, log-det against
    the autodiff Jacobian; the clamp survives get_config, and the layers' default (and a
    config without it, as saved before) stays tanh."""
    dim = 4
    x = tf.constant(np.random.default_rng(2).normal(size=(6, dim)).astype("float32"))
    keras.utils.set_random_seed(1)
    layer = cls(dim=dim, hidden=(8,), net_init="uniform", clamp="rational", scale_bound=2.0)
    layer.build()
    _randomised(layer, size=1.0)  # raw log-scales well past the bound
    if cls is B.MaskedAutoregressive:
        params, x2, kept = layer.made(x).numpy(), x.numpy(), 0
    else:
        params, x2, kept = layer._params(x[:, :2], None).numpy(), x.numpy()[:, 2:], 2
    a = params[..., 1] / (1 + np.abs(params[..., 1]) / 2.0)
    np.testing.assert_allclose(layer().inverse(x).numpy()[:, kept:],
                               x2 * np.exp(a) + params[..., 0], atol=1e-5)  # fmt: skip
    _assert_exact_log_dets((layer,), x)
    config = layer.get_config()
    assert config["clamp"] == "rational" and cls.from_config(config).clamp == "rational"
    del config["clamp"]
    assert cls.from_config(config).clamp == "tanh" and cls(dim=dim).clamp == "tanh"
    with pytest.raises(ValueError, match="clamp"):
        cls(dim=dim, clamp="sigmoid")


def test_flow_recipes_pass_their_scale_clamp_to_the_affine_layers():
    """The vector flows' `scale_clamp` (rational by default) reaches every MAF and coupling."""
    from gentk.api import get_registry
    from gentk.config import resolve_config
    from gentk.data.tabular import TabularData
    from gentk.errors import UserError

    x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
    for name, overrides, clamp in [("maf", [], "rational"), ("realnvp", ["scale_clamp=tanh"],
                                                              "tanh")]:  # fmt: skip
        recipe = get_registry().get("model", name).factory
        config = resolve_config(recipe.config, overrides=["steps=2", "hidden=8", *overrides])
        model = recipe.build(config, recipe.load_data(config, TabularData(x, None, None, "x")))
        affine = [layer for layer in model.flow_layers if hasattr(layer, "clamp")]
        assert len(affine) == 2 and all(layer.clamp == clamp for layer in affine)
    with pytest.raises(UserError, match="scale_clamp"):
        resolve_config(recipe.config, overrides=["scale_clamp=sigmoid"])


def test_a_scale_clamp_no_layer_would_use_is_refused():
    """A spline flow has no affine log-scale, multiscale image flows clamp with tanh: setting
    scale_clamp (or scale_bound) there is one error naming it, never a silent no-op."""
    from gentk.api import get_registry
    from gentk.config import resolve_config
    from gentk.errors import UserError
    from gentk.recipe import check_active_options

    nsf = get_registry().get("model", "nsf").factory
    for option in ("scale_clamp=tanh", "scale_bound=5"):
        config = resolve_config(nsf.config, overrides=[option])
        with pytest.raises(UserError, match="has an affine log-scale"):
            check_active_options(nsf, config)
    glow = get_registry().get("model", "glow").factory
    config = resolve_config(glow.config, overrides=["scale_clamp=tanh"])
    with pytest.raises(UserError, match="scale_clamp='tanh' applies to vectors"):
        glow.build(config, glow.load_data(config, None))


def test_the_lean_spline_is_tfps_rational_quadratic_spline():
    """RQSpline against tfb.RationalQuadraticSpline in float64: forward, inverse and both
    log-determinants, inside the interval and outside it (the identity), with finite
    gradients everywhere."""
    from gentk_flows.spline import RQSpline

    rng = np.random.default_rng(0)
    k, bound = 6, 3.0
    raw = tf.constant(rng.normal(size=(40, 3, 3 * k - 1)) * 2)
    widths, heights = B._bins(raw[..., :k], bound), B._bins(raw[..., k : 2 * k], bound)
    slopes = tf.nn.softplus(raw[..., 2 * k :]) + 1e-3
    ours = RQSpline(widths, heights, slopes, bound)
    tfps = tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)
    x = tf.constant(rng.uniform(-4, 4, size=(40, 3)))
    for name in ("forward", "inverse"):
        np.testing.assert_allclose(getattr(ours, name)(x), getattr(tfps, name)(x), atol=1e-10)
    for name in ("forward_log_det_jacobian", "inverse_log_det_jacobian"):
        np.testing.assert_allclose(getattr(ours, name)(x, 0), getattr(tfps, name)(x, 0),
                                   atol=1e-10)  # fmt: skip
    inverse, log_det = ours.inverse_and_log_det(x)  # one bin lookup for both
    np.testing.assert_allclose(inverse, tfps.inverse(x), atol=1e-10)
    np.testing.assert_allclose(log_det, tfps.inverse_log_det_jacobian(x, 0), atol=1e-10)
    outside = np.abs(x.numpy()) >= bound
    assert outside.any() and np.array_equal(ours.forward(x).numpy()[outside], x.numpy()[outside])
    with tf.GradientTape() as tape:
        tape.watch(raw)
        w, h = B._bins(raw[..., :k], bound), B._bins(raw[..., k : 2 * k], bound)
        flow = RQSpline(w, h, tf.nn.softplus(raw[..., 2 * k :]) + 1e-3, bound)
        total = tf.reduce_sum(flow.inverse_log_det_jacobian(x, 0) + flow.inverse(x))
    assert np.all(np.isfinite(tape.gradient(total, raw).numpy()))


def test_a_spline_flows_train_step_stays_small_to_trace():
    """The graph of a 4-layer spline-coupling flow's loss and gradients: TFP's spline put
    12,548 operations there, the lean one through TFP's chain 4,905, and the one-pass
    density (each network once) 2,915; it must stay well below the chain's."""
    layers = [B.SplineCoupling(2, hidden=(16,), bins=8, bound=4.0) if i % 2 == 0 else
              B.Reverse(2) for i in range(8)]  # fmt: skip
    model = FlowModel(layers, (2,))
    model(np.zeros((2, 2), "float32"))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(x))
        return tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function(tf.TensorSpec((None, 2), tf.float32)).graph
    ops = len(graph.get_operations())
    assert ops < 3500, ops  # 2,867 (2,915 with Pow squares); 12,548 with TFP's spline
