"""VQ-VAE with a PixelCNN prior over its code grid: ``VQVAE`` (a ``keras.Model``); its
recipe is in ``gentk_vqvae.recipe``.

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

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gentk.api import GenerativeModel, conv_down, conv_up, pixel_likelihood, unpack_x
from gentk_vqvae.layers import MaskedConv2D, VectorQuantizer, code_statistics

__all__ = ["VQVAE"]


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
        image_shape: tuple[int, int, int] = (8, 8, 1),
        filters: tuple[int, ...] = (32,),
        num_codes: int = 64,
        code_dim: int = 16,
        commitment: float = 0.25,
        ema: bool = False,
        decay: float = 0.99,
        restart_after: int = 100,
        prior_filters: int = 64,
        prior_layers: int = 3,
        likelihood: str = "bernoulli",
        sigma: float = 1.0,
        seed: int = 0,
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

    def build(self, input_shape: tuple[int | None, ...]):
        x = tf.zeros((1, *self.image_shape))
        z_e = self.encoder(x)
        self.quantizer.build(z_e.shape)
        self.decoder.build(z_e.shape)
        self.prior.build((None, *self.grid))

    def _likelihood(self, z_q):
        h, w, _ = self.image_shape
        return pixel_likelihood(self.decoder(z_q)[:, :h, :w, :], self.likelihood, self.sigma)

    def prior_log_prob(self, indices: tf.Tensor):
        """log p_theta(k) of code grids ``[B, h, w]`` (sum over cells)."""
        logits = self.prior(indices)
        ce = keras.losses.sparse_categorical_crossentropy(indices, logits, from_logits=True)
        return -tf.reduce_sum(ce, axis=[1, 2])

    def compute_losses(self, data: Any, training: bool = False):
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

    def call(self, x: tf.Tensor, training: bool = False):
        z_st, _, _, _ = self.quantizer(self.encoder(tf.cast(x, tf.float32)), training=False)
        return self._likelihood(z_st).mean()

    def encode(self, x: tf.Tensor):
        """Integer code grids ``[B, h, w]``: the compressed representation."""
        return self.quantizer.nearest_grid(self.encoder(tf.cast(x, tf.float32)))

    def decode(self, indices: tf.Tensor):
        """Decoder means for code grids ``[B, h, w]``."""
        return self._likelihood(self.quantizer.lookup(indices)).mean()

    def sample_codes(self, n: int, seed: int | None = None):
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

    def sample(self, n: int, seed: int | None = None):
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
