"""An example third-party gentk plugin: a decoder, an adversarial divergence, a flow bijector
and a model recipe.

Everything here uses gentk's declared plugin API only (``gentk.hookimpl`` and ``gentk.api``):
the interfaces, the ``EncoderDecoderRecipe`` base and the registry (to reuse the built-in
``mlp`` encoder by name). The hooks name their factories as ``"module:attribute"`` strings, so
this module imports nothing heavy and ``gentk plugins`` lists the entries without importing
TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gentk import hookimpl


@dataclasses.dataclass
class TanhDecoderOptions:
    output_shape: tuple[int, ...] = dataclasses.field(
        default=(8, 8, 1), metadata={"help": "data shape", "set_by": "the data"}
    )
    hidden: tuple[int, ...] = dataclasses.field(default=(64,), metadata={"help": "widths"})


def _example_divergence():
    from gentk_example_plugin.components import SymmetricLeastSquares

    scores = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    return SymmetricLeastSquares(), tuple(scores)


def _example_decoder():
    from gentk_example_plugin.components import TanhMLPDecoder

    z = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
    return TanhMLPDecoder(hidden=(8,)), (z,)


@dataclasses.dataclass
class HouseholderOptions:
    dim: int = dataclasses.field(default=2, metadata={"help": "dimensions", "set_by": "the data"})
    condition_dim: int = dataclasses.field(
        default=0, metadata={"help": "condition width", "set_by": "the recipe"}
    )
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of v", "set_by": "the recipe"})


def _example_bijector():
    from gentk_example_plugin.components import Householder

    return Householder(dim=3), (np.random.default_rng(0).normal(size=(4, 3)).astype("float32"),)


@hookimpl
def register_components(register: Callable[..., None]):
    register(
        "bijector",
        "householder",
        "gentk_example_plugin.components:Householder",
        config=HouseholderOptions,
        help="Example plugin: a learned Householder reflection (log-determinant 0)",
        example=_example_bijector,
    )
    register(
        "divergence",
        "symmetric-least-squares",
        "gentk_example_plugin.components:SymmetricLeastSquares",
        help="Example plugin: LSGAN with targets (-1, 1, 0)",
        example=_example_divergence,
    )
    register(
        "decoder",
        "tanh-mlp",
        "gentk_example_plugin.components:TanhMLPDecoder",
        config=TanhDecoderOptions,
        help="Example plugin: tanh MLP decoder with a unit Gaussian likelihood",
        example=_example_decoder,
    )


@hookimpl
def register_models(register: Callable[..., None]):
    register(
        "gentk_example_plugin.recipe:LinearAutoencoderRecipe",
        name="linear-autoencoder",
        help="Example plugin: a linear autoencoder (spans the PCA subspace)",
    )
