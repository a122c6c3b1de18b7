"""The GAN family's equations: the optimal discriminator and the minimax value, the f-GAN bounds
at the optimal critic, a WGAN-GP critic estimating W1, spectral normalisation, the generator
gradients of the minimax and non-saturating losses, and the training tricks' algebra."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gentk_gan.components import DCGANGenerator, MinibatchStdDev, MLPCritic, MLPGenerator
from gentk_gan.model import AdversarialModel, diff_augment
from scipy import stats
from scipy.integrate import trapezoid

from gentk.objectives import adversarial as adv

GRID = np.linspace(-12.0, 12.0, 200_001)


def _js(p, q):
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * trapezoid(a, GRID) + 0.5 * trapezoid(b, GRID)


def _train_critic(loss_fn, real, fake, steps=1500, lr=5e-3, penalty=None):
    """A small MLP critic trained on fixed 1-D samples (no generator)."""
    critic = MLPCritic(hidden=(32, 32))
    critic.build((None, 1))
    opt = keras.optimizers.Adam(lr)
    real = tf.constant(real[:, None], tf.float32)
    fake = tf.constant(fake[:, None], tf.float32)

    @tf.function
    def step(r, f):
        with tf.GradientTape() as tape:
            loss = loss_fn(critic(r), critic(f))
            if penalty is not None:
                loss += penalty(critic, r, f)
        grads = tape.gradient(loss, critic.trainable_variables)
        opt.apply_gradients(zip(grads, critic.trainable_variables))
        return loss

    rng = np.random.default_rng(0)
    for _ in range(steps):
        i = rng.integers(0, len(real), 256)
        step(tf.gather(real, i), tf.gather(fake, i))
    return critic


def test_optimal_discriminator_and_the_minimax_value_at_it():
    """D*(x) = p_data / (p_data + p_g), and V(D*) = 2 JS(p_data || p_g) - log 4."""
    rng = np.random.default_rng(1)
    p, q = stats.norm(0.0, 1.0), stats.norm(1.5, 1.0)
    critic = _train_critic(adv.minimax_critic_loss, p.rvs(20_000, random_state=rng),
                           q.rvs(20_000, random_state=rng))  # fmt: skip
    x = np.linspace(-1.0, 2.5, 30)
    d = tf.sigmoid(critic(tf.constant(x[:, None], tf.float32))).numpy()
    d_star = p.pdf(x) / (p.pdf(x) + q.pdf(x))
    assert np.max(np.abs(d - d_star)) < 0.06, np.c_[x, d, d_star]
    # the value at D*, by quadrature, is 2 JS - log 4; and our loss is -V on samples
    ps, qs = p.pdf(GRID), q.pdf(GRID)
    dg = ps / (ps + qs)
    value = trapezoid(ps * np.log(dg), GRID) + trapezoid(qs * np.log1p(-dg), GRID)
    assert value == pytest.approx(2 * _js(ps, qs) - np.log(4.0), abs=1e-6)
    xr, xf = p.rvs(400_000, random_state=rng), q.rvs(400_000, random_state=rng)
    logit = lambda v: np.log(p.pdf(v)) - np.log(q.pdf(v))  # noqa: E731 - the logit of D*
    loss = float(adv.minimax_critic_loss(logit(xr), logit(xf)))
    assert -loss == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize("name", sorted(adv.F_DIVERGENCES))
def test_f_gan_bound_at_the_optimal_critic_is_the_divergence(name):
    """sup_T E_P[T] - E_Q[f*(T)] = D_f(P || Q), attained at T* = f'(p/q); other critics stay
    below."""
    d = adv.F_DIVERGENCES[name]
    p, q = stats.norm(0.0, 1.0), stats.norm(0.5, 1.2)
    grid = np.linspace(-9, 9, 100_001)
    ps, qs = p.pdf(grid), q.pdf(grid)
    ratio = ps / qs
    exact = trapezoid(qs * d.f(ratio), grid)
    t_star = d.f_prime(ratio)

    def bound(t):
        ft = d.conjugate(tf.constant(t, tf.float64)).numpy()
        return trapezoid(ps * t, grid) - trapezoid(qs * ft, grid)

    assert bound(t_star) == pytest.approx(exact, rel=1e-4, abs=1e-6)
    for other in (t_star - 0.2 * np.abs(t_star) - 0.05, 0.9 * t_star):
        assert bound(other) < exact
    # the losses read raw outputs through the output activation: check on samples
    rng = np.random.default_rng(0)
    xr, xf = p.rvs(200_000, random_state=rng), q.rvs(200_000, random_state=rng)
    mc = float(
        adv.f_bound(name, d.f_prime(p.pdf(xr) / q.pdf(xr)), d.f_prime(p.pdf(xf) / q.pdf(xf)))
    )
    assert mc == pytest.approx(exact, rel=0.1, abs=0.01)


def test_output_activations_map_any_critic_output_into_the_conjugate_domain():
    v = tf.constant(np.linspace(-20, 20, 401), tf.float32)
    for name, d in adv.F_DIVERGENCES.items():
        t = d.activation(tf.cast(v, tf.float64))
        direct = d.conjugate(t).numpy()
        fused = d.conjugate_activation(v).numpy()
        assert np.all(np.isfinite(fused)), name  # the losses use the fused form
        small = np.abs(v.numpy()) < 8  # where float64 composes without overflow
        np.testing.assert_allclose(fused[small], direct[small], rtol=1e-4, atol=1e-5)
        assert np.isfinite(float(adv.f_critic_loss(name, v, v))), name


def test_wgan_gp_critic_estimates_w1_of_two_gaussians():
    """Trained with the model's own gradient penalty, -critic loss -> W1 = |mu1 - mu2| = 2
    between the data N(0, 1) and a generator frozen at N(2, 1)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    real = rng.normal(0.0, 1.0, size=(8192, 1)).astype("float32")
    generator = MLPGenerator((1,), latent_dim=1, hidden=(), output_activation="linear")
    model = AdversarialModel(
        generator,
        MLPCritic(hidden=(32, 32)),
        divergence="wasserstein",
        latent_dim=1,
        gradient_penalty=10.0,
        critic_steps=1_000_000,  # the generator never moves
    )
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-4),
        critic_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5, beta_2=0.9),
    )
    model(real[:2])
    generator.head.set_weights([np.ones((1, 1), "float32"), np.full((1,), 2.0, "float32")])

    def fake_moments():
        x = model.generator(tf.constant(rng.normal(size=(20_000, 1)), tf.float32)).numpy()
        return x.mean(), x.std()

    assert fake_moments() == pytest.approx((2.0, 1.0), abs=0.05)
    model.fit(real, batch_size=256, epochs=40, verbose=0)
    assert int(model.generator_optimizer.iterations) == 0
    assert fake_moments() == pytest.approx((2.0, 1.0), abs=0.05)
    xr = tf.constant(rng.normal(0.0, 1.0, (50_000, 1)), tf.float32)
    xf = model.generator(tf.constant(rng.normal(size=(50_000, 1)), tf.float32))
    w1 = -float(adv.wasserstein_critic_loss(model.critic(xr), model.critic(xf)))
    assert w1 == pytest.approx(2.0, abs=0.25)


def test_spectral_norm_gives_kernels_of_top_singular_value_one():
    critic = MLPCritic(hidden=(16, 8), spectral_norm=True)
    x = tf.constant(np.random.default_rng(0).normal(size=(32, 12)), tf.float32)
    critic(x)
    for _ in range(60):  # power iterations run in training mode
        critic(x, training=True)
    layers = [*critic.body, critic.head]
    for wrapped in layers:
        sigma = np.linalg.svd(wrapped.layer.kernel.numpy(), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.02)
        assert any("vector_u" in w.path for w in wrapped.non_trainable_weights)  # saved


def test_non_saturating_gradient_beats_minimax_where_the_critic_rejects():
    s = tf.Variable([-6.0, -4.0, 0.0])
    with tf.GradientTape(persistent=True) as tape:
        mm = adv.minimax_generator_loss(s)
        ns = adv.nonsaturating_generator_loss(s)
    g_mm, g_ns = tape.gradient(mm, s).numpy(), tape.gradient(ns, s).numpy()
    sig = 1 / (1 + np.exp(-s.numpy()))
    np.testing.assert_allclose(g_mm, -sig / 3, rtol=1e-5)  # d/ds log(1 - D) = -D
    np.testing.assert_allclose(g_ns, -(1 - sig) / 3, rtol=1e-5)  # d/ds -log D = -(1 - D)
    assert np.all(np.abs(g_ns[:2]) > 50 * np.abs(g_mm[:2]))


def test_one_sided_label_smoothing_is_cross_entropy_with_target_one_minus_alpha():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=64).astype("float32"), rng.normal(size=64).astype("float32")
    alpha = 0.1
    d = 1 / (1 + np.exp(-real.astype(np.float64)))
    expected = np.mean(-(1 - alpha) * np.log(d) - alpha * np.log(1 - d)) + np.mean(
        np.log1p(np.exp(fake.astype(np.float64)))
    )
    ours = float(adv.minimax_critic_loss(real, fake)) + alpha * real.mean()
    assert ours == pytest.approx(expected, rel=1e-5)


def test_softmax_forms_match_the_sigmoid_forms_on_logit_differences():
    rng = np.random.default_rng(0)
    real2, fake2 = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    real, fake = real2[:, 1] - real2[:, 0], fake2[:, 1] - fake2[:, 0]
    pairs = [
        (adv.softmax_minimax_critic_loss(real2, fake2), adv.minimax_critic_loss(real, fake)),
        (adv.softmax_minimax_generator_loss(fake2), adv.minimax_generator_loss(fake)),
        (adv.softmax_nonsaturating_generator_loss(fake2), adv.nonsaturating_generator_loss(fake)),
    ]
    for a, b in pairs:
        assert float(a) == pytest.approx(float(b), rel=1e-5)


def test_hinge_least_squares_and_wasserstein_formulas():
    real, fake = np.array([2.0, 0.5, -1.0]), np.array([-2.0, 0.0, 1.5])
    assert float(adv.hinge_critic_loss(real, fake)) == pytest.approx(
        np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
    )
    assert float(adv.least_squares_critic_loss(real, fake)) == pytest.approx(
        0.5 * np.mean((real - 1) ** 2) + 0.5 * np.mean(fake**2)
    )
    assert float(adv.wasserstein_critic_loss(real, fake)) == pytest.approx(
        fake.mean() - real.mean()
    )
    assert float(adv.least_squares_generator_loss(fake)) == pytest.approx(
        0.5 * np.mean((fake - 1) ** 2)
    )


def test_minibatch_std_feature_and_the_dcgan_shapes():
    h = tf.constant(np.random.default_rng(0).normal(size=(5, 3)), tf.float32)
    out = MinibatchStdDev()(h).numpy()
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out[:, 3], np.mean(np.std(h.numpy(), axis=0)), rtol=1e-4)
    gen = DCGANGenerator((8, 8, 1), latent_dim=4, filters=(16, 8))
    assert gen(tf.zeros((3, 4))).shape == (3, 8, 8, 1)
    with pytest.raises(ValueError, match="not divisible"):
        DCGANGenerator((8, 8, 1), latent_dim=4, filters=(16, 8, 4, 2))


def test_diffaugment_keeps_shapes_and_passes_gradients():
    x = tf.Variable(np.random.default_rng(0).random((4, 8, 8, 1)), dtype=tf.float32)
    seed = keras.random.SeedGenerator(0)
    with tf.GradientTape() as tape:
        y = diff_augment(x, ("translation", "cutout", "color"), seed)
        total = tf.reduce_sum(y)
    assert y.shape == x.shape
    assert np.any(tape.gradient(total, x).numpy() != 0)
    # cutout zeroes a square of half the side (clipped at the border): at most a quarter
    zeroed = (diff_augment(tf.ones((32, 8, 8, 1)), ("cutout",), seed).numpy() == 0).mean((1, 2, 3))
    assert np.all(zeroed > 0) and np.all(zeroed <= 0.25) and np.any(zeroed == 0.25)


def test_unrolled_critic_is_k_steps_of_gradient_descent_and_trains_the_generator():
    """w_{k+1} = w_k - eta grad L_D(w_k), computed without touching the critic's variables,
    and the generator's gradient flows through the unrolled steps."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    real = tf.constant(rng.normal(size=(64, 2)), tf.float32)
    fake = tf.constant(rng.normal(1.0, 1.0, size=(64, 2)), tf.float32)
    model = AdversarialModel(
        MLPGenerator((2,), latent_dim=3, hidden=(8,), output_activation="linear"),
        MLPCritic(hidden=(8,)),
        latent_dim=3,
        unroll_steps=2,
        unroll_learning_rate=0.1,
    )
    model(real)
    before = [v.numpy().copy() for v in model.critic.trainable_variables]
    unrolled = model.unrolled_critic_weights(real, fake, None)
    # by hand: two plain gradient steps on a copy of the critic
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model.critic))
    copy(real)
    copy.set_weights(model.critic.get_weights())
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = adv.minimax_critic_loss(copy(real), copy(fake))
        grads = tape.gradient(loss, copy.trainable_variables)
        for v, g in zip(copy.trainable_variables, grads):
            v.assign(v - 0.1 * g)
    for mine, theirs in zip(unrolled, copy.trainable_variables):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    for v, b in zip(model.critic.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)  # the critic itself is untouched
    with tf.GradientTape() as tape:
        value = model.generator_loss(real, training=True)
    grads = tape.gradient(value, model.generator.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    model.compile()
    history = model.fit(real.numpy(), batch_size=32, epochs=2, verbose=0)
    assert np.isfinite(history.history["generator_loss"]).all()


def test_virtual_batch_norm_uses_the_reference_and_the_example_alone(tmp_path):
    from gentk_gan.components import VirtualBatchNorm

    rng = np.random.default_rng(0)
    ref, x = rng.normal(size=(6, 3)), rng.normal(2.0, 3.0, size=(4, 3))
    layer = VirtualBatchNorm(6)
    out = layer(tf.constant(np.concatenate([ref, x]), tf.float32)).numpy()[6:]
    for i in range(4):  # mu_i, var_i from the 6 reference rows and row i: weights 1/7
        both = np.concatenate([ref, x[i : i + 1]])
        expected = (x[i] - both.mean(0)) / np.sqrt(both.var(0) + 1e-5)
        np.testing.assert_allclose(out[i], expected, rtol=1e-4, atol=1e-5)
    gen = MLPGenerator((2,), latent_dim=4, hidden=(8, 8), virtual_batch_norm=16)
    z = tf.constant(rng.normal(size=(5, 4)), tf.float32)
    alone = gen(z[:1]).numpy()
    np.testing.assert_allclose(gen(z).numpy()[:1], alone, rtol=1e-5, atol=1e-6)  # no batch effect
    assert gen.reference_z.shape == (16, 4) and not gen.reference_z.trainable
    model = AdversarialModel(gen, MLPCritic(hidden=(8,)), latent_dim=4, ema_decay=0.9)
    model.compile()
    points = rng.normal(size=(64, 2)).astype("float32")
    model.fit(points, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "vbn.keras")
    import gentk

    loaded = gentk.load_model(tmp_path / "vbn.keras")
    np.testing.assert_allclose(loaded.generator(z).numpy(), model.generator(z).numpy(), atol=1e-5)


def test_feature_matching_is_the_squared_gap_of_mean_critic_features():
    """L_G = || mean_x f(x) - mean_z f(G(z)) ||^2 over the critic's last hidden layer; the real
    side carries no gradient, the critic's own score does not enter."""
    rng = np.random.default_rng(1)
    real = tf.constant(rng.normal(size=(32, 2)), tf.float32)
    fake = tf.constant(rng.normal(0.5, 2.0, size=(32, 2)), tf.float32)
    model = AdversarialModel(
        MLPGenerator((2,), latent_dim=3, hidden=(8,), output_activation="linear"),
        MLPCritic(hidden=(16, 8)),
        latent_dim=3,
        feature_matching=True,
    )
    model(real)
    critic = model.critic
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([real, fake])
        loss = model._generator_objective(None, None, None, (real, fake, None, False))
    f_real, f_fake = critic.features(real).numpy(), critic.features(fake).numpy()
    assert f_real.shape == (32, 8)
    expected = np.sum((f_real.mean(0) - f_fake.mean(0)) ** 2)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)
    assert tape.gradient(loss, real) is None  # the real features are a fixed target
    assert np.abs(tape.gradient(loss, fake).numpy()).max() > 0
    same = model._generator_objective(None, None, None, (real, tf.identity(real), None, False))
    assert float(same) == 0.0
    with tf.GradientTape() as tape:
        value = model.generator_loss(real, training=True)
    grads = tape.gradient(value, model.generator.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    with pytest.raises(ValueError, match="do not combine"):
        AdversarialModel(MLPGenerator((2,), latent_dim=3), MLPCritic(), latent_dim=3,
                         feature_matching=True, unroll_steps=1)  # fmt: skip


def test_sample_quality_keys_name_the_data():
    from types import SimpleNamespace

    from gentk_gan.recipe import _data_name

    def name(source):
        return _data_name(SimpleNamespace(source=source))

    assert name("digits") == "digits"
    assert name("toy:ring") == "ring"
    assert name("/data/faces.npz") == "faces"
    # the IDX sets' generic file names: the folder says which set it is
    assert name("/shared/data/mnist/train-images-idx3-ubyte.gz") == "mnist"
    assert name("/x/fashion-mnist/t10k-images-idx3-ubyte") == "fashion_mnist"


def test_the_generator_ema_ramps_its_decay_up_with_the_update_count():
    """avg <- d avg + (1 - d) w with d = min(decay, (1 + t) / (10 + t)) after t generator
    updates: early averages forget the untrained generator quickly."""
    model = AdversarialModel(MLPGenerator((2,), latent_dim=3, hidden=(4,)), MLPCritic(hidden=(4,)),
                             latent_dim=3, ema_decay=0.999)  # fmt: skip
    model.compile()
    model(tf.zeros((2, 2)))
    model.build_optimizers()
    rng = np.random.default_rng(0)
    for t, expected in ((1, 2 / 11), (90, 91 / 100), (100000, 0.999)):
        model.generator_optimizer.iterations.assign(t)
        assert float(model.ema_rate()) == pytest.approx(expected, rel=1e-6)
        before = [v.numpy().copy() for v in model.ema_generator.weights]
        for w in model.generator.trainable_weights:
            w.assign(rng.normal(size=w.shape).astype("float32"))
        model._update_ema()
        for avg, old, w in zip(model.ema_generator.weights, before, model.generator.weights):
            if w.trainable:
                np.testing.assert_allclose(
                    avg.numpy(), expected * old + (1 - expected) * w.numpy(), rtol=1e-5, atol=1e-6
                )


def test_an_alternating_step_calls_the_critic_three_times_with_feature_matching_too():
    """#23 item 4: no discarded forward passes. With one critic step per generator step the
    critic update scores the real and the fake batch, and the generator update scores its own
    fresh fakes; the generator objective is not also computed (and thrown away) in the critic
    update, which cost two more critic passes with feature matching."""
    calls = []

    class Counting(MLPCritic):
        def call(self, x, condition=None, training=False):
            calls.append("call")
            return super().call(x, condition, training=training)

        def features(self, x, condition=None, training=False):
            calls.append("features")
            return super().features(x, condition, training=training)

    # call() goes through features(); feature matching reads features of real and fake
    for feature_matching, features in ((False, 3), (True, 3 + 2)):
        model = AdversarialModel(MLPGenerator((2,), latent_dim=3, hidden=(4,)),
                                 Counting(hidden=(4,)), latent_dim=3,
                                 feature_matching=feature_matching)  # fmt: skip
        model.compile()
        model(tf.zeros((4, 2)))
        model.build_optimizers()
        calls.clear()
        logs = model.train_step(tf.zeros((4, 2)))
        assert (calls.count("call"), calls.count("features")) == (3, features), calls
        assert {"critic_loss", "generator_loss"} <= set(logs)


def test_the_supervised_only_baseline_trains_a_copy_of_the_critic_for_the_whole_budget(
    monkeypatch,
):
    """ssgan's ``supervised_only_accuracy``: the critic's architecture trained on the labelled
    rows alone, for as many updates as the GAN's critic had (in a graph, a thousand a call);
    the model's own critic is left as it was."""
    import math

    from gentk_gan.recipe import _supervised_baseline

    from gentk.config import resolve_config
    from gentk.data import gaussian_ring
    from gentk.plugins import get_registry

    recipe = get_registry().get("model", "ssgan").factory
    config = resolve_config(
        recipe.config,
        defaults=recipe.data_defaults((2,)),
        overrides=["epochs=110", "hidden=16", "labelled=40"],  # 1,100 updates: two calls
    )
    data = recipe.load_data(config, gaussian_ring(n=800))
    config = recipe.with_components(config, data.shape)
    model = recipe.build(config, data)
    before = [np.array(w) for w in model.critic.get_weights()]
    made = []

    class Recorded(keras.optimizers.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(keras.optimizers, "Adam", Recorded)
    accuracy = _supervised_baseline(model, config, data, None)
    steps = max(200, config.epochs * math.ceil(len(data.train) / config.batch_size))
    assert int(made[0].iterations.numpy()) == steps
    assert accuracy >= 0.9  # the ring's eight modes, five labelled points each
    for w, b in zip(model.critic.get_weights(), before):
        np.testing.assert_array_equal(w, b)
