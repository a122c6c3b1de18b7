"""The example plugin's model recipe: ``gentk run linear-autoencoder``.

Registered as ``"gentk_example_plugin.recipe:LinearAutoencoderRecipe"``: imported when the
model is first used. It reuses the built-in ``mlp`` encoder by name through the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gentk.api import EncoderDecoderRecipe

if TYPE_CHECKING:
    from gentk.api import EncoderDecoderConfig, ImageSplits

__all__ = ["LinearAutoencoderRecipe"]


class LinearAutoencoderRecipe(EncoderDecoderRecipe):
    name = "linear-autoencoder"

    def build(self, config: EncoderDecoderConfig, data: ImageSplits):
        from gentk_example_plugin.model import LinearAutoencoder  # imported on demand

        encoder = self.component(
            "encoder",
            "mlp",
            latent_dim=config.latent_dim,
            hidden=(),
            distribution="deterministic",
        )
        decoder = self.component(
            "decoder",
            "tanh-mlp",
            output_shape=data.shape,
            hidden=tuple(reversed(config.hidden)),
        )
        return LinearAutoencoder(encoder, decoder, name="linear_autoencoder")
