"""One conformance suite over everything registered: each new model or component gets all of it.

Components: build from their ``example``, outputs finite, gradients reach every trainable
weight, ``get_config`` round trip with identical outputs. Models: build from the recipe's smoke
config on its default data, a few training steps with finite loss, gradients reach every
weight, ``get_config`` round trip, ``save`` -> ``gentk.load_model(safe_mode=True)`` with the same
outputs and optimizer step count.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import gentk
from gentk.config import resolve_config
from gentk.interfaces import Divergence
from gentk.plugins import get_registry
from gentk.training.runner import build_compiled_model

REGISTRY = get_registry()
COMPONENTS = [e for e in REGISTRY.entries() if e.kind not in ("model", "dataset")]
MODELS = [e for e in REGISTRY.entries("model")]


def _tensors_of(out):
    """Differentiable tensors that summarise an output (a distribution or a tensor)."""
    if isinstance(out, tf.Tensor) or isinstance(out, np.ndarray):
        return [tf.convert_to_tensor(out)]
    tensors = []
    for method in ("mean", "stddev"):
        try:
            tensors.append(getattr(out, method)())
        except (NotImplementedError, TypeError, ValueError):
            pass
    assert tensors, f"cannot read {type(out).__name__}"
    return tensors


def _scalar(tensors):
    rng = np.random.default_rng(0)
    return tf.add_n(
        [tf.reduce_sum(t * rng.normal(size=t.shape).astype("float32")) for t in tensors]
    )


@pytest.mark.parametrize("entry", COMPONENTS, ids=lambda e: f"{e.kind}:{e.name}")
def test_component_conformance(entry):
    assert entry.example is not None, f"{entry.kind} {entry.name} registered without an example"
    component, args = entry.example()
    if isinstance(component, Divergence):
        q, p = args
        value = component.between(q, p, q.sample(seed=tf.constant([0, 1])))
        assert value.shape == q.batch_shape and np.all(np.isfinite(value))
        assert "latent" in component.supports
        return
    if not isinstance(component, keras.layers.Layer):
        values = np.asarray(component(*args))
        assert np.all(np.isfinite(values))
        clone = type(component)(**component.get_config())
        np.testing.assert_allclose(np.asarray(clone(*args)), values)
        return
    with tf.GradientTape() as tape:
        tensors = _tensors_of(component(*args))
        loss = _scalar(tensors)
    for t in tensors:
        assert np.all(np.isfinite(t.numpy()))
        assert t.shape[0] == np.asarray(args[0]).shape[0]
    grads = tape.gradient(loss, component.trainable_weights)
    assert component.trainable_weights, "a component with no weights"
    for w, g in zip(component.trainable_weights, grads):
        assert g is not None and np.any(g.numpy() != 0), f"no gradient reaches {w.path}"
    config = keras.saving.serialize_keras_object(component)
    clone = keras.saving.deserialize_keras_object(config, safe_mode=True)
    clone(*args)
    clone.set_weights(component.get_weights())
    for a, b in zip(_tensors_of(component(*args)), _tensors_of(clone(*args))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: e.name)
def test_model_conformance(entry, tmp_path):
    recipe = entry.factory
    assert recipe.name == entry.name and entry.help
    config = resolve_config(recipe.config, None, [], **recipe.smoke)
    gentk.training.runner.seed_everything(0)
    data = recipe.load_data(config, None)
    model = build_compiled_model(recipe, config, data)
    assert isinstance(model, keras.Model) and model.built
    batch = next(iter(recipe.train_dataset(config, data)))
    history = model.fit(
        recipe.train_dataset(config, data).take(3), epochs=1, verbose=0, shuffle=False
    )
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), key
    with tf.GradientTape() as tape:
        loss = model.compute_losses(batch, training=True)[model.loss_names[0]]
    grads = tape.gradient(loss, model.trainable_variables)
    for w, g in zip(model.trainable_variables, grads):
        assert g is not None and np.any(tf.convert_to_tensor(g).numpy() != 0), w.path
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = gentk.load_model(path)
    x = batch[0] if isinstance(batch, tuple) else batch
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(loaded(x)), rtol=1e-5, atol=1e-5)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 3
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: e.name)
def test_shared_optimizer_options_reach_the_optimizer(entry):
    recipe = entry.factory
    config = resolve_config(
        recipe.config, None, ["weight_decay=0.25", "learning_rate=0.002"], **recipe.smoke
    )
    data = recipe.load_data(config, None)
    model = recipe.build(config, data)
    recipe.compile(model, config, jit_compile=False)
    assert model.optimizer.weight_decay == pytest.approx(0.25)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)
