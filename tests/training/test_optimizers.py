"""``FusedAdam``: the same updates as Keras' Adam (weight decay, clipping, sparse gradients,
amsgrad), one kernel per variable, and a config round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gentk.training.optimizers import FusedAdam


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


def _train_embedding(optimizer, init, batches):
    table = keras.Variable(init)

    @tf.function
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.gather(table, ids)))
        grad = tape.gradient(loss, table)
        assert isinstance(grad, tf.IndexedSlices)
        optimizer.apply_gradients([(grad, table)])

    for ids in batches:
        step(tf.constant(ids))
    return table.numpy()


def test_fused_adam_takes_keras_path_for_sparse_gradients():
    init = np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
    batches = ([0, 3], [3, 5, 5], [9])
    ours = _train_embedding(FusedAdam(0.05), init, batches)
    theirs = _train_embedding(keras.optimizers.Adam(0.05), init, batches)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    untouched = [1, 2, 4, 6, 7, 8]
    np.testing.assert_array_equal(ours[untouched], init[untouched])
    assert not np.allclose(ours[[0, 3, 5, 9]], init[[0, 3, 5, 9]])


def test_fused_adam_round_trips_through_its_config():
    opt = FusedAdam(3e-4, beta_1=0.5, beta_2=0.9, weight_decay=0.01)
    config = keras.saving.serialize_keras_object(opt)
    assert config["registered_name"] == "gentk>FusedAdam"
    again = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(again, FusedAdam) and again.get_config() == opt.get_config()
