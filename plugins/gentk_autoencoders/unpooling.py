"""The unpooling autoencoder: conv + pooling down, unpooling + conv up (SegNet-style switches);
its recipe is in ``gentk_autoencoders.recipe``.

#### Mathematical details

Each encoder stage is a 3x3 convolution followed by 2x2 pooling. With ``unpooling="max"`` the
encoder records where each maximum came from and the decoder's stage puts its values back at
exactly those positions (``MaxUnpooling2D``, the adjoint of the pooling's selection), zeros
elsewhere, then convolves; with ``unpooling="average"`` pooling is 2x2 averaging and the decoder
uses its adjoint, ``AverageUnpooling2D``. The reconstruction loss is -log p(x | x_hat) as in
``Autoencoder``. Max-unpooling needs the switches of the input being reconstructed, so only the
average variant can ``decode`` a free code.

Badrinarayanan et al., "SegNet", 2017; Zeiler and Fergus, "Visualizing and Understanding
Convolutional Networks", 2014.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gentk.api import (
    LIKELIHOODS,
    AverageUnpooling2D,
    GenerativeModel,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    pixel_likelihood,
    unpack_x,
)

__all__ = ["UnpoolingAutoencoder"]


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class UnpoolingAutoencoder(GenerativeModel):
    """Conv/pool encoder to a dense code; dense, unpool/conv decoder (see the module notes).

    Args:
        image_shape: (H, W, C) of the data.
        latent_dim: size of the code.
        filters: filters of the conv stage before each pooling.
        unpooling: ``max`` (switches) or ``average``.
        likelihood, sigma: the pixel likelihood, as for the other decoders.
    """

    loss_names = ("loss", "mse")

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (8, 8, 1),
        latent_dim: int = 8,
        filters: tuple[int, ...] = (32, 64),
        unpooling: str = "max",
        activation: str = "relu",
        likelihood: str = "bernoulli",
        sigma: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if unpooling not in ("max", "average"):
            raise ValueError(f"`unpooling` must be max or average. Received: {unpooling!r}")
        if likelihood not in LIKELIHOODS[:2]:
            raise ValueError(
                f"`likelihood` must be bernoulli or gaussian. Received: {likelihood!r}"
            )
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"`image_shape` must be (H, W, C). Received: {image_shape}")
        self.latent_dim = int(latent_dim)
        self.filters = tuple(int(f) for f in filters)
        self.unpooling = unpooling
        self.activation = activation
        self.likelihood = likelihood
        self.sigma = float(sigma)
        h, w, c = self.image_shape
        self.sizes = [(h, w)]  # spatial size entering each pooling, then the final grid
        for _ in self.filters:
            h, w = -(-h // 2), -(-w // 2)
            self.sizes.append((h, w))
        self.down = [
            keras.layers.Conv2D(f, 3, padding="same", activation=activation, name=f"down{i}")
            for i, f in enumerate(self.filters)
        ]
        if unpooling == "max":
            self.pools = [MaxPoolingWithArgmax2D(2, name=f"pool{i}") for i in range(len(filters))]
            self.unpools = [MaxUnpooling2D(name=f"unpool{i}") for i in range(len(filters))]
        else:
            self.pools = [
                keras.layers.AveragePooling2D(2, padding="same", name=f"pool{i}")
                for i in range(len(filters))
            ]
            self.unpools = [AverageUnpooling2D(2, name=f"unpool{i}") for i in range(len(filters))]
        self.code = keras.layers.Dense(self.latent_dim, name="code")
        grid = (*self.sizes[-1], self.filters[-1])
        self.grid = grid
        self.stem = keras.layers.Dense(int(np.prod(grid)), activation=activation, name="stem")
        outs = [c, *self.filters[:-1]]
        self.up = [
            keras.layers.Conv2D(
                outs[i],
                3,
                padding="same",
                activation=None if i == 0 else activation,
                dtype="float32" if i == 0 else None,
                name=f"up{i}",
            )
            for i in range(len(self.filters))
        ]

    def build(self, input_shape: tuple[int | None, ...]):
        self.call(tf.zeros((1, *self.image_shape)))

    def _encode(self, x, training=False):
        switches = []
        h = tf.cast(x, tf.float32)
        for conv, pool in zip(self.down, self.pools):
            h = conv(h)
            if self.unpooling == "max":
                h, argmax = pool(h)
                switches.append(argmax)
            else:
                h = pool(h)
        return self.code(tf.reshape(h, (tf.shape(h)[0], -1))), switches

    def _decode(self, z, switches=None):
        h = tf.reshape(self.stem(z), (-1, *self.grid))
        for i in reversed(range(len(self.filters))):
            size = self.sizes[i]
            if self.unpooling == "max":
                h = self.unpools[i](h, switches[i], output_size=size)
            else:
                h = self.unpools[i](h)[:, : size[0], : size[1], :]
            h = self.up[i](h)
        return pixel_likelihood(h, self.likelihood, self.sigma)

    def encode(self, x: tf.Tensor):
        return self._encode(x)[0]

    def decode(self, z: tf.Tensor):
        if self.unpooling == "max":
            raise ValueError(
                "a max-unpooling autoencoder decodes only with the switches of an input; "
                "use unpooling='average' to decode free codes"
            )
        return self._decode(tf.cast(z, tf.float32)).mean()

    def call(self, x: tf.Tensor, training: bool = False):
        z, switches = self._encode(x, training)
        return self._decode(z, switches).mean()

    def compute_losses(self, data: Any, training: bool = False):
        x = tf.cast(unpack_x(data), tf.float32)
        z, switches = self._encode(x, training)
        px = self._decode(z, switches)
        return {
            "loss": -tf.reduce_mean(px.log_prob(x)),
            "mse": tf.reduce_mean(tf.square(x - px.mean())),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "filters": self.filters,
            "unpooling": self.unpooling,
            "activation": self.activation,
            "likelihood": self.likelihood,
            "sigma": self.sigma,
        }
