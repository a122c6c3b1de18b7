"""``FusedAdam``: the same updates as Keras' Adam (weight decay, clipping, sparse gradients,
amsgrad), one kernel per variable, and a config round trip. ``LazyAdam``: Adam on the rows a
sparse gradient touches, nothing elsewhere, dense gradients as Adam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gentk.training.optimizers import FusedAdam, LazyAdam


def _train(optimizer, grads, init):
    variables = [keras.Variable(v) for v in init]

    @tf.function
    def step(g):
        optimizer.apply_gradients(zip(g, variables))

    for g in grads:
        step(g)
    return [v.numpy() for v in variables], int(optimizer.iterations.numpy())


@pytest.mark.parametrize(
    "options",
    [{}, {"weight_decay": 0.05, "clipnorm": 1.0}, {"amsgrad": True}, {"beta_1": 0.5}],
)
def test_fused_adam_makes_keras_adams_updates(options):
    rng = np.random.default_rng(0)
    init = [rng.normal(size=(7, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    grads = [[tf.constant(rng.normal(size=v.shape), tf.float32) for v in init] for _ in range(6)]
    ours, steps = _train(FusedAdam(0.01, **options), grads, init)
    theirs, _ = _train(keras.optimizers.Adam(0.01, **options), grads, init)
    assert steps == 6
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    moved = np.abs(ours[0] - init[0]).max()
    assert 0.01 < moved < 0.07  # six steps of about lr each


def _train_embedding(optimizer, init, batches, densify=False):
    """``optimizer`` on ``loss = sum(table[ids]^2)`` per batch; ``densify``: the gradient made
    a dense tensor first (duplicate rows summed), as plain Adam sees it."""
    table = keras.Variable(init)

    @tf.function
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.gather(table, ids)))
        grad = tape.gradient(loss, table)
        assert isinstance(grad, tf.IndexedSlices)
        optimizer.apply_gradients([(tf.convert_to_tensor(grad) if densify else grad, table)])

    for ids in batches:
        step(tf.constant(ids))
    return table.numpy()


def test_fused_adam_sums_a_sparse_gradients_rows_as_adam_does():
    init = np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
    batches = ([0, 3], [3, 5, 5], [9])
    ours = _train_embedding(FusedAdam(0.05), init, batches)
    theirs = _train_embedding(keras.optimizers.Adam(0.05), init, batches, densify=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    untouched = [1, 2, 4, 6, 7, 8]
    np.testing.assert_array_equal(ours[untouched], init[untouched])
    assert not np.allclose(ours[[0, 3, 5, 9]], init[[0, 3, 5, 9]])
    # Keras' own Adam squares the two slices of row 5 apart: a longer step than Adam's
    keras_own = _train_embedding(keras.optimizers.Adam(0.05), init, batches[1:2])
    adam = _train_embedding(keras.optimizers.Adam(0.05), init, batches[1:2], densify=True)
    step = np.abs(adam[5] - init[5])
    np.testing.assert_allclose(step, 0.05, rtol=1e-3)  # Adam's first step: lr per weight
    np.testing.assert_allclose(np.abs(keras_own[5] - init[5]), 0.05 * np.sqrt(2), rtol=1e-3)


def test_fused_adam_round_trips_through_its_config():
    opt = FusedAdam(3e-4, beta_1=0.5, beta_2=0.9, weight_decay=0.01)
    config = keras.saving.serialize_keras_object(opt)
    assert config["registered_name"] == "gentk>FusedAdam"
    again = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(again, FusedAdam) and again.get_config() == opt.get_config()


def _lazy_adam_reference(init, batches, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """Lazy Adam in NumPy on ``loss = sum(table[ids]^2)``: the touched rows' gradients
    (duplicates summed) update their moments and weights with the global step's bias
    correction; the other rows do not change."""
    w, m, v = init.astype("float64"), np.zeros(init.shape), np.zeros(init.shape)
    for t, ids in enumerate(batches, start=1):
        g = np.zeros_like(w)
        np.add.at(g, ids, 2 * w[ids])
        rows = np.unique(ids)
        m[rows] = beta_1 * m[rows] + (1 - beta_1) * g[rows]
        v[rows] = beta_2 * v[rows] + (1 - beta_2) * g[rows] ** 2
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    return w


def test_lazy_adam_updates_the_touched_rows_only():
    init = np.random.default_rng(2).normal(size=(10, 4)).astype("float32")
    batches = ([0, 3], [3, 5, 5], [9], [0, 0, 3])
    ours = _train_embedding(LazyAdam(0.05), init, batches)
    np.testing.assert_allclose(ours, _lazy_adam_reference(init, batches, 0.05), rtol=1e-5)
    untouched = [1, 2, 4, 6, 7, 8]
    np.testing.assert_array_equal(ours[untouched], init[untouched])
    dense = _train_embedding(keras.optimizers.Adam(0.05), init, batches, densify=True)
    # row 9 is touched once, at step 3: dense Adam moves it again at step 4 by its momentum
    assert not np.allclose(ours[9], dense[9])
    after_3 = _train_embedding(keras.optimizers.Adam(0.05), init, batches[:3], densify=True)
    np.testing.assert_allclose(ours[9], after_3[9], rtol=1e-5)  # lazy stops where it stood


def test_lazy_adam_equals_adam_on_rows_touched_every_step():
    init = np.random.default_rng(3).normal(size=(8, 3)).astype("float32")
    batches = ([1, 4, 4], [4, 1], [1, 4, 6], [4, 1])
    ours = _train_embedding(LazyAdam(0.02), init, batches)
    dense = _train_embedding(keras.optimizers.Adam(0.02), init, batches, densify=True)
    np.testing.assert_allclose(ours[[1, 4]], dense[[1, 4]], rtol=1e-5)


def test_lazy_adam_is_adam_for_dense_gradients_and_round_trips():
    rng = np.random.default_rng(4)
    init = [rng.normal(size=(5, 2)).astype("float32")]
    grads = [[tf.constant(rng.normal(size=(5, 2)), tf.float32)] for _ in range(4)]
    ours, _ = _train(LazyAdam(0.01), grads, init)
    theirs, _ = _train(keras.optimizers.Adam(0.01), grads, init)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-7)
    config = keras.saving.serialize_keras_object(LazyAdam(1e-3, beta_1=0.5))
    assert config["registered_name"] == "gentk>LazyAdam"
    again = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(again, LazyAdam) and again.get_config()["beta_1"] == 0.5


def test_lazy_adam_updates_rows_inside_a_distribution_strategy():
    """Under ``tf.distribute`` the update runs on each variable's local copy (the rows are
    read through its handle): the same result as without a strategy."""
    init = np.random.default_rng(5).normal(size=(6, 2)).astype("float32")
    batches = ([1, 4, 4], [4, 0])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        table = keras.Variable(init)
        optimizer = LazyAdam(0.05)
        optimizer.build([table])

    @tf.function
    def step(ids):
        def replica(ids):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(tf.gather(table.value, ids)))
            optimizer.apply_gradients(zip(tape.gradient(loss, [table]), [table]))

        strategy.run(replica, args=(ids,))

    for ids in batches:
        step(tf.constant(ids))
    np.testing.assert_allclose(
        table.numpy(), _train_embedding(LazyAdam(0.05), init, batches), rtol=1e-6
    )
