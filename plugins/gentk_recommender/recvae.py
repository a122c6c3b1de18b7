"""RecVAE (Shenbin, Alekseev, Tutubalina, Malykh and Nikolenko, WSDM 2020): encoder,
composite prior and model.

#### Mathematical details

    encoder: x~ = dropout(x_u / ||x_u||_2); h_1 = LN(swish(W_1 x~));
             h_k = LN(swish(W_k h_{k-1} + h_1 + ... + h_{k-1}))   (k = 2..5, dense links)
             q(z|x_u) = N(mu(h_5), diag sigma^2(h_5))
    decoder: pi(z) = softmax(W z + b)                              (one linear layer)
    prior:   p(z|x_u) = prod_d [ a_1 N(z_d; 0, 1) + a_2 q_old(z_d|x_u) + a_3 N(z_d; 0, e^10) ]
             with q_old the encoder of the previous cycle (no dropout) and a = (3/20, 3/4, 1/10)
    loss:    -(sum_i x_ui log pi_i(z) - beta(x_u) [log q(z|x_u) - log p(z|x_u)]),  z ~ q
             beta(x_u) = gamma * sum_i x_ui                        (more clicks, more KL)

Training alternates: ``encoder_epochs`` passes that update the encoder (with input dropout),
then one pass that updates the decoder (no dropout); the old encoder q_old is copied from the
encoder as the decoder pass begins (the paper's ``update_prior``). ``steps_per_epoch`` turns
passes into update counts; with 1 the phases alternate update by update. One Adam optimizer
updates each phase's own weights (their moments move only on their own updates; the step count
in the bias correction is shared).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import (
    Encoder,
    GenerativeModel,
    Prior,
    batch_rows,
    multinomial_log_likelihood,
    record_weighted,
    run_if,
    unpack_x,
)
from gentk_recommender.model import MultinomialDecoder, first_layer

tfd = tfp.distributions

__all__ = ["CompositePrior", "RecVAE", "RecVAEEncoder"]

MIXTURE = (3 / 20, 3 / 4, 1 / 10)


@keras.saving.register_keras_serializable(package="gentk_recommender")
class CompositePrior(Prior):
    """RecVAE's prior, per latent dimension a mixture of N(0, 1), an anchor (the previous
    encoder's posterior, ``call(anchor=q_old)``; N(0, 1) without one) and a wide N(0, e^v).

    Args:
        latent_dim: size of z.
        weights: the three mixture weights (normalised).
        wide_log_variance: v, the log-variance of the wide component.
    """

    def __init__(
        self,
        latent_dim: int = 200,
        weights: tuple[float, float, float] = MIXTURE,
        wide_log_variance: float = 10.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        w = np.asarray(weights, dtype="float64")
        if w.shape != (3,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"`weights` must be three non-negative numbers. Received: {weights}")
        self.mixture = tuple(float(v) for v in w / w.sum())
        self.wide_log_variance = float(wide_log_variance)
        self.built = True

    def __call__(self, anchor: tf.Tensor | None = None, **kwargs):
        return self.call(anchor)

    def call(self, anchor: tf.Tensor | None = None):
        if anchor is None:
            loc = tf.zeros((self.latent_dim,))
            scale = tf.ones((self.latent_dim,))
        else:
            loc, scale = anchor.mean(), anchor.stddev()
        zeros = tf.zeros_like(loc)
        wide = tf.fill(tf.shape(loc), float(np.exp(0.5 * self.wide_log_variance)))
        components = tfd.Normal(
            loc=tf.stack([zeros, loc, zeros], axis=-1),
            scale=tf.stack([tf.ones_like(scale), scale, wide], axis=-1),
        )
        mixture = tfd.MixtureSameFamily(
            tfd.Categorical(probs=tf.constant(self.mixture, tf.float32)), components
        )
        return tfd.Independent(mixture, reinterpreted_batch_ndims=1)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "weights": self.mixture,
            "wide_log_variance": self.wide_log_variance,
        }


@keras.saving.register_keras_serializable(package="gentk_recommender")
class RecVAEEncoder(Encoder):
    """RecVAE's encoder: L2-normalised clicks, input dropout, ``depth`` swish layers with layer
    norm and dense links (each layer also receives the sum of all earlier ones), Gaussian head.

    Args:
        n_items: catalogue size I.
        hidden: width of every layer (paper: 600).
        depth: number of layers (paper: 5).
        latent_dim: size of z (paper: 200).
        dropout: input dropout rate (paper: 0.5).
        epsilon: layer-norm epsilon (the authors' code: 0.1).
        seed: dropout seed.
    """

    def __init__(
        self,
        n_items: int,
        hidden: int | tuple[int, ...] = 600,
        depth: int = 5,
        latent_dim: int = 200,
        dropout: float = 0.5,
        epsilon: float = 0.1,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_items) < 1 or int(depth) < 1:
            raise ValueError(f"`n_items` and `depth` must be >= 1. Received: {n_items}, {depth}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1). Received: dropout={dropout}")
        self.n_items, self.hidden, self.depth = int(n_items), int(hidden), int(depth)
        self.latent_dim, self.dropout = int(latent_dim), float(dropout)
        self.epsilon, self.seed = float(epsilon), int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.dense = [keras.layers.Dense(self.hidden, name=f"dense{k}") for k in range(self.depth)]
        self.norms = [
            keras.layers.LayerNormalization(epsilon=self.epsilon, name=f"norm{k}")
            for k in range(self.depth)
        ]
        self.head = keras.layers.Dense(2 * self.latent_dim, dtype="float32", name="head")
        self.dense[0].build((None, self.n_items))

    def build(self, x_shape: tuple[int | None, ...] | None = None):
        for k in range(self.depth):
            if k:
                self.dense[k].build((None, self.hidden))
            self.norms[k].build((None, self.hidden))
        self.head.build((None, self.hidden))

    def call(
        self,
        x: tf.Tensor | tf.SparseTensor,
        condition: tf.Tensor | None = None,
        training: bool = False,
        dropout: float | None = None,
    ):
        rate = self.dropout if dropout is None else dropout
        h = self.norms[0](tf.nn.silu(first_layer(x, self.dense[0], rate, self.seed_generator,
                                                 training)))  # fmt: skip
        total = h
        for dense, norm in zip(self.dense[1:], self.norms[1:]):
            h = norm(tf.nn.silu(dense(h) + total))
            total = total + h
        mu, logvar = tf.split(self.head(h), 2, axis=-1)
        return tfd.MultivariateNormalDiag(loc=mu, scale_diag=tf.exp(0.5 * logvar))

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden": self.hidden,
            "depth": self.depth,
            "latent_dim": self.latent_dim,
            "dropout": self.dropout,
            "epsilon": self.epsilon,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="gentk_recommender")
class RecVAE(GenerativeModel):
    """RecVAE; ``call(x)`` returns item logits at z = mu(x).

    Args:
        n_items, hidden, depth, latent_dim, dropout, epsilon: the encoder's (``RecVAEEncoder``).
        gamma: beta(x_u) = gamma * (number of u's clicks) (paper: 0.005).
        encoder_epochs: encoder passes per decoder pass (paper: 3).
        steps_per_epoch: updates per pass (the recipe passes ceil(users / batch)).
        mixture, wide_log_variance: the composite prior's (``CompositePrior``).
        seed: seed of sampling and dropout.
        item_major: False only for a model saved before the decoder was item-major (MultVAE).
    """

    loss_names = ("loss", "neg_ll", "kl", "encoder_phase")
    variational = False  # no annealed beta to report (ValidationNDCG)

    def __init__(
        self,
        n_items: int,
        hidden: int | tuple[int, ...] = 600,
        depth: int = 5,
        latent_dim: int = 200,
        dropout: float = 0.5,
        epsilon: float = 0.1,
        gamma: float = 0.005,
        encoder_epochs: int = 3,
        steps_per_epoch: int = 1,
        mixture: tuple[float, float, float] = MIXTURE,
        wide_log_variance: float = 10.0,
        seed: int = 0,
        item_major: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if float(gamma) < 0 or int(encoder_epochs) < 1 or int(steps_per_epoch) < 1:
            raise ValueError(
                "`gamma` must be >= 0, `encoder_epochs` and `steps_per_epoch` >= 1. Received: "
                f"{gamma}, {encoder_epochs}, {steps_per_epoch}"
            )
        self.n_items, self.latent_dim, self.seed = int(n_items), int(latent_dim), int(seed)
        self.gamma, self.encoder_epochs = float(gamma), int(encoder_epochs)
        self.steps_per_epoch = int(steps_per_epoch)
        options = dict(hidden=hidden, depth=depth, latent_dim=latent_dim, dropout=dropout,
                       epsilon=epsilon, seed=seed)  # fmt: skip
        self.encoder = RecVAEEncoder(n_items, **options, name="encoder")
        self.old_encoder = RecVAEEncoder(n_items, **options, name="old_encoder")
        self.old_encoder.trainable = False
        self.decoder = MultinomialDecoder(n_items, (), not item_major, name="decoder")
        self.prior_net = CompositePrior(self.latent_dim, mixture, wide_log_variance)
        self.updates = keras.Variable(0, dtype="int64", trainable=False, name="updates")
        self.seed_generator = keras.random.SeedGenerator(self.seed + 1)

    def build(self, input_shape: tuple[int | None, ...] | None = None):
        for encoder in (self.encoder, self.old_encoder):
            encoder.build()
        self.decoder.build((None, self.latent_dim))
        self.update_prior()
        self.built = True

    # -- the objective --------------------------------------------------------------------
    def prior(self, x: tf.Tensor | tf.SparseTensor):
        """p(z|x_u): the composite prior anchored at the old encoder's posterior."""
        return self.prior_net(self.old_encoder(x, dropout=0.0))

    def kl_weight(self, x: tf.Tensor | tf.SparseTensor):
        """beta(x_u) = gamma * |x_u| per user."""
        if isinstance(x, tf.SparseTensor):
            counts = tf.sparse.reduce_sum(x, axis=1)
        else:
            counts = tf.reduce_sum(tf.cast(x, tf.float32), axis=1)
        return self.gamma * counts

    def compute_losses(self, data: Any, training: bool = False, dropout: float | None = None):
        x = unpack_x(data)
        q = self.encoder(x, training=training, dropout=dropout)
        z = q.sample(seed=tf.cast(self.seed_generator.next(), tf.int32)) if training else q.mean()
        neg_ll = -multinomial_log_likelihood(self.decoder.logits(z), x)
        kl = q.log_prob(z) - self.prior(x).log_prob(z)  # Monte Carlo, at the ELBO's own z
        loss = tf.reduce_mean(neg_ll + self.kl_weight(x) * kl)
        return {"loss": loss, "neg_ll": tf.reduce_mean(neg_ll), "kl": tf.reduce_mean(kl)}

    def encoder_phase(self, step: tf.Tensor):
        """Whether update ``step`` (0-based) belongs to an encoder pass."""
        cycle = (self.encoder_epochs + 1) * self.steps_per_epoch
        return step % cycle < self.encoder_epochs * self.steps_per_epoch

    # -- training -------------------------------------------------------------------------
    def fit(self, x: Any = None, *args, **kwargs):
        """``fit``, with the optimizer built on every trainable weight first (each phase
        applies gradients to its own subset)."""
        if not self.built and x is not None:
            self.build_on(x)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().fit(x, *args, **kwargs)

    def update_prior(self) -> None:
        """q_old <- q: copy the encoder's weights into the old encoder."""
        for old, new in zip(self.old_encoder.weights, self.encoder.weights):
            old.assign(new)

    def _update(self, data, variables, dropout):
        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True, dropout=dropout)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = self.optimizer.scale_loss(losses["loss"] / replicas)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        record_weighted(self._trackers, losses, batch_rows(data), skip=("encoder_phase",))

    def train_step(self, data: Any):
        step = tf.convert_to_tensor(self.updates)
        encoding = self.encoder_phase(step)
        cycle = (self.encoder_epochs + 1) * self.steps_per_epoch
        first_decoder_step = tf.equal(step % cycle, self.encoder_epochs * self.steps_per_epoch)

        def encoder_update(batch):
            self._update(batch, self.encoder.trainable_variables, None)

        def decoder_update(batch):
            self._update(batch, self.decoder.trainable_variables, 0.0)

        # each phase updates its own weights (run_if: also under tf.distribute strategies)
        run_if(first_decoder_step, self.update_prior)
        run_if(encoding, encoder_update, data)
        run_if(tf.logical_not(encoding), decoder_update, data)
        self.updates.assign_add(1)
        self._trackers["encoder_phase"].update_state(
            tf.cast(encoding, tf.float32), sample_weight=batch_rows(data)
        )
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def test_step(self, data: Any):
        losses = self.compute_losses(data, training=False)
        losses["encoder_phase"] = tf.constant(0.0)
        return self._record(losses, data)

    # -- what users do with a trained model ---------------------------------------------------
    def call(self, x: tf.Tensor | tf.SparseTensor, training: bool = False):
        return self.decoder.logits(self.encoder(x, training=training).mean())

    def encode(self, x: tf.Tensor | tf.SparseTensor):
        return self.encoder(x).mean()

    def get_config(self):
        enc = self.encoder
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden": enc.hidden,
            "depth": enc.depth,
            "latent_dim": self.latent_dim,
            "dropout": enc.dropout,
            "epsilon": enc.epsilon,
            "gamma": self.gamma,
            "encoder_epochs": self.encoder_epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "mixture": self.prior_net.mixture,
            "wide_log_variance": self.prior_net.wide_log_variance,
            "seed": self.seed,
            "item_major": True,  # the decoder's layout in memory (see MultVAE)
        }

    @classmethod
    def from_config(cls, config: dict):
        return super().from_config({"item_major": False, **config})  # saved before: [H, I]
