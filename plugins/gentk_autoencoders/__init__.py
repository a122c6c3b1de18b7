"""Built-in plugin: autoencoders and the reusable MLP/conv image encoders and decoders.

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be.
Heavy imports (TensorFlow) happen inside the hooks, so loading the plugin is cheap.
"""

from __future__ import annotations

import numpy as np

from gentk import hookimpl

__all__ = ["register_components", "register_datasets", "register_models"]


def _images(n=4, shape=(8, 8, 1)):
    return np.random.default_rng(0).random((n, *shape)).astype("float32")


@hookimpl
def register_components(register):
    from gentk_autoencoders import components as c

    register(
        "encoder",
        "mlp",
        c.MLPEncoder,
        config=c.EncoderOptions,
        help="MLP encoder: diagonal Gaussian or point-mass q(z|x)",
        example=lambda: (c.MLPEncoder(latent_dim=3, hidden=(8,)), (_images(),)),
    )
    register(
        "encoder",
        "conv",
        c.ConvEncoder,
        config=c.ConvEncoderOptions,
        help="Strided-conv encoder: diagonal Gaussian or point-mass q(z|x)",
        example=lambda: (c.ConvEncoder(latent_dim=3, filters=(4, 8)), (_images(),)),
    )
    register(
        "decoder",
        "mlp",
        c.MLPDecoder,
        config=c.DecoderOptions,
        help="MLP decoder: Bernoulli or Gaussian p(x|z)",
        example=lambda: (
            c.MLPDecoder(output_shape=(8, 8, 1), hidden=(8,), likelihood="gaussian-learned"),
            (np.random.default_rng(1).normal(size=(4, 3)).astype("float32"),),
        ),
    )
    register(
        "decoder",
        "conv",
        c.ConvDecoder,
        config=c.ConvDecoderOptions,
        help="Transposed-conv decoder: Bernoulli or Gaussian p(x|z)",
        example=lambda: (
            c.ConvDecoder(output_shape=(7, 7, 1), filters=(8, 4)),
            (np.random.default_rng(1).normal(size=(4, 3)).astype("float32"),),
        ),
    )


@hookimpl
def register_models(register):
    from gentk_autoencoders.model import (
        AutoencoderRecipe,
        ContractiveRecipe,
        DenoisingRecipe,
        SparseRecipe,
    )
    from gentk_autoencoders.unpooling import UnpoolingRecipe

    for recipe in (AutoencoderRecipe, DenoisingRecipe, ContractiveRecipe, SparseRecipe):
        register(recipe())
    register(UnpoolingRecipe())


@hookimpl
def register_datasets(register):
    from gentk.data import digits, gaussian_grid, gaussian_ring

    register("digits", digits, help="scikit-learn's 1,797 8x8 digits with labels")
    register("gaussian-ring", gaussian_ring, help="2-D: 8 Gaussians on a circle")
    register("gaussian-grid", gaussian_grid, help="2-D: 5x5 grid of Gaussians")
