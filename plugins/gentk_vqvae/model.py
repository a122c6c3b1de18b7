"""VQ-VAE with a PixelCNN prior over its code grid: ``VQVAE`` (a ``keras.Model``) and recipe.

#### Mathematical details

    z_e = E(x) on an h x w grid,  z_q = quantise(z_e) (see ``layers.VectorQuantizer``),
    loss = -log p(x | D(z_q)) + codebook + beta * commitment + prior_nll,
    prior_nll = -sum_cells log p_theta(k_ij | k_<ij)

The prior p_theta is a small PixelCNN (masked convolutions) over the code indices, trained on
the encoder's codes with the gradient stopped, so it does not change the autoencoder; after
training it is the learned autoregressive prior from which ``sample`` draws code grids cell by
cell in raster order and decodes them, producing new images rather than reconstructions.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from gentk_autoencoders.components import pixel_likelihood

from gentk.config import option
from gentk.image_recipe import ImageDataConfig, ImageRecipe, in_batches
from gentk.layers import conv_down, conv_up
from gentk.models import GenerativeModel, unpack_x
from gentk_vqvae.layers import MaskedConv2D, VectorQuantizer, code_statistics

__all__ = ["VQVAE", "VQVAEConfig", "VQVAERecipe"]


@keras.saving.register_keras_serializable(package="gentk_vqvae")
class VQVAE(GenerativeModel):
    """Conv encoder to a grid of D-vectors, vector quantiser, transposed-conv decoder, and a
    PixelCNN prior over the code indices.

    Args:
        image_shape: (H, W, C).
        filters: filters of the stride-2 encoder stages (the grid is H / 2**len(filters)).
        num_codes, code_dim: K and D of the codebook.
        commitment: beta, the weight of the commitment loss.
        ema, decay, restart_after: see ``VectorQuantizer``.
        prior_filters, prior_layers: width and number of masked type-B layers of the prior.
        likelihood, sigma: the pixel likelihood.
        seed: seed of the quantiser's restarts and of sampling.
    """

    loss_names = (
        "loss",
        "reconstruction",
        "codebook",
        "commitment",
        "prior_nll",
        "perplexity",
        "usage",
        "mse",
    )

    def __init__(
        self,
        image_shape=(8, 8, 1),
        filters=(32,),
        num_codes=64,
        code_dim=16,
        commitment=0.25,
        ema=False,
        decay=0.99,
        restart_after=100,
        prior_filters=64,
        prior_layers=3,
        likelihood="bernoulli",
        sigma=1.0,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"`image_shape` must be (H, W, C). Received: {image_shape}")
        self.filters = tuple(int(f) for f in filters)
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.commitment = float(commitment)
        self.ema, self.decay, self.restart_after = bool(ema), float(decay), int(restart_after)
        self.prior_filters, self.prior_layers = int(prior_filters), int(prior_layers)
        self.likelihood, self.sigma, self.seed = likelihood, float(sigma), int(seed)
        scale = 2 ** len(self.filters)
        self.grid = (math.ceil(self.image_shape[0] / scale), math.ceil(self.image_shape[1] / scale))
        self.encoder = keras.Sequential(
            [
                *conv_down(self.filters, "relu", name="down").layers,
                keras.layers.Conv2D(self.code_dim, 1, name="to_code"),
            ],
            name="encoder",
        )
        self.quantizer = VectorQuantizer(  # distances and EMA updates in float32
            self.num_codes,
            self.code_dim,
            ema,
            decay,
            restart_after,
            seed,
            name="quantizer",
            dtype="float32",
        )
        self.decoder = keras.Sequential(
            [
                *conv_up(tuple(reversed(self.filters)), "relu", name="up").layers,
                keras.layers.Conv2D(self.image_shape[2], 3, padding="same", dtype="float32"),
            ],
            name="decoder",
        )
        self.prior = keras.Sequential(
            [
                keras.layers.Embedding(self.num_codes, self.prior_filters, name="prior_embed"),
                MaskedConv2D(self.prior_filters, 5, "A", "relu", name="prior_a"),
                *[
                    MaskedConv2D(self.prior_filters, 3, "B", "relu", name=f"prior_b{i}")
                    for i in range(self.prior_layers)
                ],
                keras.layers.Conv2D(self.num_codes, 1, dtype="float32", name="prior_logits"),
            ],
            name="prior",
        )
        self.seed_generator = keras.random.SeedGenerator(self.seed + 1)

    def build(self, input_shape):
        x = tf.zeros((1, *self.image_shape))
        z_e = self.encoder(x)
        self.quantizer.build(z_e.shape)
        self.decoder.build(z_e.shape)
        self.prior.build((None, *self.grid))

    def _likelihood(self, z_q):
        h, w, _ = self.image_shape
        return pixel_likelihood(self.decoder(z_q)[:, :h, :w, :], self.likelihood, self.sigma)

    def prior_log_prob(self, indices):
        """log p_theta(k) of code grids ``[B, h, w]`` (sum over cells)."""
        logits = self.prior(indices)
        ce = keras.losses.sparse_categorical_crossentropy(indices, logits, from_logits=True)
        return -tf.reduce_sum(ce, axis=[1, 2])

    def compute_losses(self, data, training=False):
        x = tf.cast(unpack_x(data), tf.float32)
        z_st, idx, codebook, commitment = self.quantizer(self.encoder(x), training=training)
        px = self._likelihood(z_st)
        reconstruction = -tf.reduce_mean(px.log_prob(x))
        prior_nll = -tf.reduce_mean(self.prior_log_prob(tf.stop_gradient(idx)))
        codebook, commitment = tf.reduce_mean(codebook), tf.reduce_mean(commitment)
        perplexity, usage = code_statistics(idx, self.num_codes)
        return {
            "loss": reconstruction + codebook + self.commitment * commitment + prior_nll,
            "reconstruction": reconstruction,
            "codebook": codebook,
            "commitment": commitment,
            "prior_nll": prior_nll,
            "perplexity": perplexity,
            "usage": usage,
            "mse": tf.reduce_mean(tf.square(x - px.mean())),
        }

    def call(self, x, training=False):
        z_st, _, _, _ = self.quantizer(self.encoder(tf.cast(x, tf.float32)), training=False)
        return self._likelihood(z_st).mean()

    def encode(self, x):
        """Integer code grids ``[B, h, w]``: the compressed representation."""
        return self.quantizer.nearest_grid(self.encoder(tf.cast(x, tf.float32)))

    def decode(self, indices):
        """Decoder means for code grids ``[B, h, w]``."""
        return self._likelihood(self.quantizer.lookup(indices)).mean()

    def sample_codes(self, n, seed=None):
        """``n`` code grids drawn cell by cell from the PixelCNN prior."""
        seed = self.seed_generator.next() if seed is None else tf.constant([seed, 7], tf.int32)
        seed = tf.cast(seed, tf.int32)
        h, w = self.grid
        codes = np.zeros((n, h, w), np.int32)
        for i in range(h):
            for j in range(w):
                logits = self.prior(tf.constant(codes))[:, i, j, :]
                cell_seed = tf.stack([seed[0], seed[1] + i * w + j])
                draw = tf.random.stateless_categorical(logits, 1, seed=cell_seed)[:, 0]
                codes[:, i, j] = draw.numpy()
        return codes

    def sample(self, n, seed=None):
        """``n`` new images: code grids from the prior, decoded."""
        return self.decode(self.sample_codes(n, seed))

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "filters": self.filters,
            "num_codes": self.num_codes,
            "code_dim": self.code_dim,
            "commitment": self.commitment,
            "ema": self.ema,
            "decay": self.decay,
            "restart_after": self.restart_after,
            "prior_filters": self.prior_filters,
            "prior_layers": self.prior_layers,
            "likelihood": self.likelihood,
            "sigma": self.sigma,
            "seed": self.seed,
        }


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


class VQVAERecipe(ImageRecipe):
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

    def build(self, config, data):
        if len(data.shape) != 3:
            raise ValueError(
                f"{self.name} needs images (H, W, C); the data have shape {data.shape}"
            )
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

    def codes(self, model, x, labels=None):
        """Integer code grids [N, h, w]: the compressed images."""
        return in_batches(model.encode, x)

    def latents(self, model, x, labels=None):
        """The quantised vectors of each image, flattened."""
        codes = self.codes(model, x)
        return np.asarray(model.quantizer.lookup(codes)).reshape(len(codes), -1)

    def decode_codes(self, model, codes, labels=None):
        codes = np.asarray(codes)
        if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"VQ-VAE codes are integer grids [N, h, w]; got {codes.shape}")
        if codes.min() < 0 or codes.max() >= model.num_codes:
            raise ValueError(f"codes must lie in 0..{model.num_codes - 1}")
        return super().decode_codes(model, codes)

    def evaluate(self, model, config, data):
        out = super().evaluate(model, config, data)
        codes = self.codes(model, data.test)
        perplexity, usage = code_statistics(codes, model.num_codes)
        out["test_code_perplexity"] = float(perplexity)
        out["test_code_usage"] = float(usage)
        out["codes_per_image"] = int(np.prod(codes.shape[1:]))
        out["bits_per_image"] = float(np.prod(codes.shape[1:]) * np.log2(model.num_codes))
        return out

    def write_artifacts(self, model, config, data, run_dir):
        from gentk import plots

        recon = np.asarray(model.predict(data.test[:8], verbose=0))
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
