"""Image/vector encoders and decoders (MLP and strided-conv), registered as gentk components.

Encoders return q(z|x) (diagonal Gaussian, or a point mass for deterministic autoencoders);
decoders return p(x|z) with a Bernoulli, fixed-sigma Gaussian or learned-scale Gaussian head.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import (  # re-exported: plugins imported them from here
    LEARNED_SCALE,
    LIKELIHOODS,
    Decoder,
    Encoder,
    conv_down,
    conv_up,
    dense_stack,
    latent_distribution,
    pixel_likelihood,
)

tfd = tfp.distributions

__all__ = [
    "MLPEncoder",
    "ConvEncoder",
    "MLPDecoder",
    "ConvDecoder",
    "latent_distribution",
    "pixel_likelihood",
    "EncoderOptions",
    "DecoderOptions",
]


def _check(cond: bool, message: str):
    if not cond:
        raise ValueError(message)


def _width(condition_shape) -> int:
    return 0 if condition_shape is None else int(condition_shape[-1])


def _flat_with_condition(x, condition):
    h = tf.reshape(x, (tf.shape(x)[0], -1))
    if condition is not None:
        h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
    return h


INITS = ("glorot", "uniform")


def _check_init(init: str) -> str:
    _check(init in INITS, f"`init` must be one of {', '.join(INITS)}. Received: init={init!r}")
    return init


def _build_mlp(body, head, width: int, init: str) -> None:
    """Build the dense ``body`` (a ``Sequential``, or None) and ``head`` on ``width`` inputs,
    started as ``init`` says."""
    _start([*(body.layers if body is not None else []), head], width, init)
    if body is not None:
        body.build((None, width))
        width = body.layers[-1].units
    head.build((None, width))


def _start(layers, fan_in: int, init: str) -> None:
    """Before the dense ``layers`` (each fed by the one before, the first by ``fan_in`` values)
    are built: ``uniform`` starts every weight and bias at U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    PyTorch's ``nn.Linear`` default; ``glorot`` keeps Keras' (Glorot-uniform weights, zero
    biases)."""
    if init == "glorot":
        return
    for layer in layers:
        bound = 1.0 / math.sqrt(max(1, fan_in))
        layer.kernel_initializer = keras.initializers.RandomUniform(-bound, bound)
        layer.bias_initializer = keras.initializers.RandomUniform(-bound, bound)
        fan_in = layer.units


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class MLPEncoder(Encoder):
    """Flatten, an MLP, and a float32 head giving q(z|x[,c]).

    Args:
        latent_dim: size of z.
        hidden: widths of the hidden layers (empty for a linear encoder).
        activation: hidden activation.
        distribution: ``gaussian`` or ``deterministic``.
        init: ``glorot`` (Keras' start) or ``uniform`` (PyTorch's: weights and biases
            U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: tuple[int, ...] = (256, 128),
        activation: str = "relu",
        distribution: str = "gaussian",
        init: str = "glorot",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.init = _check_init(init)
        _check(
            int(latent_dim) >= 1,
            f"`latent_dim` must be a positive integer. Received: latent_dim={latent_dim}",
        )
        _check(
            distribution in ("gaussian", "deterministic"),
            "`distribution` must be gaussian "
            f"or deterministic. Received: distribution={distribution!r}",
        )
        self.latent_dim = int(latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        self.distribution = distribution
        self.body = dense_stack(self.hidden, activation, name="body") if self.hidden else None
        width = self.latent_dim * (2 if distribution == "gaussian" else 1)
        self.head = keras.layers.Dense(width, dtype="float32", name="head")

    def build(
        self, x_shape: tuple[int | None, ...], condition_shape: tuple[int | None, ...] | None = None
    ):
        width = int(np.prod(x_shape[1:])) + _width(condition_shape)
        _build_mlp(self.body, self.head, width, self.init)

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = _flat_with_condition(x, condition)
        if self.body is not None:
            h = self.body(h, training=training)
        return latent_distribution(self.head(h), self.distribution)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "activation": self.activation,
            "distribution": self.distribution,
            "init": self.init,
        }


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class ConvEncoder(Encoder):
    """3x3 convolutions that halve the size per stage (stride 2, or max / average pooling),
    then a float32 dense head giving q(z|x[,c])."""

    def __init__(
        self,
        latent_dim: int = 2,
        filters: tuple[int, ...] = (32, 64),
        activation: str = "relu",
        distribution: str = "gaussian",
        downsample: str = "stride",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check(
            int(latent_dim) >= 1,
            f"`latent_dim` must be a positive integer. Received: latent_dim={latent_dim}",
        )
        _check(len(filters) >= 1, f"`filters` needs at least one stage. Received: {filters}")
        self.latent_dim = int(latent_dim)
        self.filters = tuple(int(f) for f in filters)
        self.activation = activation
        self.distribution = distribution
        self.downsample = downsample
        self.body = conv_down(self.filters, activation, name="down", downsample=downsample)
        width = self.latent_dim * (2 if distribution == "gaussian" else 1)
        self.head = keras.layers.Dense(width, dtype="float32", name="head")

    def build(
        self, x_shape: tuple[int | None, ...], condition_shape: tuple[int | None, ...] | None = None
    ):
        self.body.build(x_shape)
        out = self.body.compute_output_shape(x_shape)
        self.head.build((None, int(np.prod(out[1:])) + _width(condition_shape)))

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = self.body(x, training=training)
        return latent_distribution(self.head(_flat_with_condition(h, condition)), self.distribution)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "filters": self.filters,
            "activation": self.activation,
            "distribution": self.distribution,
            "downsample": self.downsample,
        }


class _PixelDecoder(Decoder):
    def __init__(self, output_shape, likelihood, sigma, **kwargs):
        super().__init__(**kwargs)
        _check(
            likelihood in LIKELIHOODS,
            f"`likelihood` must be one of {LIKELIHOODS}. Received: likelihood={likelihood!r}",
        )
        _check(float(sigma) > 0, f"`sigma` must be positive. Received: sigma={sigma}")
        self.event_shape = tuple(int(s) for s in output_shape)
        self.likelihood = likelihood
        self.sigma = float(sigma)
        self.log_scale = None
        if likelihood in LEARNED_SCALE:
            self.log_scale = self.add_weight(
                shape=self.event_shape, initializer="zeros", name="log_scale"
            )

    def _distribution(self, params):
        return pixel_likelihood(params, self.likelihood, self.sigma, self.log_scale)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.event_shape,
            "likelihood": self.likelihood,
            "sigma": self.sigma,
        }


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class MLPDecoder(_PixelDecoder):
    """An MLP from z (and condition) to the likelihood's parameters, reshaped to the data."""

    def __init__(
        self,
        output_shape: tuple[int, int, int] = (8, 8, 1),
        hidden: tuple[int, ...] = (128, 256),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        sigma: float = 1.0,
        init: str = "glorot",
        **kwargs,
    ):
        super().__init__(output_shape, likelihood, sigma, **kwargs)
        self.init = _check_init(init)
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        self.body = dense_stack(self.hidden, activation, name="body") if self.hidden else None
        self.head = keras.layers.Dense(int(np.prod(self.event_shape)), dtype="float32", name="head")

    def build(
        self, z_shape: tuple[int | None, ...], condition_shape: tuple[int | None, ...] | None = None
    ):
        _build_mlp(self.body, self.head, int(z_shape[-1]) + _width(condition_shape), self.init)

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = _flat_with_condition(z, condition)
        if self.body is not None:
            h = self.body(h, training=training)
        params = tf.reshape(self.head(h), (-1, *self.event_shape))
        return self._distribution(params)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden": self.hidden,
            "activation": self.activation,
            "init": self.init,
        }


@keras.saving.register_keras_serializable(package="gentk_autoencoders")
class ConvDecoder(_PixelDecoder):
    """Dense to a small grid, stages that double the size (stride-2 transposed convolutions, or
    average unpooling and a conv), a 3x3 conv to the channels,
    cropped to the image size when it is not a multiple of 2**stages."""

    def __init__(
        self,
        output_shape: tuple[int, int, int] = (8, 8, 1),
        filters: tuple[int, ...] = (64, 32),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        sigma: float = 1.0,
        upsample: str = "transpose",
        **kwargs,
    ):
        super().__init__(output_shape, likelihood, sigma, **kwargs)
        _check(
            len(self.event_shape) == 3,
            f"ConvDecoder needs an image shape (H, W, C). Received: output_shape={output_shape}",
        )
        self.filters = tuple(int(f) for f in filters)
        self.activation = activation
        scale = 2 ** len(self.filters)
        h, w, c = self.event_shape
        self.grid = (math.ceil(h / scale), math.ceil(w / scale), self.filters[0])
        self.stem = keras.layers.Dense(int(np.prod(self.grid)), activation=activation, name="stem")
        self.upsample = upsample
        self.body = conv_up(self.filters, activation, name="up", upsample=upsample)
        self.head = keras.layers.Conv2D(c, 3, padding="same", dtype="float32", name="head")

    def build(
        self, z_shape: tuple[int | None, ...], condition_shape: tuple[int | None, ...] | None = None
    ):
        self.stem.build((None, int(z_shape[-1]) + _width(condition_shape)))
        self.body.build((None, *self.grid))
        self.head.build(self.body.compute_output_shape((None, *self.grid)))

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = self.stem(_flat_with_condition(z, condition))
        h = self.body(tf.reshape(h, (-1, *self.grid)), training=training)
        params = self.head(h)[:, : self.event_shape[0], : self.event_shape[1], :]
        return self._distribution(params)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "activation": self.activation,
            "upsample": self.upsample,
        }


def _options(name: str, **spec) -> type:
    """An options dataclass from ``field=(type, default, help[, set_by])`` tuples; ``set_by``
    names who sets an option users cannot (``gentk info`` lists those apart)."""
    fields = []
    for key, (tp, default, text, *set_by) in spec.items():
        metadata = {"help": text, **({"set_by": set_by[0]} if set_by else {})}
        fields.append((key, tp, dataclasses.field(default=default, metadata=metadata)))
    return dataclasses.make_dataclass(name, fields)


_INTS = tuple[int, ...]
_LATENT = (int, 2, "size of z")
_ACTIVATION = (str, "relu", "hidden activation")
_DISTRIBUTION = (str, "gaussian", "gaussian or deterministic", "the recipe")
_LIKELIHOOD = (str, "bernoulli", ", ".join(LIKELIHOODS))
_SIGMA = (float, 1.0, "sigma of the fixed-sigma Gaussian likelihood")
_INIT = (str, "glorot", "start of the weights: glorot (Keras) or uniform (PyTorch)")

EncoderOptions = _options(
    "EncoderOptions",
    latent_dim=_LATENT,
    hidden=(_INTS, (256, 128), "MLP widths"),
    activation=_ACTIVATION,
    distribution=_DISTRIBUTION,
    init=_INIT,
)
ConvEncoderOptions = _options(
    "ConvEncoderOptions",
    latent_dim=_LATENT,
    filters=(_INTS, (32, 64), "filters per stride-2 stage"),
    activation=_ACTIVATION,
    distribution=_DISTRIBUTION,
    downsample=(str, "stride", "stride, max-pool or avg-pool"),
)
DecoderOptions = _options(
    "DecoderOptions",
    output_shape=(_INTS, (8, 8, 1), "data shape", "the data"),
    hidden=(_INTS, (128, 256), "MLP widths"),
    activation=_ACTIVATION,
    likelihood=_LIKELIHOOD,
    sigma=_SIGMA,
    init=_INIT,
)
ConvDecoderOptions = _options(
    "ConvDecoderOptions",
    output_shape=(_INTS, (8, 8, 1), "image shape (H, W, C)", "the data"),
    filters=(_INTS, (64, 32), "filters per stride-2 stage"),
    activation=_ACTIVATION,
    likelihood=_LIKELIHOOD,
    sigma=_SIGMA,
    upsample=(str, "transpose", "transpose or avg-unpool"),
)
