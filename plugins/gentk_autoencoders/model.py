"""Deterministic autoencoders: ``Autoencoder`` (plain, denoising, contractive, sparse; a
``keras.Model``), greedy layer-wise pretraining (their ``gentk run`` recipes are in
``gentk_autoencoders.recipe``).

#### Mathematical details

    h = f(x~),  loss = -log p(x | g(h)) + R(h)

where x~ is x itself, or a corrupted copy for the denoising AE (Vincent et al., 2008):
Gaussian noise x + sigma * eps, or masking noise that zeroes each input with probability nu;
the loss is always against the clean x. With the fixed-sigma Gaussian likelihood the
reconstruction term is ||x - g(h)||^2 / (2 sigma^2) + const; with Bernoulli it is the binary
cross-entropy. The regulariser R is

- contractive (Rifai et al., 2011): lambda ||dh/dx||_F^2, the exact squared Frobenius norm of
  the encoder's Jacobian at x, computed by automatic differentiation;
- sparse: lambda_1 sum_j |h_j| (L1 on the code) and/or
  lambda_KL sum_j KL(rho || rho_hat_j), rho_hat_j = mean over the batch of sigmoid(h_j), the
  target activation rho (Ng, "Sparse autoencoder" notes).

A linear encoder and decoder trained with squared error span the principal subspace of the data
(Baldi and Hornik, 1989).

Stacked training (Bengio et al., 2007): each encoder layer is first trained with its mirror
decoder layer to reconstruct that layer's input (squared error), from the data upwards; the whole
network is then fine-tuned.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gentk.api import EncoderDecoderModel, records_config, unpack_x
from gentk_autoencoders.recipe import NOISES

__all__ = [
    "Autoencoder",
    "LayerwisePretraining",
    "pretrain_layerwise",
    "sparsity_kl",
]


def sparsity_kl(h: tf.Tensor, target: float):
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat_j = mean_b sigmoid(h_bj)."""
    rho_hat = tf.clip_by_value(tf.reduce_mean(tf.sigmoid(h), axis=0), 1e-6, 1 - 1e-6)
    rho = tf.cast(target, h.dtype)
    return tf.reduce_sum(
        rho * tf.math.log(rho / rho_hat) + (1 - rho) * tf.math.log((1 - rho) / (1 - rho_hat))
    )


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
@records_config
class Autoencoder(EncoderDecoderModel):
    """An encoder and decoder trained to reconstruct; the encoder's point mass is the code.

    Args:
        encoder: an ``Encoder`` layer (or its serialized config).
        decoder: a ``Decoder`` layer (or its serialized config).
        noise: ``none``, ``gaussian`` (x + noise_level * eps) or ``masking`` (each input
            zeroed with probability ``noise_level``), applied in training only.
        noise_level: sigma of the Gaussian noise or the masking probability.
        contractive_weight: lambda of the contractive penalty lambda ||dh/dx||_F^2.
        l1_weight: weight of the L1 penalty on the code.
        sparsity_weight: weight of the KL sparsity penalty; ``sparsity_target`` is rho.
        seed: seed of the corruption noise.
    """

    loss_names = ("loss", "mse", "regularizer")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        noise: str = "none",
        noise_level: float = 0.0,
        contractive_weight: float = 0.0,
        l1_weight: float = 0.0,
        sparsity_weight: float = 0.0,
        sparsity_target: float = 0.05,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        if noise not in NOISES:
            raise ValueError(f"`noise` must be one of {NOISES}. Received: noise={noise!r}")
        if noise == "masking" and not 0 <= noise_level < 1:
            raise ValueError(f"masking `noise_level` must lie in [0, 1). Received: {noise_level}")
        if min(noise_level, contractive_weight, l1_weight, sparsity_weight) < 0:
            raise ValueError("noise level and penalty weights must be non-negative")
        if not 0 < sparsity_target < 1:
            raise ValueError(f"`sparsity_target` must lie in (0, 1). Received: {sparsity_target}")
        self.noise = noise
        self.noise_level = float(noise_level)
        self.contractive_weight = float(contractive_weight)
        self.l1_weight = float(l1_weight)
        self.sparsity_weight = float(sparsity_weight)
        self.sparsity_target = float(sparsity_target)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def corrupt(self, x: tf.Tensor):
        """The noisy input the denoising AE encodes."""
        if self.noise == "gaussian":
            return x + self.noise_level * keras.random.normal(tf.shape(x), seed=self.seed_generator)
        if self.noise == "masking":
            keep = keras.random.uniform(tf.shape(x), seed=self.seed_generator) >= self.noise_level
            return x * tf.cast(keep, x.dtype)
        return x

    def contractive_penalty(self, x: tf.Tensor, training: bool = False):
        """||dh/dx||_F^2 per example, the encoder's Jacobian by automatic differentiation."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = self.encoder(x, training=training).mean()
        jacobian = tape.batch_jacobian(h, x)
        return tf.reduce_sum(tf.reshape(tf.square(jacobian), (tf.shape(x)[0], -1)), axis=-1)

    def regularizer(self, x_in: tf.Tensor, h: tf.Tensor, training: bool = False):
        total = tf.constant(0.0)
        if self.contractive_weight > 0:
            penalty = self.contractive_penalty(x_in, training)
            total += self.contractive_weight * tf.reduce_mean(penalty)
        if self.l1_weight > 0:
            total += self.l1_weight * tf.reduce_mean(tf.reduce_sum(tf.abs(h), axis=-1))
        if self.sparsity_weight > 0:
            total += self.sparsity_weight * sparsity_kl(h, self.sparsity_target)
        return total

    def compute_losses(self, data: Any, training: bool = False):
        x = tf.cast(unpack_x(data), tf.float32)
        x_in = self.corrupt(x) if training else x
        h = self.encoder(x_in, training=training).mean()
        px = self.decoder(h, training=training)
        nll = -tf.reduce_mean(px.log_prob(x))
        reg = self.regularizer(x_in, h, training)
        mse = tf.reduce_mean(tf.square(x - px.mean()))
        return {"loss": nll + reg, "mse": mse, "regularizer": reg}


def _layer_pairs(model):
    """(encoder layer, mirror decoder layer) pairs, from the data upwards, of an MLP AE."""
    enc, dec = model.encoder, model.decoder
    if not (hasattr(enc, "hidden") and hasattr(dec, "hidden") and hasattr(dec, "body")):
        raise ValueError("stacked training needs the mlp encoder and decoder")
    enc_layers = ([] if enc.body is None else list(enc.body.layers)) + [enc.head]
    dec_layers = ([] if dec.body is None else list(dec.body.layers)) + [dec.head]
    if len(enc_layers) != len(dec_layers):
        raise ValueError(
            "stacked training needs mirrored widths: encoder hidden "
            f"{enc.hidden} and decoder hidden {dec.hidden}"
        )
    return list(zip(enc_layers, reversed(dec_layers)))


def _stage_step(down, up, weights, optimizer):
    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(up(down(batch)) - batch))
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    return step


def pretrain_layerwise(
    model: keras.Model,
    x: np.ndarray,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
):
    """Greedy layer-wise pretraining of an MLP autoencoder; returns each stage's
    (first-epoch, last-epoch) mean squared reconstruction error of its own input."""
    pairs = _layer_pairs(model)
    h = tf.reshape(tf.cast(x, tf.float32), (len(x), -1)).numpy()
    report = []
    for stage, (down, up) in enumerate(pairs):
        weights = down.trainable_weights + up.trainable_weights
        optimizer = keras.optimizers.Adam(lr)
        optimizer.build(weights)  # its slots are created here, not inside the tf.function

        step = _stage_step(down, up, weights, optimizer)
        data = tf.data.Dataset.from_tensor_slices(h).shuffle(len(h), seed=seed + stage)
        losses = []
        for _ in range(epochs):
            losses.append(float(np.mean([step(b).numpy() for b in data.batch(batch_size)])))
        report.append((losses[0], losses[-1]))
        h = np.concatenate([down(b).numpy() for b in np.array_split(h, max(1, len(h) // 1024))])
    return report


class LayerwisePretraining(keras.callbacks.Callback):
    """Runs ``pretrain_layerwise`` when a fresh training starts (not on resume)."""

    def __init__(self, x: np.ndarray, epochs: int, batch_size: int, lr: float, seed: int):
        super().__init__()
        self.x, self.epochs, self.batch_size, self.lr, self.seed = x, epochs, batch_size, lr, seed
        self.report = None

    def on_train_begin(self, logs: dict | None = None):
        if int(self.model.optimizer.iterations) > 0:  # resumed: the weights are trained already
            return
        self.report = pretrain_layerwise(
            self.model, self.x, self.epochs, self.batch_size, self.lr, self.seed
        )
