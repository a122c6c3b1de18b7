"""Multiscale image flows (Dinh et al. 2017, RealNVP; Kingma & Dhariwal 2018, Glow) on images
``[H, W, C]``, as one registered Bijector layer, ``MultiscaleFlow``.

In the normalising direction (data -> base), scale ``s`` is

    steps couplings at [H, W, C]            (RealNVP: checkerboard masks; Glow: actnorm,
                                             invertible 1x1 convolution, channel coupling)
    squeeze to [H/2, W/2, 4C]
    (RealNVP: steps channel-mask couplings)
    the next scale on the first 2C channels only: the other half is factored out
    unsqueeze back to [H, W, C]

so the base variable has the image's shape and the factored-out halves take no further layers.
The pieces are TFP bijectors (``tfb.Reshape``, ``tfb.Transpose``, ``tfb.ScaleMatvecLU``,
``tfb.Shift``/``tfb.Scale``) and three small ``tfb.Bijector`` subclasses written here: the
masked affine coupling (checkerboard or channel mask, Keras 3 conv net), the squeeze and the
"first channels only" wrapper. A class-conditional flow (``condition_dim`` > 0) gives every
coupling net the one-hot label as extra constant input channels.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import Bijector

tfb = tfp.bijectors

__all__ = ["MultiscaleFlow", "checkerboard"]


def checkerboard(h: int, w: int, c: int, parity: int) -> np.ndarray:
    """``[h, w, c]`` 0/1 mask: 1 where ``(i + j) % 2 == parity``."""
    board = (np.add.outer(np.arange(h), np.arange(w)) % 2 == parity).astype("float32")
    return np.repeat(board[:, :, None], c, axis=2)


class _MaskedAffine(tfb.Bijector):
    """``y = m*x + (1-m) * (x * exp(s) + t)`` with ``(s, t) = net(m*x[, c])``; 3 event dims.
    A condition ``c`` ``[B, K]`` enters the net as ``K`` constant channels."""

    def __init__(self, mask, net, scale_bound, condition=None, name="masked_affine"):
        parameters = dict(locals())
        self._mask = tf.constant(mask, tf.float32)
        self._net, self._bound, self._condition = net, float(scale_bound), condition
        super().__init__(forward_min_event_ndims=3, parameters=parameters, name=name)

    def _params(self, kept):
        if self._condition is not None:
            c = self._condition[..., None, None, :]
            shape = tf.concat([tf.shape(kept)[:-1], tf.shape(c)[-1:]], 0)
            kept = tf.concat([kept, tf.broadcast_to(c, shape)], axis=-1)
        raw = self._net(kept)
        raw_s, t = tf.split(raw, 2, axis=-1)
        s = self._bound * tf.tanh(raw_s / self._bound) * (1.0 - self._mask)
        return s, t * (1.0 - self._mask)

    def _forward(self, x):
        s, t = self._params(x * self._mask)
        return x * self._mask + (1.0 - self._mask) * (x * tf.exp(s) + t)

    def _inverse(self, y):
        s, t = self._params(y * self._mask)
        return y * self._mask + (1.0 - self._mask) * ((y - t) * tf.exp(-s))

    def _forward_log_det_jacobian(self, x):
        s, _ = self._params(x * self._mask)
        return tf.reduce_sum(s, axis=[-3, -2, -1])

    def _inverse_log_det_jacobian(self, y):
        s, _ = self._params(y * self._mask)
        return -tf.reduce_sum(s, axis=[-3, -2, -1])

    def inverse_and_log_det(self, y):
        """Both from one run of the net (TFP asks ``_inverse`` and ``_inverse_log_det_jacobian``
        apart, two runs)."""
        s, t = self._params(y * self._mask)
        x = y * self._mask + (1.0 - self._mask) * ((y - t) * tf.exp(-s))
        return x, -tf.reduce_sum(s, axis=[-3, -2, -1])


class _FirstChannels(tfb.Bijector):
    """``inner`` on the first ``k`` channels, identity on the rest (the factored-out half)."""

    def __init__(self, inner, k, name="first_channels"):
        parameters = dict(locals())
        self._inner, self._k = inner, int(k)
        super().__init__(forward_min_event_ndims=3, parameters=parameters, name=name)

    def _forward(self, x):
        return tf.concat([self._inner.forward(x[..., : self._k]), x[..., self._k :]], -1)

    def _inverse(self, y):
        return tf.concat([self._inner.inverse(y[..., : self._k]), y[..., self._k :]], -1)

    def _forward_log_det_jacobian(self, x):
        return self._inner.forward_log_det_jacobian(x[..., : self._k], event_ndims=3)

    def _inverse_log_det_jacobian(self, y):
        return self._inner.inverse_log_det_jacobian(y[..., : self._k], event_ndims=3)


def squeeze(h: int, w: int, c: int) -> tfb.Bijector:
    """``forward``: ``[h, w, c] -> [h/2, w/2, 4c]`` (each 2x2 patch into the channels)."""
    return tfb.Chain([
        tfb.Reshape([h // 2, w // 2, 4 * c], [h // 2, w // 2, 2, 2, c]),
        tfb.Transpose(perm=[0, 2, 1, 3, 4]),
        tfb.Reshape([h // 2, 2, w // 2, 2, c], [h, w, c]),
    ])  # fmt: skip


def _conv_net(channels_out, filters, name):
    """3x3 conv, 1x1 conv (ReLU), zero-initialised 3x3 conv to ``2 * channels_out``."""
    return keras.Sequential(
        [
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(filters, 1, activation="relu"),
            keras.layers.Conv2D(2 * channels_out, 3, padding="same", kernel_initializer="zeros"),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="gentk_flows")
class MultiscaleFlow(Bijector):
    """The multiscale RealNVP or Glow bijector on images of ``shape`` ``(H, W, C)``.

    Args:
        shape: ``(H, W, C)``; ``H`` and ``W`` divisible by ``2 ** (scales - 1)``.
        kind: ``realnvp`` or ``glow``.
        scales: number of scales (each but the last squeezes and factors out half).
        steps: couplings (or Glow steps) per scale and stage.
        filters: width of the coupling conv nets.
        scale_bound: soft bound of the coupling log-scales.
        seed: seed of the 1x1 convolutions' initial rotations.
        condition_dim: width of a one-hot condition every coupling net reads (0: none).
    """

    def __init__(
        self,
        shape: tuple[int, int, int] = (8, 8, 1),
        kind: str = "realnvp",
        scales: int = 2,
        steps: int = 3,
        filters: int | tuple[int, ...] = 32,
        scale_bound: float = 3.0,
        seed: int = 0,
        condition_dim: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.condition_dim = int(condition_dim)
        self.shape = tuple(int(s) for s in shape)
        self.kind, self.scales, self.steps = kind, int(scales), int(steps)
        self.filters, self.scale_bound, self.seed = int(filters), float(scale_bound), int(seed)
        if kind not in ("realnvp", "glow"):
            raise ValueError(f"`kind` must be realnvp or glow. Received: kind={kind!r}")
        h, w, _ = self.shape
        if h % 2 ** (self.scales - 1) or w % 2 ** (self.scales - 1):
            raise ValueError(
                f"images of {h}x{w} cannot be squeezed {self.scales - 1} times; use fewer scales"
            )
        self.nets, self.actnorms, self.mixers = [], [], []
        self._plan = self._make_plan(self.shape, 0)
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized"
        )
        self.built = True

    def build(self, input_shape: tuple[int | None, ...] | None = None):
        self.built = True  # every weight is made in __init__

    # -- layout -----------------------------------------------------------------------------
    def _coupling(self, shape, mask):
        net = _conv_net(shape[2], self.filters, f"coupling_{len(self.nets)}")
        net.build((None, shape[0], shape[1], shape[2] + self.condition_dim))
        self.nets.append(net)
        return ("coupling", len(self.nets) - 1, mask)

    def _glow_step(self, shape, parity):
        k = len(self.actnorms)
        self.actnorms.append((
            self.add_weight(shape=(shape[2],), initializer="zeros", name=f"actnorm_{k}_shift"),
            self.add_weight(shape=(shape[2],), initializer="zeros", name=f"actnorm_{k}_log_scale"),
        ))  # fmt: skip
        rng = np.random.default_rng(self.seed + len(self.mixers))
        q, _ = np.linalg.qr(rng.standard_normal((shape[2], shape[2])))
        lu, perm = tf.linalg.lu(q.astype("float32"))
        m = len(self.mixers)
        self.mixers.append((
            self.add_weight(shape=lu.shape, initializer=keras.initializers.Constant(lu.numpy()),
                            name=f"mix_{m}_lower_upper"),
            self.add_weight(shape=perm.shape, dtype="int32", trainable=False,
                            initializer=keras.initializers.Constant(perm.numpy()),
                            name=f"mix_{m}_permutation"),
        ))  # fmt: skip
        channel = np.zeros(shape, "float32")
        half = shape[2] // 2 if shape[2] > 1 else 0
        if half:
            channel[..., :half] = 1.0 if parity == 0 else 0.0
            channel[..., half:] = 0.0 if parity == 0 else 1.0
            mask = channel
        else:  # one channel: a checkerboard instead
            mask = checkerboard(*shape, parity)
        return [("actnorm", k), ("mix", m), self._coupling(shape, mask)]

    def _make_plan(self, shape, level):
        """Data -> base list of pieces for the scale at ``level``."""
        h, w, c = shape
        plan = []
        for j in range(self.steps):
            if self.kind == "glow":
                plan += self._glow_step(shape, j % 2)
            else:
                plan.append(self._coupling(shape, checkerboard(h, w, c, j % 2)))
        if level == self.scales - 1:
            return plan
        squeezed = (h // 2, w // 2, 4 * c)
        plan.append(("squeeze", shape))
        if self.kind == "realnvp":
            for j in range(self.steps):
                mask = np.zeros(squeezed, "float32")
                mask[..., : 2 * c] = 1.0 if j % 2 == 0 else 0.0
                mask[..., 2 * c :] = 0.0 if j % 2 == 0 else 1.0
                plan.append(self._coupling(squeezed, mask))
        inner = self._make_plan((h // 2, w // 2, 2 * c), level + 1)
        plan.append(("first", 2 * c, inner))
        plan.append(("unsqueeze", shape))
        return plan

    # -- the bijector ---------------------------------------------------------------------------
    def _piece(self, piece, condition=None):
        kind = piece[0]
        if kind == "coupling":
            return _MaskedAffine(piece[2], self.nets[piece[1]], self.scale_bound, condition)
        if kind == "actnorm":
            shift, log_scale = self.actnorms[piece[1]]
            return tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=log_scale)])
        if kind == "mix":
            return tfb.ScaleMatvecLU(*self.mixers[piece[1]])
        if kind == "squeeze":  # data -> base squeezes: the forward (base -> data) unsqueezes
            return tfb.Invert(squeeze(*piece[1]))
        if kind == "unsqueeze":
            return squeeze(*piece[1])
        return _FirstChannels(self._chain(piece[2], condition), piece[1])

    def _chain(self, plan, condition=None):
        return tfb.Chain([self._piece(p, condition) for p in plan])  # data side first

    def __call__(self, condition: tf.Tensor | None = None, **kwargs):
        return self.call(condition)

    def call(self, condition: tf.Tensor | None = None):
        if self.condition_dim and condition is None:
            raise ValueError("this MultiscaleFlow is conditional: call it with condition=")
        condition = tf.cast(condition, tf.float32) if self.condition_dim else None
        return self._chain(self._plan, condition)

    def inverse_and_log_det(
        self,
        y: tf.Tensor,
        condition: tf.Tensor | None = None,
        training: bool = False,
        event_ndims: int = 3,
    ):
        """The pieces in the normalising direction, each coupling's net run once."""
        if self.condition_dim and condition is None:
            raise ValueError("this MultiscaleFlow is conditional: call it with condition=")
        condition = tf.cast(condition, tf.float32) if self.condition_dim else None
        return self._normalize(self._plan, y, condition)

    def _normalize(self, plan, h, condition):
        total = tf.zeros(tf.shape(h)[:-3], h.dtype)
        for piece in plan:
            if piece[0] == "first":
                k = piece[1]
                inner, log_det = self._normalize(piece[2], h[..., :k], condition)
                h = tf.concat([inner, h[..., k:]], -1)
            elif piece[0] == "coupling":
                h, log_det = self._piece(piece, condition).inverse_and_log_det(h)
            else:
                bijector = self._piece(piece, condition)
                h, log_det = bijector.inverse(h), bijector.inverse_log_det_jacobian(h, 3)
            total += log_det
        return h, total

    def initialize(self, x: tf.Tensor) -> None:
        """Glow's data-dependent initialisation: each actnorm, in the normalising direction,
        is set so that the batch ``x`` leaves it with zero mean and unit variance per channel.
        Once only: the flag is saved with the weights. (A conditional flow initialises with
        any label: every coupling starts as the identity, whatever its input.)"""
        if float(keras.ops.convert_to_numpy(self.initialized)) > 0:
            return
        x = tf.convert_to_tensor(x, tf.float32)
        condition = tf.zeros((tf.shape(x)[0], self.condition_dim)) if self.condition_dim else None
        self._initialize(self._plan, x, condition)
        self.initialized.assign(1.0)

    def _initialize(self, plan, h, condition=None):
        for piece in plan:
            if piece[0] == "actnorm":
                shift, log_scale = self.actnorms[piece[1]]
                mean, var = tf.nn.moments(h, axes=[0, 1, 2])
                shift.assign(mean)
                log_scale.assign(0.5 * tf.math.log(var + 1e-6))
            if piece[0] == "first":
                k = piece[1]
                h = tf.concat([self._initialize(piece[2], h[..., :k], condition), h[..., k:]], -1)
                continue
            h = self._piece(piece, condition).inverse(h)
        return h

    def get_config(self):
        return {
            **super().get_config(),
            "shape": self.shape,
            "kind": self.kind,
            "scales": self.scales,
            "steps": self.steps,
            "filters": self.filters,
            "scale_bound": self.scale_bound,
            "seed": self.seed,
            "condition_dim": self.condition_dim,
        }
