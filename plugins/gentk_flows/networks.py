"""Keras 3 networks inside the flows: TFP's own (``tfb.AutoregressiveNetwork``, Glow's default
nets) are Keras 2 objects that Keras 3 can neither train nor save (see ``../shared/STACK.md``).

- ``MADE``: masked autoencoder for distribution estimation (Germain et al., 2015): dense layers
  whose weights are multiplied by fixed 0/1 masks built from degrees, so output ``i`` depends
  only on inputs ``< i`` (in the flow's order); ``params`` outputs per dimension.
- ``CouplingNet``: an MLP from the kept half (and an optional condition) to the parameters of
  the transformed half.

Both start in one of two ways (``init``): ``identity``, the output layer at zero, so every
layer starts as the identity (what deep image flows and VAE posteriors want), or ``uniform``,
every kernel and bias drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's ``Linear``
does. On 2-D data the conditioner's input is one coordinate: with zero biases every first-layer
ReLU bends at 0, and with a zero output layer no hidden layer gets a gradient at the first step;
``uniform`` reached zuko's NLL on two moons in 20 epochs where ``identity`` stayed 0.6 nats
behind (``benchmarks/flows_peer.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["MADE", "CouplingNet", "FanInUniform", "INITS", "made_masks"]

INITS = ("identity", "uniform")


@keras.saving.register_keras_serializable(package="gentk_flows")
class FanInUniform(keras.initializers.Initializer):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for any shape (biases too, which carry no fan-in)."""

    def __init__(self, fan_in: int, seed: int | None = None):
        self.fan_in, self.seed = int(fan_in), seed

    def __call__(self, shape: tuple[int | None, ...], dtype: tf.DType | str | None = None):
        bound = 1.0 / np.sqrt(max(1, self.fan_in))
        return keras.random.uniform(shape, -bound, bound, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"fan_in": self.fan_in, "seed": self.seed}


def _initializers(init: str, fan_in: int, output: bool) -> dict:
    """Keras initializer arguments of one dense layer for ``init``."""
    if init not in INITS:
        raise ValueError(f"`net_init` must be one of {', '.join(INITS)}. Received: {init!r}")
    if init == "uniform":
        uniform = FanInUniform(fan_in)
        return {"kernel_initializer": uniform, "bias_initializer": FanInUniform(fan_in)}
    return {"kernel_initializer": "zeros" if output else "glorot_uniform",
            "bias_initializer": "zeros"}  # fmt: skip


def made_masks(dim: int, hidden: tuple[int, ...], params: int) -> list[np.ndarray]:
    """The MADE masks ``[in, out]`` of every layer: input degrees 1..D in order, hidden degrees
    cycling over 1..D-1, output ``d`` connected to hidden units of degree < d (strictly
    autoregressive); the output layer has ``params`` units per dimension, dimension-major."""
    degrees_in = np.arange(1, dim + 1)
    masks, previous = [], degrees_in
    for width in hidden:
        degrees = np.arange(width) % max(1, dim - 1) + 1
        masks.append((degrees[None, :] >= previous[:, None]).astype("float32"))
        previous = degrees
    out_degrees = np.repeat(degrees_in, params)
    masks.append((out_degrees[None, :] > previous[:, None]).astype("float32"))
    return masks


@keras.saving.register_keras_serializable(package="gentk_flows")
class MaskedDense(keras.layers.Layer):
    """``x @ (W * mask) + b``: a dense layer with a fixed connectivity mask (saved in config)."""

    def __init__(
        self,
        mask: np.ndarray,
        activation: str | None = None,
        zero_init: bool = False,
        init: str = "identity",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mask_value = np.asarray(mask, dtype="float32")
        self.activation = keras.activations.get(activation)
        self.zero_init, self.init = bool(zero_init), init

    def build(self, input_shape: tuple[int | None, ...]):
        n_in, n_out = self.mask_value.shape
        inits = _initializers(self.init, n_in, self.zero_init)
        self.kernel = self.add_weight(
            shape=(n_in, n_out), initializer=inits["kernel_initializer"], name="kernel"
        )
        self.bias = self.add_weight(
            shape=(n_out,), initializer=inits["bias_initializer"], name="bias"
        )

    def call(self, x: tf.Tensor):
        mask = ops.convert_to_tensor(self.mask_value, dtype=self.kernel.dtype)
        return self.activation(ops.matmul(x, self.kernel * mask) + self.bias)

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask_value.tolist(),
            "activation": keras.activations.serialize(self.activation),
            "zero_init": self.zero_init,
            "init": self.init,
        }


@keras.saving.register_keras_serializable(package="gentk_flows")
class MADE(keras.layers.Layer):
    """``MADE(x) -> [B, D, params]``: output ``[:, d]`` is a function of ``x[:, :d]`` only.

    Args:
        dim: D, the number of inputs.
        hidden: widths of the masked hidden layers.
        params: outputs per dimension (2 for shift and log-scale).
        activation: hidden activation.
        conditional_dim: width of a condition concatenated to every hidden layer's input
            (unmasked: every output may depend on it); 0 for none.
    """

    def __init__(
        self,
        dim: int,
        hidden: tuple[int, ...] = (64, 64),
        params: int = 2,
        activation: str | None = "relu",
        conditional_dim: int = 0,
        init: str = "identity",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dim, self.hidden, self.params = int(dim), tuple(int(h) for h in hidden), int(params)
        self.activation, self.conditional_dim = activation, int(conditional_dim)
        self.init = init
        masks = made_masks(self.dim, self.hidden, self.params)
        last = len(masks) - 1
        self.layers_ = [
            MaskedDense(m, activation if k < last else None, k == last, init=init)
            for k, m in enumerate(masks)
        ]
        self.condition_layers = [
            keras.layers.Dense(m.shape[1], use_bias=False) for m in masks[:-1]
        ] if self.conditional_dim else []  # fmt: skip

    def build(self, input_shape: tuple[int | None, ...]):
        width = self.dim
        for k, layer in enumerate(self.layers_):
            layer.build((None, width))
            if k < len(self.condition_layers):
                self.condition_layers[k].build((None, self.conditional_dim))
            width = layer.mask_value.shape[1]

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None):
        h = x
        for k, layer in enumerate(self.layers_):
            h = layer(h)
            if k < len(self.condition_layers) and condition is not None:
                h = h + self.condition_layers[k](condition)
        import tensorflow as tf

        shape = tf.concat([tf.shape(h)[:-1], [self.dim, self.params]], 0)
        return tf.reshape(h, shape)  # any batch shape: [..., D, params]

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "hidden": self.hidden,
            "params": self.params,
            "activation": self.activation,
            "conditional_dim": self.conditional_dim,
            "init": self.init,
        }


@keras.saving.register_keras_serializable(package="gentk_flows")
class CouplingNet(keras.layers.Layer):
    """``CouplingNet(x_kept, condition=None) -> [B, out_dim]``: an MLP started as ``init`` says
    (``identity``: its output layer at zero, the coupling it drives starts as the identity)."""

    def __init__(
        self,
        out_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        activation: str | None = "relu",
        condition_dim: int = 0,
        init: str = "identity",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.out_dim, self.hidden, self.activation = int(out_dim), tuple(hidden), activation
        self.condition_dim, self.init = int(condition_dim), init
        _initializers(init, 1, False)  # checks the name
        self.body = [keras.layers.Dense(int(h), activation=activation) for h in self.hidden]
        self.head = keras.layers.Dense(self.out_dim)

    def build(self, input_shape: tuple[int | None, ...]):
        width = int(input_shape[-1]) + self.condition_dim
        for layer in [*self.body, self.head]:  # the fan-in is known here
            inits = _initializers(self.init, width, layer is self.head)
            layer.kernel_initializer = keras.initializers.get(inits["kernel_initializer"])
            layer.bias_initializer = keras.initializers.get(inits["bias_initializer"])
            layer.build((None, width))
            width = layer.units

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None):
        h = x if condition is None else ops.concatenate([x, condition], axis=-1)
        for layer in self.body:
            h = layer(h)
        return self.head(h)

    def get_config(self):
        return {
            **super().get_config(),
            "out_dim": self.out_dim,
            "hidden": self.hidden,
            "activation": self.activation,
            "condition_dim": self.condition_dim,
            "init": self.init,
        }
