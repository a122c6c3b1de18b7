"""The autoencoder recipes and their options: ``autoencoder``, its denoising, contractive and
sparse variants, and ``unpooling-autoencoder``. Importable without TensorFlow (``gentk info``
reads the options from here); the models are imported when a recipe builds one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from gentk.api import (
    EncoderDecoderRecipe,
    ImageConfig,
    ImageDataConfig,
    constructor_options,
    option,
    with_defaults,
)

if TYPE_CHECKING:
    import keras

    from gentk.api import ImageSplits

__all__ = [
    "NOISES",
    "AutoencoderConfig",
    "AutoencoderRecipe",
    "ContractiveRecipe",
    "DenoisingRecipe",
    "SparseRecipe",
    "UnpoolingConfig",
    "UnpoolingRecipe",
]

NOISES = ("none", "gaussian", "masking")


@dataclasses.dataclass
class AutoencoderConfig(ImageConfig):
    noise: str = option("none", "denoising: none, gaussian or masking")
    noise_level: float = option(0.0, "Gaussian noise sigma, or masking probability")
    contractive_weight: float = option(0.0, "lambda of the contractive penalty ||dh/dx||_F^2")
    l1_weight: float = option(0.0, "L1 penalty on the code")
    sparsity_weight: float = option(0.0, "KL sparsity penalty weight")
    sparsity_target: float = option(
        0.05, "target mean activation rho of the KL penalty", gt=0, lt=1
    )
    pretrain_epochs: int = option(0, "stacked training: epochs per layer before fine-tuning (mlp)")

    def validate(self):
        super().validate()
        if self.noise not in NOISES:
            raise ValueError(
                f"`noise` must be one of {', '.join(NOISES)}. Received: noise={self.noise!r}"
            )
        if self.pretrain_epochs > 0 and (self.encoder, self.decoder) != ("mlp", "mlp"):
            raise ValueError("`pretrain_epochs` (stacked training) needs encoder=decoder=mlp")


class AutoencoderRecipe(EncoderDecoderRecipe):
    name = "autoencoder"
    config = AutoencoderConfig
    defaults: dict = {}

    def build(self, config: AutoencoderConfig, data: ImageSplits):
        from gentk_autoencoders.model import Autoencoder

        encoder, decoder = self.encoder_decoder(config, data, "deterministic")
        options = constructor_options(
            Autoencoder, config, encoder=encoder, decoder=decoder, name=self.name.replace("-", "_")
        )
        return Autoencoder(**options)

    def callbacks(
        self, model: keras.Model, config: AutoencoderConfig, data: ImageSplits, run_dir: Path
    ):
        if config.pretrain_epochs <= 0:
            return []
        from gentk_autoencoders.model import LayerwisePretraining

        pretrain = LayerwisePretraining(
            data.train,
            config.pretrain_epochs,
            config.batch_size,
            config.learning_rate,
            config.seed,
        )
        return [pretrain]


def _variant(name, **defaults):
    """A recipe (and config) that is the autoencoder with other defaults."""
    config = with_defaults(
        AutoencoderConfig, name.title().replace("-", "") + "Config", __name__, **defaults
    )
    return type(
        name.title().replace("-", "") + "Recipe",
        (AutoencoderRecipe,),
        {"name": name, "config": config},
    )


DenoisingRecipe = _variant(
    "denoising-autoencoder",
    noise="masking",
    noise_level=0.3,
)
ContractiveRecipe = _variant(
    "contractive-autoencoder",
    contractive_weight=0.1,
    jit_compile=False,  # XLA took 50 s to compile the double backward of the Jacobian
)
SparseRecipe = _variant(
    "sparse-autoencoder",
    latent_dim=32,
    l1_weight=1e-3,
    sparsity_weight=0.1,
)


@dataclasses.dataclass
class UnpoolingConfig(ImageDataConfig):
    latent_dim: int = dataclasses.field(default=8, metadata={"help": "size of the code"})
    filters: tuple[int, ...] = dataclasses.field(
        default=(32, 64), metadata={"help": "conv filters before each 2x2 pooling"}
    )
    activation: str = dataclasses.field(default="relu", metadata={"help": "hidden activation"})
    unpooling: str = dataclasses.field(
        default="max", metadata={"help": "max (switches at the recorded argmax) or average"}
    )

    def validate(self):
        super().validate()
        if self.latent_dim < 1 or not self.filters:
            raise ValueError("`latent_dim` must be >= 1 and `filters` name at least one stage")
        if self.unpooling not in ("max", "average"):
            raise ValueError(f"`unpooling` must be max or average. Received: {self.unpooling!r}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError("the unpooling autoencoder takes likelihood=bernoulli or gaussian")


class UnpoolingRecipe(EncoderDecoderRecipe):
    name = "unpooling-autoencoder"
    config = UnpoolingConfig
    smoke = {"epochs": 1, "batch_size": 64, "filters": (4,)}
    supports_jit = False  # max_pool_with_argmax has no XLA kernel on every device

    def build(self, config: UnpoolingConfig, data: ImageSplits):
        if len(data.shape) != 3:
            raise ValueError(
                f"{self.name} needs images (H, W, C); the data have shape {data.shape}"
            )
        from gentk_autoencoders.unpooling import UnpoolingAutoencoder

        return UnpoolingAutoencoder(
            data.shape,
            latent_dim=config.latent_dim,
            filters=config.filters,
            unpooling=config.unpooling,
            activation=config.activation,
            likelihood=config.likelihood,
            sigma=config.sigma,
            name="unpooling_autoencoder",
        )
