"""``records_config`` and ``constructor_options``: constructor plumbing written once."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

import gentk
from gentk.configurable import constructor_options, records_config


@keras.saving.register_keras_serializable(package="gentk_tests")
@records_config
class Scaled(keras.Model):
    def __init__(self, inner, factor=2.0, widths=(3,), seed=0, **kwargs):
        super().__init__(**kwargs)
        self.inner = (
            keras.saving.deserialize_keras_object(inner) if isinstance(inner, dict) else inner
        )
        self.factor = float(factor)
        self.widths = tuple(widths)

    def call(self, x):
        return self.factor * self.inner(x)


@keras.saving.register_keras_serializable(package="gentk_tests")
class Shifted(Scaled):
    """Not decorated: its arguments pass on through ``**kwargs`` to the recorded base."""

    def __init__(self, inner, **kwargs):
        super().__init__(inner, **kwargs)


@keras.saving.register_keras_serializable(package="gentk_tests")
@records_config
class Offset(Scaled):
    def __init__(self, inner, offset=1.0, **kwargs):
        super().__init__(inner, **kwargs)
        self.offset = float(offset)

    def call(self, x):
        return super().call(x) + self.offset


def test_get_config_is_the_constructor_arguments_with_defaults():
    model = Scaled(keras.layers.Dense(2), factor=np.float32(3.0), name="scaled")
    config = model.get_config()
    assert config["factor"] == 3.0 and type(config["factor"]) is float  # numpy scalars unboxed
    assert config["widths"] == (3,) and config["seed"] == 0  # defaults filled in
    assert config["inner"]["class_name"] == "Dense"  # layers serialized
    assert config["name"] == "scaled"  # Keras' own keys kept


def test_arguments_through_kwargs_are_recorded_by_the_base_and_subclasses_add_theirs():
    shifted = Shifted(keras.layers.Dense(2), factor=5.0, seed=7)
    assert shifted.get_config()["factor"] == 5.0 and shifted.get_config()["seed"] == 7
    offset = Offset(keras.layers.Dense(2), offset=0.5, factor=4.0)
    config = offset.get_config()
    assert (config["offset"], config["factor"], config["widths"]) == (0.5, 4.0, (3,))


def test_save_and_load_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    model = Offset(keras.layers.Dense(2), offset=0.5, factor=4.0, widths=(5, 6))
    expected = np.asarray(model(x))
    model.save(tmp_path / "m.keras")
    same = gentk.load_model(tmp_path / "m.keras")
    assert isinstance(same, Offset) and same.widths == (5, 6) and same.offset == 0.5
    np.testing.assert_allclose(np.asarray(same(x)), expected, rtol=1e-6)


@dataclasses.dataclass
class _Config:
    factor: float = 1.5
    seed: int = 3
    offset: float = 9.0
    epochs: int = 10  # no constructor names it
    name: str = "not-passed"  # Keras' option: only through ``given``


def test_constructor_options_match_names_through_the_bases():
    options = constructor_options(Offset, _Config(), inner="layer", offset=0.25)
    assert options == {"factor": 1.5, "seed": 3, "offset": 0.25, "inner": "layer"}
    assert constructor_options(lambda seed, other=0: None, _Config()) == {"seed": 3}


def test_the_built_in_models_keep_their_config_keys():
    """The keys saved models hold are the ones they held with hand-written get_config."""
    from gentk_vae.recipe import VAEConfig, VAERecipe

    vae_keys = {"encoder", "decoder", "beta", "n_samples", "seed", "kl_anneal_steps",
                "gradient_estimator", "prior", "posterior", "name", "trainable",
                "dtype"}  # fmt: skip
    recipe = VAERecipe()
    config = VAEConfig(epochs=1)
    data = recipe.load_data(config, None)
    assert set(recipe.build(config, data).get_config()) == vae_keys
