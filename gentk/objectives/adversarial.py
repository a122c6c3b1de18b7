"""Adversarial losses as pure functions of the critic's raw scores, in pairs
``<name>_critic_loss(real_scores, fake_scores)`` / ``<name>_generator_loss(fake_scores)``, and
the f-GAN family (Nowozin et al., 2016) from each divergence's output activation and conjugate.

Scores are the critic's raw outputs (logits, or unbounded values for Wasserstein and hinge):
``[B]`` tensors, or ``[B, 2]`` two-class logits for the softmax forms. Every loss is a batch
mean, so the critic and generator losses have the scale of one example.

#### Mathematical details

With D(x) = sigmoid(s(x)) the probability that x is real:
- minimax (Goodfellow et al., 2014): the critic minimises
  -E_data[log D(x)] - E_g[log(1 - D(x))]; the generator minimises E_g[log(1 - D(x))].
  At the optimal critic D* = p_data / (p_data + p_g) the value is 2 JS(p_data || p_g) - log 4.
- non-saturating: the generator minimises -E_g[log D(x)] instead (same fixed point, gradients
  that do not vanish when the critic rejects the samples).
- Wasserstein (Arjovsky et al., 2017): the critic minimises E_g[s] - E_data[s] over
  1-Lipschitz s (clipping, a gradient penalty or spectral normalisation); at the optimum
  -loss = W1(p_data, p_g). The generator minimises -E_g[s].
- hinge (Lim & Ye, 2017; Miyato et al., 2018): E_data[relu(1 - s)] + E_g[relu(1 + s)];
  the generator minimises -E_g[s].
- least squares (Mao et al., 2017): 0.5 E_data[(s - 1)^2] + 0.5 E_g[s^2]; the generator
  minimises 0.5 E_g[(s - 1)^2].
- f-GAN: for a convex f with f(1) = 0, D_f(P || Q) = sup_T E_P[T] - E_Q[f*(T)], attained at
  T* = f'(p / q). The critic's raw output v passes through the output activation g_f so that
  T = g_f(v) lies in the domain of f*; the critic minimises -(E_P[g_f(v)] - E_Q[f*(g_f(v))])
  and the generator, as the paper recommends, minimises -E_Q[g_f(v)].

#### References
Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014. Nowozin, Cseke and Tomioka,
f-GAN, NeurIPS 2016. Arjovsky, Chintala and Bottou, Wasserstein GAN, ICML 2017. Gulrajani et al.,
Improved Training of Wasserstein GANs, NeurIPS 2017. Mao et al., Least Squares GANs, ICCV 2017.
Miyato et al., Spectral Normalization for GANs, ICLR 2018.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf

__all__ = [
    "minimax_critic_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "softmax_minimax_critic_loss",
    "softmax_minimax_generator_loss",
    "softmax_nonsaturating_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "FDivergence",
    "F_DIVERGENCES",
    "f_critic_loss",
    "f_generator_loss",
    "f_bound",
]

_LOG2 = math.log(2.0)


def _mean(x):
    return tf.reduce_mean(tf.cast(x, tf.float32))


def minimax_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor):
    """-E[log D(x_real)] - E[log(1 - D(x_fake))] with D = sigmoid(score)."""
    return _mean(tf.nn.softplus(-real_scores)) + _mean(tf.nn.softplus(fake_scores))


def minimax_generator_loss(fake_scores: tf.Tensor):
    """E[log(1 - D(G(z)))] = -E[softplus(score)]: saturates when D rejects the samples."""
    return -_mean(tf.nn.softplus(fake_scores))


def nonsaturating_generator_loss(fake_scores: tf.Tensor):
    """-E[log D(G(z))] = E[softplus(-score)]."""
    return _mean(tf.nn.softplus(-fake_scores))


def _two_class(scores):
    """log D and log(1 - D) from ``[B, 2]`` logits (column 1: real)."""
    log_p = tf.nn.log_softmax(tf.cast(scores, tf.float32), axis=-1)
    return log_p[:, 1], log_p[:, 0]


def softmax_minimax_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor):
    """The minimax critic loss with a two-class softmax head: cross-entropy on real/fake."""
    return -_mean(_two_class(real_scores)[0]) - _mean(_two_class(fake_scores)[1])


def softmax_minimax_generator_loss(fake_scores: tf.Tensor):
    """E[log(1 - D(G(z)))] with D the softmax probability of class "real"."""
    return _mean(_two_class(fake_scores)[1])


def softmax_nonsaturating_generator_loss(fake_scores: tf.Tensor):
    """-E[log D(G(z))] with D the softmax probability of class "real"."""
    return -_mean(_two_class(fake_scores)[0])


def wasserstein_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor):
    """E[s(fake)] - E[s(real)]; its negative estimates W1 for a 1-Lipschitz critic."""
    return _mean(fake_scores) - _mean(real_scores)


def wasserstein_generator_loss(fake_scores: tf.Tensor):
    return -_mean(fake_scores)


def hinge_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor):
    return _mean(tf.nn.relu(1.0 - real_scores)) + _mean(tf.nn.relu(1.0 + fake_scores))


def hinge_generator_loss(fake_scores: tf.Tensor):
    return -_mean(fake_scores)


def least_squares_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor):
    return 0.5 * _mean(tf.square(real_scores - 1.0)) + 0.5 * _mean(tf.square(fake_scores))


def least_squares_generator_loss(fake_scores: tf.Tensor):
    return 0.5 * _mean(tf.square(fake_scores - 1.0))


@dataclasses.dataclass(frozen=True)
class FDivergence:
    """One f-divergence: ``f`` (the generator function, numpy), ``activation`` g_f (raw critic
    output -> domain of f*), ``conjugate`` f*, ``f_prime`` f' (for the optimal critic) and
    ``conjugate_activation`` f*(g_f(v)) simplified (e.g. e^v - 1 for squared Hellinger, where
    1 - e^(-v) rounds to 1 in float32 and t / (1 - t) overflows)."""

    name: str
    f: Callable
    activation: Callable
    conjugate: Callable
    f_prime: Callable
    conjugate_activation: Callable  # f*(g_f(v)) in a closed form that stays finite


def _softplus(v):
    return tf.nn.softplus(v)


# Nowozin et al. (2016), table 2 (and table 6 for f'), with numerically stable forms.
F_DIVERGENCES = {
    "kl": FDivergence(
        "kl",
        f=lambda u: u * _np_log(u),
        activation=lambda v: v,
        conjugate=lambda t: tf.exp(t - 1.0),
        f_prime=lambda u: 1.0 + _np_log(u),
        conjugate_activation=lambda v: tf.exp(v - 1.0),
    ),
    "reverse-kl": FDivergence(
        "reverse-kl",
        f=lambda u: -_np_log(u),
        activation=lambda v: -tf.exp(-v),
        conjugate=lambda t: -1.0 - tf.math.log(-t),
        f_prime=lambda u: -1.0 / u,
        conjugate_activation=lambda v: v - 1.0,
    ),
    "pearson": FDivergence(
        "pearson",
        f=lambda u: (u - 1.0) ** 2,
        activation=lambda v: v,
        conjugate=lambda t: 0.25 * t * t + t,
        f_prime=lambda u: 2.0 * (u - 1.0),
        conjugate_activation=lambda v: 0.25 * v * v + v,
    ),
    "hellinger": FDivergence(
        "hellinger",
        f=lambda u: (u**0.5 - 1.0) ** 2,
        activation=lambda v: 1.0 - tf.exp(-v),
        conjugate=lambda t: t / (1.0 - t),
        f_prime=lambda u: 1.0 - u**-0.5,
        conjugate_activation=lambda v: tf.math.expm1(v),
    ),
    "jensen-shannon": FDivergence(
        "jensen-shannon",
        f=lambda u: -(u + 1.0) * _np_log((1.0 + u) / 2.0) + u * _np_log(u),
        activation=lambda v: _LOG2 - _softplus(-v),
        conjugate=lambda t: -tf.math.log(2.0 - tf.exp(t)),
        f_prime=lambda u: _np_log(2.0 * u / (1.0 + u)),
        conjugate_activation=lambda v: _softplus(v) - _LOG2,
    ),
    "gan": FDivergence(
        "gan",
        f=lambda u: u * _np_log(u) - (u + 1.0) * _np_log(u + 1.0),
        activation=lambda v: -_softplus(-v),
        conjugate=lambda t: -tf.math.log(1.0 - tf.exp(t)),
        f_prime=lambda u: _np_log(u / (u + 1.0)),
        conjugate_activation=lambda v: _softplus(v),
    ),
}


def _np_log(u):
    import numpy as np

    return np.log(u)


def _divergence(name: str) -> FDivergence:
    try:
        return F_DIVERGENCES[name]
    except KeyError:
        raise ValueError(
            f"`divergence` must be one of {', '.join(F_DIVERGENCES)}. Received: {name!r}"
        ) from None


def f_bound(name: str, real_t: tf.Tensor, fake_t: tf.Tensor):
    """The variational lower bound E_P[T] - E_Q[f*(T)] for critic values ``T`` already in the
    domain of f* (after the output activation)."""
    d = _divergence(name)
    return _mean(real_t) - _mean(d.conjugate(tf.cast(fake_t, tf.float32)))


def f_critic_loss(name: str, real_scores: tf.Tensor, fake_scores: tf.Tensor):
    """-(E_P[g_f(v)] - E_Q[f*(g_f(v))]) for raw critic outputs v."""
    d = _divergence(name)
    real = d.activation(tf.cast(real_scores, tf.float32))
    fake = d.conjugate_activation(tf.cast(fake_scores, tf.float32))
    return -(_mean(real) - _mean(fake))


def f_generator_loss(name: str, fake_scores: tf.Tensor):
    """-E_Q[g_f(v)]: the generator criterion the f-GAN paper uses in practice."""
    d = _divergence(name)
    return -_mean(d.activation(tf.cast(fake_scores, tf.float32)))
