"""The ``vq-vae`` recipe and its options. Importable without TensorFlow (``gentk info`` reads
the options from here); the model is imported when the recipe builds one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gentk.api import EncoderDecoderRecipe, ImageDataConfig, in_batches, option

if TYPE_CHECKING:
    import keras

    from gentk.api import ImageSplits

__all__ = ["VQVAEConfig", "VQVAERecipe"]


@dataclasses.dataclass
class VQVAEConfig(ImageDataConfig):
    filters: tuple[int, ...] = option((32,), "filters per stride-2 encoder stage", ge=1)
    num_codes: int = option(64, "K: codebook size", ge=1)
    code_dim: int = option(16, "D: size of a code vector", ge=1)
    commitment: float = option(0.25, "beta: weight of the commitment loss")
    ema: bool = option(False, "EMA codebook updates instead of the codebook loss")
    ema_decay: float = option(0.99, "decay of the EMA codebook", ge=0, lt=1)
    restart_after: int = option(100, "restart a code unused for this many updates (0: never)")
    prior_filters: int = option(64, "width of the PixelCNN prior", ge=1)
    prior_layers: int = option(3, "masked type-B layers of the prior", ge=1)
    epochs: int = option(60, "passes over the data")

    def validate(self):
        super().validate()
        if self.num_codes < 2 or self.code_dim < 1:
            raise ValueError(
                f"`num_codes` must be >= 2 and `code_dim` >= 1. Received: num_codes="
                f"{self.num_codes}, code_dim={self.code_dim}"
            )
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"`ema_decay` must lie in (0, 1). Received: {self.ema_decay}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError("the VQ-VAE takes likelihood=bernoulli or gaussian")


class VQVAERecipe(EncoderDecoderRecipe):
    name = "vq-vae"
    config = VQVAEConfig
    smoke = {
        "epochs": 1,
        "batch_size": 64,
        "filters": (4,),
        "num_codes": 8,
        "code_dim": 4,
        "prior_filters": 8,
    }
    supports_jit = False  # the quantiser assigns codebook variables inside the step

    def build(self, config: VQVAEConfig, data: ImageSplits):
        if len(data.shape) != 3:
            raise ValueError(
                f"{self.name} needs images (H, W, C); the data have shape {data.shape}"
            )
        from gentk_vqvae.model import VQVAE

        return VQVAE(
            data.shape,
            filters=config.filters,
            num_codes=config.num_codes,
            code_dim=config.code_dim,
            commitment=config.commitment,
            ema=config.ema,
            decay=config.ema_decay,
            restart_after=config.restart_after,
            prior_filters=config.prior_filters,
            prior_layers=config.prior_layers,
            likelihood=config.likelihood,
            sigma=config.sigma,
            seed=config.seed,
            name="vq_vae",
        )

    def codes(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        """Integer code grids [N, h, w]: the compressed images."""
        return in_batches(model.encode, x)

    def latents(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        """The quantised vectors of each image, flattened."""
        codes = self.codes(model, x)
        return np.asarray(model.quantizer.lookup(codes)).reshape(len(codes), -1)

    def decode_codes(self, model: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None):
        codes = np.asarray(codes)
        if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"VQ-VAE codes are integer grids [N, h, w]; got {codes.shape}")
        if codes.min() < 0 or codes.max() >= model.num_codes:
            raise ValueError(f"codes must lie in 0..{model.num_codes - 1}")
        return super().decode_codes(model, codes)

    def evaluate(self, model: keras.Model, config: VQVAEConfig, data: ImageSplits):
        out = super().evaluate(model, config, data)
        codes = self.codes(model, data.test)
        from gentk_vqvae.layers import code_statistics

        perplexity, usage = code_statistics(codes, model.num_codes)
        out["test_code_perplexity"] = float(perplexity)
        out["test_code_usage"] = float(usage)
        out["codes_per_image"] = int(np.prod(codes.shape[1:]))
        out["bits_per_image"] = float(np.prod(codes.shape[1:]) * np.log2(model.num_codes))
        return out

    def write_artifacts(
        self, model: keras.Model, config: VQVAEConfig, data: ImageSplits, run_dir: Path
    ):
        from gentk.api import plots

        recon = np.asarray(model(data.test[:8]))
        plots.reconstructions(data.test[:8], recon, run_dir / "reconstructions.png")
        samples = np.asarray(model.sample(64, seed=config.seed))
        plots.image_grid(samples, run_dir / "samples.png", title="VQ-VAE samples (PixelCNN prior)")
        codes = self.codes(model, data.test)
        counts = np.bincount(codes.ravel(), minlength=model.num_codes)
        plots.codebook_usage(counts, run_dir / "codebook_usage.png")
        z = self.latents(model, data.test)
        plots.latent_scatter(
            z, run_dir / "latent.png", labels=data.test_labels, title="VQ-VAE: quantised codes"
        )
        return ["reconstructions.png", "samples.png", "codebook_usage.png", "latent.png"]
