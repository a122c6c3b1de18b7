"""The VAE (and beta-VAE): ``VAE`` (a ``keras.Model``), its KL divergence and its prior
(the ``vae`` recipe is in ``gentk_vae.recipe``).

#### Mathematical details

    q(z|x) = N(mu(x), diag sigma(x)^2),  p(z) = N(0, I),  z = mu + sigma * eps  (eps ~ N(0, I))
    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x)
    loss = -(E_q[log p(x|z)] - beta * KL)        (beta = 1: the VAE; beta > 1: beta-VAE)

The expectation uses ``n_samples`` reparameterised draws; the KL is closed form
(``tfd.kl_divergence``). With ``kl_anneal_steps`` the KL weight is kappa(t) * beta, where
kappa(t) = min(1, t / kl_anneal_steps) rises linearly with the update count t (KL annealing,
Bowman et al., 2016); validation and test losses use kappa = 1.

``gradient_estimator="score-function"`` replaces the reparameterised gradient of the
reconstruction term by the log-derivative (REINFORCE) estimator

    grad E_q[f(z)] = E_q[(f(z) - b) grad log q(z|x)],   f(z) = log p(x|z),

with the leave-one-out batch mean as the baseline b (unbiased); the KL keeps its closed-form
gradient. It needs no reparameterisable q, and its variance is larger.

With a flow posterior (``posterior=iaf,reverse``: inverse autoregressive flow, Kingma et al.,
2016) q(z|x) is the distribution of z = f_T o ... o f_1(z_0), z_0 ~ N(mu(x), sigma(x)^2), each
f_t a registered bijector conditioned on the context h = (mu(x), log sigma(x)):

    log q(z|x) = log N(z_0; mu, sigma^2) - sum_t log|det df_t/dz_{t-1}|

and the KL is the Monte-Carlo estimate log q(z|x) - log p(z) at the ELBO's own draws.

``log_prob`` estimates log p(x) by importance sampling with q as the proposal:
log (1/K) sum_k p(x, z_k) / q(z_k|x), which tends to log p(x) as K grows.

#### References

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow", NeurIPS 2016.
Higgins et al., "beta-VAE", ICLR 2017. Burda et al., "Importance Weighted Autoencoders", 2016.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import (
    Divergence,
    GenerativeModel,
    Prior,
    elbo,
    iwae_bound,
    kl_divergence,
    records_config,
    standard_normal,
    unpack_x,
)
from gentk_vae.recipe import ESTIMATORS

if TYPE_CHECKING:
    from tensorflow_probability import distributions as tfd

tfd = tfp.distributions

__all__ = ["VAE", "KLDivergence", "StandardNormalPrior", "score_function_surrogate"]


class KLDivergence(Divergence):
    """KL(q || p): analytic where TFP has it, Monte-Carlo from ``z`` otherwise."""

    supports = ("latent",)

    def between(self, q: tfd.Distribution, p: tfd.Distribution, z: tf.Tensor | None = None):
        return kl_divergence(q, p, z=z)


@keras.saving.register_keras_serializable(package="gentk_vae")
@records_config
class VAE(GenerativeModel):
    """Variational autoencoder with a standard-normal prior.

    Args:
        encoder: an ``Encoder`` returning a reparameterisable q(z|x) (or its config).
        decoder: a ``Decoder`` returning p(x|z) (or its config).
        beta: weight of the KL term (1 for the VAE).
        n_samples: Monte-Carlo draws of z per example in the ELBO.
        seed: seed of the model's ``SeedGenerator``.
        kl_anneal_steps: updates over which the KL weight rises linearly from 0 to ``beta``
            (0: no annealing).
        gradient_estimator: ``reparameterization`` or ``score-function``.
        prior: a ``Prior`` layer (or its config) learned with the model, e.g. a flow prior;
            None for N(0, I).
        posterior: Bijector layers (or their configs), base side first, that transform the
            Gaussian q(z|x); each is called with ``condition=(mu, log sigma)`` of q. None or
            empty for the Gaussian posterior.
    """

    loss_names = ("loss", "reconstruction", "kl", "elbo")
    estimators = ESTIMATORS

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        n_samples: int = 1,
        seed: int = 0,
        kl_anneal_steps: int = 0,
        gradient_estimator: str = "reparameterization",
        prior: keras.layers.Layer | None = None,
        posterior: keras.layers.Layer | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(prior, dict):
            prior = keras.saving.deserialize_keras_object(prior)
        self.prior_net = prior
        self.posterior_layers = [
            keras.saving.deserialize_keras_object(layer) if isinstance(layer, dict) else layer
            for layer in (posterior or [])
        ]
        if gradient_estimator not in self.estimators:
            raise ValueError(
                f"`gradient_estimator` must be one of {self.estimators}. "
                f"Received: gradient_estimator={gradient_estimator!r}"
            )
        if int(kl_anneal_steps) < 0:
            raise ValueError(
                f"`kl_anneal_steps` must be >= 0. Received: kl_anneal_steps={kl_anneal_steps}"
            )
        self.kl_anneal_steps = int(kl_anneal_steps)
        self.gradient_estimator = gradient_estimator
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if isinstance(decoder, dict):
            decoder = keras.saving.deserialize_keras_object(decoder)
        if beta < 0:
            raise ValueError(f"`beta` must be non-negative. Received: beta={beta}")
        if int(n_samples) < 1:
            raise ValueError(f"`n_samples` must be >= 1. Received: n_samples={n_samples}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.latent_dim = int(encoder.latent_dim)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _seed(self):
        return tf.cast(self.seed_generator.next(), tf.int32)

    def prior(self):
        """p(z): N(0, I), or the distribution of the learned prior layer."""
        if self.prior_net is None:
            return standard_normal(self.latent_dim)
        return self.prior_net()

    def posterior(self, q: tfd.Distribution):
        """q(z|x): the encoder's Gaussian ``q``, pushed through the posterior flow if any."""
        if not self.posterior_layers:
            return q
        return tfd.TransformedDistribution(q, self._posterior_flow(q))

    def _posterior_flow(self, q):
        context = tf.concat([q.mean(), tf.math.log(q.stddev())], axis=-1)
        chain = []
        for layer in reversed(self.posterior_layers):
            if not layer.built:
                layer.build()
            chain.append(layer(condition=context))
        return tfp.bijectors.Chain(chain)

    def code(self, q: tfd.Distribution):
        """The point code of ``q``: its mean, or the flow's image of the Gaussian's mean."""
        if not self.posterior_layers:
            return q.mean()
        return self._posterior_flow(q).forward(q.mean())

    def _decode_samples(self, z, training=False, condition=None, n_samples=1):
        """p(x|z[,c]) for ``z`` of shape [K, B, L], as a distribution of batch [K*B]."""
        flat = tf.reshape(z, (-1, self.latent_dim))
        if condition is not None:
            condition = tf.tile(condition, [n_samples, 1])
        return self.decoder(flat, condition, training=training)

    def _terms(self, x, training, n_samples, condition=None):
        q = self.posterior(self.encoder(x, condition, training=training))
        z = q.sample(n_samples, seed=self._seed())
        if training and self.gradient_estimator == "score-function":
            z = tf.stop_gradient(z)
        px = self._decode_samples(z, training, condition, n_samples)
        x_rep = tf.reshape(tf.tile(x[None], [n_samples] + [1] * len(x.shape)), (-1, *x.shape[1:]))
        log_lik = tf.reshape(px.log_prob(x_rep), (n_samples, -1))
        return q, z, log_lik

    def kl_weight(self, training: bool = False):
        """beta times the annealing factor kappa(t) = min(1, t / kl_anneal_steps) in training."""
        if not training or self.kl_anneal_steps == 0 or getattr(self, "optimizer", None) is None:
            return tf.constant(self.beta, tf.float32)
        t = tf.cast(self.optimizer.iterations, tf.float32)
        return self.beta * tf.minimum(1.0, t / float(self.kl_anneal_steps))

    def compute_losses(self, data: Any, training: bool = False):
        x = tf.cast(unpack_x(data), tf.float32)
        q, z, log_lik = self._terms(x, training, self.n_samples)
        kl = kl_divergence(q, self.prior(), z=z)
        surrogate = 0.0
        if training and self.gradient_estimator == "score-function":
            surrogate = score_function_surrogate(log_lik, q.log_prob(z))
        mean_lik = tf.reduce_mean(log_lik, axis=0)
        loss = -tf.reduce_mean(elbo(mean_lik, kl, self.kl_weight(training))) - surrogate
        return {
            "loss": loss,
            "reconstruction": -tf.reduce_mean(mean_lik),
            "kl": tf.reduce_mean(kl),
            "elbo": tf.reduce_mean(mean_lik - kl),
        }

    def elbo(self, x: tf.Tensor, n_samples: int = 1, condition: tf.Tensor | None = None):
        """Per-example ELBO (beta = 1) with ``n_samples`` draws."""
        x = tf.cast(x, tf.float32)
        q, z, log_lik = self._terms(x, False, n_samples, condition)
        return tf.reduce_mean(log_lik, axis=0) - kl_divergence(q, self.prior(), z=z)

    def log_weights(
        self,
        x: tf.Tensor,
        n_samples: int,
        condition: tf.Tensor | None = None,
        training: bool = False,
    ):
        """``[K, B]`` importance log weights log p(x, z_k[|c]) - log q(z_k|x[,c]), z_k ~ q."""
        q, z, log_lik = self._terms(x, training, n_samples, condition)
        return log_lik + self.prior().log_prob(z) - q.log_prob(z)

    def log_prob(
        self,
        x: tf.Tensor,
        n_samples: int = 1000,
        batch_samples: int = 100,
        condition: tf.Tensor | None = None,
    ):
        """Importance-sampled log p(x) per example with ``n_samples`` proposals from q.

        The samples are drawn in chunks of ``batch_samples`` and combined exactly:
        log (1/K) sum_k w_k over all K."""
        x = tf.cast(x, tf.float32)
        chunks = [
            self._graph_log_weights(x, min(batch_samples, n_samples - start), condition)
            for start in range(0, n_samples, batch_samples)
        ]
        return iwae_bound(tf.concat(chunks, axis=0))

    @tf.function(reduce_retracing=True, autograph=False)
    def _graph_log_weights(self, x, n_samples, condition=None):
        """``log_weights`` in one graph: eagerly, TFP's distributions and the two networks
        cost about 75 ms of Python a chunk (digits' test NLL at 1,000 samples: 0.75 s eagerly,
        0.18 s in the graph after a 0.4 s trace; on MNIST's 10,000 rows 400 chunks). No
        Python branch here depends on a tensor, so AutoGraph has nothing to convert: without
        it the first call of a run's test NLL took 0.93-0.97 s against 1.45 s (digits, the
        default VAE, 1,000 samples)."""
        return self.log_weights(x, n_samples, condition)

    def encode(self, x: tf.Tensor):
        return self.code(self.encoder(x))

    def decode(self, z: tf.Tensor):
        return self.decoder(z).mean()

    def sample(self, n: int, seed: int | None = None):
        """``n`` draws of the decoder mean at z ~ p(z)."""
        s = self._seed() if seed is None else tf.constant([seed, 0], tf.int32)
        return self.decode(self.prior().sample(n, seed=s))

    def call(self, x: tf.Tensor, training: bool = False):
        z = self.code(self.encoder(x, training=training))
        return self.decoder(z, training=training).mean()


def score_function_surrogate(log_lik: tf.Tensor, log_q: tf.Tensor):
    """A term whose value is 0 and whose gradient is the score-function estimate of
    grad E_q[log p(x|z)] (to add to the ELBO whose z carried no gradient).

    ``log_lik`` and ``log_q`` are ``[K, B]``; the baseline of each term is the mean of the
    other examples' log-likelihoods (leave-one-out over the batch, so it stays unbiased).
    """
    f = tf.stop_gradient(log_lik)
    n = tf.cast(tf.shape(f)[1], f.dtype)
    baseline = (tf.reduce_sum(f, axis=1, keepdims=True) - f) / tf.maximum(n - 1.0, 1.0)
    term = tf.reduce_mean((f - baseline) * log_q)
    return term - tf.stop_gradient(term)


@keras.saving.register_keras_serializable(package="gentk_vae")
class StandardNormalPrior(Prior):
    """N(0, I) over ``latent_dim`` dimensions: the VAE's default prior, no weights."""

    def __init__(self, latent_dim: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.built = True

    def __call__(self, *args, **kwargs):
        return self.call()

    def call(self, *args, **kwargs):
        return standard_normal(self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}
