"""Built-in plugin: VQ-VAE (straight-through or EMA codebook, dead-code restarts) with a
PixelCNN prior over its codes. Registered through the ``gentk.plugins`` entry point."""

from __future__ import annotations

from collections.abc import Callable

from gentk import hookimpl

__all__ = ["register_models"]


@hookimpl
def register_models(register: Callable[..., None]):
    register(
        "gentk_vqvae.recipe:VQVAERecipe",
        name="vq-vae",
        help=(
            "VQ-VAE: codebook with straight-through gradients (or EMA), PixelCNN prior for samples"
        ),
    )
