"""Built-in plugin: autoencoders and the reusable MLP/conv image encoders and decoders.

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be.
Heavy imports (TensorFlow) happen inside the hooks, so loading the plugin is cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gentk import hookimpl

__all__ = ["register_components", "register_models"]

MODELS = (
    (
        "autoencoder",
        "gentk_autoencoders.recipe:AutoencoderRecipe",
        "Deterministic autoencoder (MLP or conv), squared-error or Bernoulli loss",
    ),
    (
        "denoising-autoencoder",
        "gentk_autoencoders.recipe:DenoisingRecipe",
        "Denoising AE: encodes a corrupted x (Gaussian or masking noise), reconstructs the clean x",
    ),
    (
        "contractive-autoencoder",
        "gentk_autoencoders.recipe:ContractiveRecipe",
        "Contractive AE: reconstruction + lambda ||dh/dx||_F^2 (exact encoder Jacobian)",
    ),
    (
        "sparse-autoencoder",
        "gentk_autoencoders.recipe:SparseRecipe",
        "Sparse AE: wide code with L1 and KL(rho || mean activation) penalties",
    ),
    (
        "unpooling-autoencoder",
        "gentk_autoencoders.recipe:UnpoolingRecipe",
        "Conv AE with pooling down and max-unpooling at the recorded argmax (or average) up",
    ),
)


def _images(n=4, shape=(8, 8, 1)):
    return np.random.default_rng(0).random((n, *shape)).astype("float32")


def _components():
    from gentk_autoencoders import components

    return components


@hookimpl
def register_components(register: Callable[..., None]):
    c = "gentk_autoencoders.components:"
    register(
        "encoder",
        "mlp",
        c + "MLPEncoder",
        config=c + "EncoderOptions",
        help="MLP encoder: diagonal Gaussian or point-mass q(z|x)",
        example=lambda: (_components().MLPEncoder(latent_dim=3, hidden=(8,)), (_images(),)),
    )
    register(
        "encoder",
        "conv",
        c + "ConvEncoder",
        config=c + "ConvEncoderOptions",
        help="Strided-conv encoder: diagonal Gaussian or point-mass q(z|x)",
        example=lambda: (_components().ConvEncoder(latent_dim=3, filters=(4, 8)), (_images(),)),
    )
    register(
        "decoder",
        "mlp",
        c + "MLPDecoder",
        config=c + "DecoderOptions",
        help="MLP decoder: Bernoulli or Gaussian p(x|z)",
        example=lambda: (
            _components().MLPDecoder(
                output_shape=(8, 8, 1), hidden=(8,), likelihood="gaussian-learned"
            ),
            (np.random.default_rng(1).normal(size=(4, 3)).astype("float32"),),
        ),
    )
    register(
        "decoder",
        "conv",
        c + "ConvDecoder",
        config=c + "ConvDecoderOptions",
        help="Transposed-conv decoder: Bernoulli or Gaussian p(x|z)",
        example=lambda: (
            _components().ConvDecoder(output_shape=(7, 7, 1), filters=(8, 4)),
            (np.random.default_rng(1).normal(size=(4, 3)).astype("float32"),),
        ),
    )


@hookimpl
def register_models(register: Callable[..., None]):
    for name, ref, text in MODELS:
        register(ref, name=name, help=text)
