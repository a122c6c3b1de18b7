"""``DiscretizedLogistic``: a logistic density integrated over the 2**bits bins of a pixel.

#### Mathematical details

Pixels take the values k / (L - 1), k = 0..L-1 (L = 256 for 8 bits). With half bin width
h = 1 / (2 (L - 1)) and the logistic CDF sigma((x - loc) / scale),

    P(x) = sigma((x + h - loc) / s) - sigma((x - h - loc) / s)     (interior bins)
    P(0) = sigma((h - loc) / s),   P(1) = 1 - sigma((1 - h - loc) / s)   (edge bins take the tails)

so the probabilities of the L values sum to one and -log P is a code length in nats (Salimans
et al., "PixelCNN++", 2017). The difference of sigmoids is computed in log space on the side of
the distribution where it does not cancel.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["DiscretizedLogistic"]


class DiscretizedLogistic(tfd.Distribution):
    """Logistic(loc, scale) discretised to ``levels`` values in [0, 1] (batch-shaped, scalar
    events; wrap in ``tfd.Independent`` for images).

    ``log_prob`` rounds its argument to the nearest level. ``mean`` is ``loc`` clipped to
    [0, 1] and ``stddev`` the logistic's, which the decoders use as reconstructions.
    """

    def __init__(
        self,
        loc: tf.Tensor,
        scale: tf.Tensor,
        levels: int = 256,
        validate_args: bool = False,
        allow_nan_stats: bool = True,
        name: str = "DiscretizedLogistic",
    ):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._loc = tf.convert_to_tensor(loc, dtype_hint=tf.float32)
            self._scale = tf.convert_to_tensor(scale, dtype=self._loc.dtype)
            self._levels = int(levels)
            super().__init__(
                dtype=self._loc.dtype,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=allow_nan_stats,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(
            loc=tfp.util.ParameterProperties(),
            scale=tfp.util.ParameterProperties(
                default_constraining_bijector_fn=lambda: tfp.bijectors.Softplus()
            ),
            levels=tfp.util.ParameterProperties(event_ndims=None, is_preferred=False),
        )

    @property
    def loc(self):
        return self._loc

    @property
    def scale(self):
        return self._scale

    @property
    def levels(self):
        return self._levels

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], dtype=tf.int32)

    def _quantize(self, x):
        top = tf.cast(self._levels - 1, self.dtype)
        return tf.clip_by_value(tf.round(x * top), 0.0, top) / top

    def _log_prob(self, x):
        x = self._quantize(tf.convert_to_tensor(x, self.dtype))
        half = 0.5 / (self._levels - 1)
        upper = (x + half - self._loc) / self._scale
        lower = (x - half - self._loc) / self._scale
        # log(sigma(u) - sigma(l)) = log(sigma(-l) - sigma(-u)), on whichever side of loc the
        # sigmoids are not saturated at 1. Mirroring the inputs (not selecting between two
        # results) keeps the gradient finite: a discarded branch's inf would still give NaN.
        flip = upper + lower > 0
        a = tf.where(flip, -lower, upper)
        b = tf.where(flip, -upper, lower)
        log_a, log_b = tf.math.log_sigmoid(a), tf.math.log_sigmoid(b)
        interior = log_a + tfp.math.log1mexp(tf.minimum(log_b - log_a, -1e-7))
        return tf.where(
            x <= 0.0,
            tf.math.log_sigmoid(upper),
            tf.where(x >= 1.0, tf.math.log_sigmoid(-lower), interior),
        )

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], self._batch_shape_tensor()], axis=0)
        u = tf.random.stateless_uniform(
            shape, seed=tfp.random.sanitize_seed(seed), minval=1e-6, maxval=1 - 1e-6
        )
        return self._quantize(self._loc + self._scale * (tf.math.log(u) - tf.math.log1p(-u)))

    def _mean(self):
        return tf.clip_by_value(self._loc, 0.0, 1.0) * tf.ones_like(self._scale)

    def _stddev(self):
        return self._scale * (math.pi / math.sqrt(3.0)) * tf.ones_like(self._loc)
