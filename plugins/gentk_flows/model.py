"""``FlowModel``: maximum likelihood for any chain of registered Bijector layers.

The flow is ``tfd.TransformedDistribution(base, tfb.Chain([data transform, *reversed(layers)]))``
rebuilt on every call from the layers (never stored): ``layers[0]`` touches the base space,
``layers[-1]`` the data. A fixed data transform sits at the data end:

- ``dequantize=L`` (images with ``L`` levels, e.g. 256 or digits' 17): each example
  ``x = k / (L - 1)`` is moved to ``(k + u) / L`` with ``u ~ U[0, 1)^D`` before the density is
  evaluated; then ``-log P(k) <= -log p(x + u) + D log L`` (Theis et al., 2016);
- ``logit_alpha=a``: the data are squeezed to ``[a, 1 - a]`` and mapped by the logit, so the
  flow models an unbounded variable; its Jacobian is part of the log-likelihood;
- ``standardize=(mean, std)``: a fixed affine map for tabular data, also counted.

So ``log_prob`` is the log-density of the data in their own units, and
``bits_per_dim = (nll + D log L) / (D log 2)`` for dequantised images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import GenerativeModel, unpack_x

tfd, tfb = tfp.distributions, tfp.bijectors

__all__ = ["FlowModel"]


@keras.saving.register_keras_serializable(package="gentk_flows")
class FlowModel(GenerativeModel):
    """A normalizing flow trained by maximum likelihood.

    Args:
        layers: Bijector layers (or their configs), base side first.
        event_shape: shape of one example (images are flattened inside).
        dequantize: number of levels ``L`` of quantised data (0: continuous data).
        logit_alpha: boundary constant of the logit transform (0: none; needs data in [0, 1]).
        standardize: ``(mean, std)`` lists of a fixed affine data transform, or None.
        num_classes: classes of a conditional flow (the one-hot label reaches every layer).
        seed: seed of the dequantisation noise and of sampling.
        flatten: the layers act on vectors ``[B, D]`` (True) or on images ``[B, H, W, C]``
            (False: multiscale image flows).
    """

    loss_names = ("loss", "nll", "bits_per_dim")

    def __init__(
        self,
        layers: Sequence[keras.layers.Layer],
        event_shape: tuple[int, ...],
        dequantize: int = 0,
        logit_alpha: float = 0.0,
        standardize: tuple[Sequence[float], Sequence[float]] | None = None,
        num_classes: int = 0,
        seed: int = 0,
        flatten: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.flatten = bool(flatten)
        self.flow_layers = [
            keras.saving.deserialize_keras_object(layer) if isinstance(layer, dict) else layer
            for layer in layers
        ]
        self.event_shape = tuple(int(s) for s in event_shape)
        self.dim = int(np.prod(self.event_shape))
        self.dequantize = int(dequantize)
        self.logit_alpha = float(logit_alpha)
        self.standardize = (
            None if standardize is None else [list(map(float, v)) for v in standardize]
        )
        self.num_classes = int(num_classes)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        if not 0.0 <= self.logit_alpha < 0.5:
            raise ValueError(f"`logit_alpha` must lie in [0, 0.5). Received: {logit_alpha}")

    # -- the flow ---------------------------------------------------------------------------
    def build(self, input_shape: tuple[int | None, ...] | None = None):
        for layer in self.flow_layers:
            if not layer.built:
                layer.build()
        self.built = True

    def data_transform(self) -> tfb.Bijector:
        """The fixed map from the flow's unbounded space to the data space."""
        parts = []
        if self.standardize is not None:
            mean, std = (tf.constant(v, tf.float32) for v in self.standardize)
            parts += [tfb.Shift(mean), tfb.Scale(std)]
        if self.logit_alpha > 0:
            a = self.logit_alpha
            # x = (sigmoid(y) - a) / (1 - 2a): data in [0, 1] from y in R
            parts += [tfb.Scale(1.0 / (1.0 - 2.0 * a)), tfb.Shift(-a), tfb.Sigmoid()]
        return tfb.Chain(parts) if parts else tfb.Identity()

    def bijector(self, condition: tf.Tensor | None = None, training: bool = False) -> tfb.Bijector:
        """Base space -> data space, rebuilt from the layers (``training`` reaches layers that
        estimate their log-determinant differently in training, such as FFJORD's trace)."""
        if not self.built:
            self.build()
        chain = [
            layer(condition=condition, training=training)
            if getattr(layer, "uses_training", False)
            else layer(condition=condition)
            for layer in reversed(self.flow_layers)
        ]
        return tfb.Chain([self.data_transform(), *chain])

    @property
    def flow_shape(self) -> tuple[int, ...]:
        """The shape the layers see: ``(D,)`` or the image's ``(H, W, C)``."""
        return (self.dim,) if self.flatten else self.event_shape

    def base(self, temperature: float = 1.0) -> tfd.Distribution:
        """N(0, temperature^2 I) over the flow's shape."""
        scale = tf.cast(temperature, tf.float32)
        return tfd.Independent(
            tfd.Normal(tf.zeros(self.flow_shape), scale),
            reinterpreted_batch_ndims=len(self.flow_shape),
        )

    def distribution(
        self, condition: tf.Tensor | None = None, temperature: float = 1.0, training: bool = False
    ):
        return tfd.TransformedDistribution(
            self.base(temperature), self.bijector(condition, training)
        )

    def density(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        """``log p(x)`` of points ``x`` already in the flow's shape: the data transform's and
        each layer's ``inverse_and_log_det`` down to the base, whose log-density ends it. The
        same number as ``distribution(condition).log_prob(x)`` (tested), with each coupling's
        or MAF's network run once where TFP's ``TransformedDistribution`` runs it for the
        inverse and again for the log-determinant (a smaller graph to trace, half the
        network passes per step)."""
        if not self.built:
            self.build()
        ndims = len(self.flow_shape)
        transform = self.data_transform()
        h = transform.inverse(x)
        total = transform.inverse_log_det_jacobian(x, event_ndims=ndims)
        for layer in reversed(self.flow_layers):
            if hasattr(layer, "inverse_and_log_det"):
                h, log_det = layer.inverse_and_log_det(h, condition, training, ndims)
            else:  # a layer outside gentk's Bijector interface: ask its tfb.Bijector
                bijector = layer(condition=condition)
                h, log_det = bijector.inverse(h), bijector.inverse_log_det_jacobian(h, ndims)
            total += log_det
        return self.base().log_prob(h) + total

    def _condition(self, labels):
        if not self.num_classes:
            return None
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    def _flat(self, x):
        return tf.reshape(tf.cast(x, tf.float32), (-1, *self.flow_shape))

    def initialize(self, x: tf.Tensor, labels: tf.Tensor | None = None) -> None:
        """Data-dependent initialisation (actnorm): push a batch through the layers in the
        normalising direction, letting each layer that can ``initialize`` itself on it."""
        if not self.built:
            self.build()
        h = self.data_transform().inverse(self._prepare(self._flat(x), training=False))
        condition = self._condition(labels) if labels is not None else None
        for layer in reversed(self.flow_layers):
            if hasattr(layer, "initialize"):
                layer.initialize(h)
            h = layer(condition=condition).inverse(h)

    def _prepare(self, x, training):
        """Dequantisation noise (uniform within each bin; the bin midpoints at evaluation would
        bias the bound, so the noise is drawn in both cases)."""
        if not self.dequantize:
            return x
        levels = float(self.dequantize)
        k = tf.round(x * (levels - 1.0))
        u = keras.random.uniform(tf.shape(x), seed=self.seed_generator)
        return (k + u) / levels

    def log_prob(self, x: tf.Tensor, labels: tf.Tensor | None = None):
        """Log-density of (dequantised) ``x`` in the data's units, per example."""
        x = self._prepare(self._flat(x), training=False)
        return self.density(x, self._condition(labels))

    @tf.function(reduce_retracing=True)
    def compiled_log_prob(self, x: tf.Tensor, labels: tf.Tensor | None = None):
        """``log_prob`` in a ``tf.function`` (an ODE flow solves eagerly otherwise, slowly)."""
        return self.log_prob(x, labels)

    def nats_to_bits_per_dim(self, nll: float):
        """``(nll + D log L) / (D log 2)``: bits per dimension of the discrete data."""
        offset = self.dim * math.log(self.dequantize) if self.dequantize else 0.0
        return (nll + offset) / (self.dim * math.log(2.0))

    # -- training ----------------------------------------------------------------------------
    def compute_losses(self, data: Any, training: bool = False):
        x = unpack_x(data)
        labels = data[1] if self.num_classes and isinstance(data, (tuple, list)) else None
        xf = self._prepare(self._flat(x), training)
        nll = -tf.reduce_mean(self.density(xf, self._condition(labels), training=training))
        return {"loss": nll, "nll": nll, "bits_per_dim": self.nats_to_bits_per_dim(nll)}

    def call(self, x: tf.Tensor, training: bool = False):
        """The base-space code of ``x`` (``encode``); a conditional flow encodes as class 0
        here (Keras builds models by calling them on inputs alone): use ``encode(x, labels)``."""
        labels = tf.zeros(tf.shape(x)[:1], tf.int32) if self.num_classes else None
        return self.encode(x, labels)

    # -- what users do with a trained flow ------------------------------------------------------
    def encode(self, x: tf.Tensor, labels: tf.Tensor | None = None):
        """``x`` mapped to the base space (no dequantisation noise: bin midpoints)."""
        xf = self._flat(x)
        if self.dequantize:
            levels = float(self.dequantize)
            xf = (tf.round(xf * (levels - 1.0)) + 0.5) / levels
        return self.bijector(self._condition(labels)).inverse(xf)

    def decode(self, z: tf.Tensor, labels: tf.Tensor | None = None):
        z = tf.reshape(tf.cast(z, tf.float32), (-1, *self.flow_shape))
        x = self.bijector(self._condition(labels)).forward(z)
        return tf.reshape(x, (-1, *self.event_shape))

    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        labels: tf.Tensor | None = None,
        seed: int | None = None,
    ):
        seed = self.seed_generator if seed is None else seed
        z = keras.random.normal((int(n), *self.flow_shape), seed=seed) * temperature
        return self.decode(z, labels)

    def get_config(self):
        return {
            **super().get_config(),
            "layers": [keras.saving.serialize_keras_object(layer) for layer in self.flow_layers],
            "event_shape": self.event_shape,
            "dequantize": self.dequantize,
            "logit_alpha": self.logit_alpha,
            "standardize": self.standardize,
            "num_classes": self.num_classes,
            "seed": self.seed,
            "flatten": self.flatten,
        }
