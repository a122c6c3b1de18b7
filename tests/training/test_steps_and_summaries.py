"""Several train steps per graph call train exactly as one step per call, and the TensorBoard
epoch scalars land where Keras' TensorBoard callback put them."""

from __future__ import annotations

import keras
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import gentk
from gentk.plugins import get_registry
from gentk.training.callbacks import EpochSummaries


def _weights_after(steps_per_execution):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])  # fmt: skip
    model.compile(keras.optimizers.Adam(0.05), "mse", steps_per_execution=steps_per_execution)
    x = np.random.default_rng(0).normal(size=(70, 3)).astype("float32")  # 5 batches, last of 6
    model.fit(x, x.sum(1, keepdims=True), batch_size=16, epochs=2, verbose=0, shuffle=False)
    return [w.numpy() for w in model.weights], model.optimizer.iterations.numpy()


def test_several_steps_per_call_train_exactly_as_one():
    one, steps_one = _weights_after(1)
    eight, steps_eight = _weights_after(8)
    assert steps_one == steps_eight == 10  # the partial last call runs its steps, no more
    for a, b in zip(one, eight):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _scalars(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [(e.step, float(e.tensor_proto.float_val[0])) for e in events.Tensors(tag)]
            for tag in events.Tags()["tensors"]}  # fmt: skip


def test_epoch_summaries_write_keras_layout(tmp_path):
    callback = EpochSummaries(tmp_path)
    callback.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    callback.model.compile(keras.optimizers.Adam(0.01), "mse")
    callback.on_epoch_end(0, {"loss": 2.0, "val_loss": 3.0})
    callback.on_epoch_end(1, {"loss": 1.5})
    callback.on_train_end()
    train, validation = _scalars(tmp_path / "train"), _scalars(tmp_path / "validation")
    assert train["epoch_loss"] == [(0, 2.0), (1, 1.5)]
    assert [s for s, _ in train["epoch_learning_rate"]] == [0, 1]
    np.testing.assert_allclose(train["epoch_learning_rate"][0][1], 0.01, rtol=1e-6)
    assert validation == {"epoch_loss": [(0, 3.0)]}


def test_a_run_logs_its_epochs_to_tensorboard(tmp_path):
    recipe = get_registry().get("model", "vae").factory
    gentk.run(recipe, verbose=0, output=tmp_path / "run", epochs=2, seed=0,
              overrides=["hidden=(8,)", "nll_samples=2", "validation_every=1"])  # fmt: skip
    train = _scalars(tmp_path / "run" / "tensorboard" / "train")
    assert [s for s, _ in train["epoch_loss"]] == [0, 1]
    assert "epoch_loss" in _scalars(tmp_path / "run" / "tensorboard" / "validation")
