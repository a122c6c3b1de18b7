"""Mult-VAE and Mult-DAE (Liang, Krishnan, Hoffman and Jebara, WWW 2018): components and model.

#### Mathematical details

    x_u: the user's click vector over I items, N_u = sum_i x_ui
    encoder: h = tanh(W1 dropout(x_u / ||x_u||_2) + b1) ... -> (mu, log sigma^2)  [I-600-200]
    decoder: pi(z) = softmax(f(z))                                          [200-600-I]
    log p(x_u | z) = sum_i x_ui log pi_i(z)        (multinomial, up to a constant)
    loss_beta(x_u) = -E_q[log p(x_u|z)] + beta * KL(q(z|x_u) || N(0, I))
    beta = min(cap, step / anneal_steps)            (linear KL annealing, "partial regularisation")

Mult-DAE drops the stochastic latent: z = encoder mean, no KL; dropout is the corruption.
With ``sampled_softmax=S`` training scores each positive against S items drawn from
q ~ popularity^power with the log-Q correction (``sampled_multinomial_log_likelihood``)
instead of all I items; validation, test and recommendations use the full softmax.
An item outside every sample is never updated, so its score is its starting logit:
``item_log_prior`` starts the softmax biases at the items' log training popularity (the model
starts out as the popularity ranking), not at zero, where the untouched tail of a large
catalogue would outrank every trained item.
The input may be a ``tf.SparseTensor`` (never densified, no XLA) or a dense batch (XLA).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import (
    Decoder,
    Encoder,
    GenerativeModel,
    gather_rows,
    kl_divergence,
    multinomial_log_likelihood,
    sampled_multinomial_log_likelihood,
    standard_normal,
    unpack_x,
)

tfd = tfp.distributions

__all__ = [
    "LinearAnnealing",
    "MultEncoder",
    "ItemOutput",
    "MultinomialDecoder",
    "MultVAE",
    "first_layer",
    "sparse_matmul",
]


@keras.saving.register_keras_serializable(package="gentk_recommender")
class LinearAnnealing:
    """beta(step) = cap * min(1, step / steps); ``steps = 0`` means beta = cap from the start."""

    def __init__(self, cap: float = 0.2, steps: int = 200000):
        if cap < 0:
            raise ValueError(f"`cap` must be non-negative. Received: cap={cap}")
        if steps < 0:
            raise ValueError(f"`steps` must be non-negative. Received: steps={steps}")
        self.cap = float(cap)
        self.steps = int(steps)

    def __call__(self, step: tf.Tensor):
        if self.steps == 0:
            return tf.constant(self.cap, tf.float32)
        return tf.minimum(self.cap, self.cap * tf.cast(step, tf.float32) / self.steps)

    def get_config(self):
        return {"cap": self.cap, "steps": self.steps}


def _sparse_l2_normalize(x: tf.SparseTensor) -> tf.SparseTensor:
    sq = tf.math.unsorted_segment_sum(tf.square(x.values), x.indices[:, 0], x.dense_shape[0])
    norms = tf.sqrt(tf.maximum(sq, 1e-12))
    return x.with_values(x.values / tf.gather(norms, x.indices[:, 0]))


def sparse_matmul(x: tf.SparseTensor, kernel: tf.Tensor, row_gradient: bool = False):
    """``x @ kernel`` for a 2-D ``tf.SparseTensor`` ``x`` (float32) and a dense ``kernel``,
    through TensorFlow's CSR kernels (``SparseMatrixMatMul``): on 2 CPU cores, for a batch of
    500 ML-1M users (3,504 items, half the clicks dropped), 3 ms forward and 5 ms for the
    kernel's gradient, against 31 ms each with ``tf.sparse.sparse_dense_matmul`` and 11 ms for
    the dense GEMM. The gradient to ``kernel`` is ``x^T dh`` through the same CSR matrix; the
    gradient to ``x``'s values is ``dh`` times ``kernel`` at the entries (pruned when unused).

    ``row_gradient`` (a large catalogue, ``LazyAdam``): the clicked rows of ``kernel`` are read
    on their own (``gather_rows``) and summed per user, so the kernel's gradient is
    ``tf.IndexedSlices`` over the batch's clicks and nothing reads the whole ``[I, H]`` matrix.
    ``O(clicks x H)`` either way."""
    x = tf.sparse.reorder(x)  # CSR needs row-major order (a no-op sort on our batches)
    out_dtype = kernel.dtype
    rows, cols = x.indices[:, 0], x.indices[:, 1]
    if row_gradient:
        picked = gather_rows(kernel, cols)
        per_click = tf.cast(x.values, tf.float32)[:, None] * tf.cast(picked, tf.float32)
        h = tf.math.unsorted_segment_sum(per_click, rows, x.dense_shape[0])
        return tf.cast(h, out_dtype)
    kernel = tf.cast(kernel, tf.float32)

    @tf.custom_gradient
    def matmul(values, kernel):
        csr = tf.raw_ops.SparseTensorToCSRSparseMatrix(
            indices=x.indices, values=values, dense_shape=x.dense_shape
        )
        h = tf.raw_ops.SparseMatrixMatMul(a=csr, b=kernel)

        def grad(dh):
            d_kernel = tf.raw_ops.SparseMatrixMatMul(a=csr, b=dh, transpose_a=True)
            d_values = tf.reduce_sum(tf.gather(dh, rows) * tf.gather(kernel, cols), axis=1)
            return d_values, d_kernel

        return h, grad

    return tf.cast(matmul(tf.cast(x.values, tf.float32), kernel), out_dtype)


def first_layer(
    x: tf.Tensor | tf.SparseTensor,
    layer: keras.layers.Dense,
    dropout: float,
    seed_generator: keras.random.SeedGenerator,
    training: bool,
    row_gradient: bool = False,
):
    """``layer`` (a built Dense) on the L2-normalised clicks ``x`` with input dropout in
    training; a ``tf.SparseTensor`` stays sparse (``sparse_matmul``, the dropped clicks
    removed; ``row_gradient``: the kernel's gradient as row slices)."""
    if isinstance(x, tf.SparseTensor):
        x = _sparse_l2_normalize(x)
        if training and dropout > 0:
            seed = tf.cast(seed_generator.next(), tf.int32)
            keep = tf.random.stateless_uniform(tf.shape(x.values), seed) >= dropout
            x = tf.sparse.retain(x, keep)
            x = x.with_values(x.values / (1 - dropout))
        h = sparse_matmul(x, layer.kernel, row_gradient)
        return layer.activation(h if layer.bias is None else h + layer.bias)
    x = tf.math.l2_normalize(tf.cast(x, tf.float32), axis=1)
    if training and dropout > 0:
        x = keras.random.dropout(x, dropout, seed=seed_generator)
    return layer(x)


@keras.saving.register_keras_serializable(package="gentk_recommender")
class MultEncoder(Encoder):
    """q(z|x_u) of Mult-VAE: L2-normalise, dropout, tanh MLP, Gaussian (or point-mass) head.

    Args:
        n_items: catalogue size I.
        hidden: hidden widths (paper: (600,)).
        latent_dim: size of z (paper: 200).
        dropout: input dropout rate (paper: 0.5).
        variational: Gaussian q (Mult-VAE) or a point mass (Mult-DAE).
        seed: dropout seed.
        row_gradients: with sparse batches, the first layer's gradient as row slices over the
            batch's items (``sparse_matmul``); a sampled-softmax model sets it, so that a step
            touches only those rows of the ``[I, H]`` input layer too.
    """

    def __init__(
        self,
        n_items: int,
        hidden: tuple[int, ...] = (600,),
        latent_dim: int = 200,
        dropout: float = 0.5,
        variational: bool = True,
        seed: int = 0,
        row_gradients: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_items) < 1:
            raise ValueError(f"`n_items` must be positive. Received: n_items={n_items}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1). Received: dropout={dropout}")
        self.n_items = int(n_items)
        self.hidden = tuple(int(h) for h in hidden)
        self.latent_dim = int(latent_dim)
        self.dropout = float(dropout)
        self.variational = bool(variational)
        self.seed = int(seed)
        self.row_gradients = bool(row_gradients)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        widths = (*self.hidden, self.latent_dim * (2 if self.variational else 1))
        self.layers_ = [
            keras.layers.Dense(
                w,
                activation="tanh" if i < len(self.hidden) else None,
                kernel_initializer="glorot_uniform",
                # the distribution's parameters stay float32 under mixed precision
                dtype="float32" if i == len(self.hidden) else None,
                name=f"dense{i}",
            )
            for i, w in enumerate(widths)
        ]
        self.layers_[0].build((None, self.n_items))

    def build(self, x_shape: tuple[int | None, ...]):
        for prev, layer in zip(self.layers_, self.layers_[1:]):
            layer.build((None, prev.units))

    def call(
        self,
        x: tf.Tensor | tf.SparseTensor,
        condition: tf.Tensor | None = None,
        training: bool = False,
    ):
        h = first_layer(
            x, self.layers_[0], self.dropout, self.seed_generator, training, self.row_gradients
        )
        for layer in self.layers_[1:]:
            h = layer(h)
        if not self.variational:
            return tfd.Independent(tfd.Deterministic(h), reinterpreted_batch_ndims=1)
        mu, logvar = tf.split(h, 2, axis=-1)
        return tfd.MultivariateNormalDiag(loc=mu, scale_diag=tf.exp(0.5 * logvar))

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden": self.hidden,
            "latent_dim": self.latent_dim,
            "dropout": self.dropout,
            "variational": self.variational,
            "seed": self.seed,
            "row_gradients": self.row_gradients,
        }


@keras.saving.register_keras_serializable(package="gentk_recommender")
class ItemOutput(keras.layers.Layer):
    """``logits = h @ embeddings^T + bias``: the output layer laid out item-major,
    ``embeddings`` ``[I, H]`` and ``bias`` ``[I]``, so that the items a sampled softmax scores
    are gathered along the first axis and their gradients stay ``tf.IndexedSlices`` (a
    ``Dense`` kernel ``[H, I]`` gathered along its columns has a dense ``[H, I]`` gradient).
    Same start as ``Dense``: Glorot-uniform weights (fan-in and fan-out add up the same either
    way round), zero biases.

    ``hidden_major=True`` marks a layer whose saved weights have the layout of the ``Dense``
    that came before it (``kernel`` ``[H, I]``): they are transposed as they load. A stored
    ``[H, I]`` matrix also loads transposed wherever the two shapes differ (a checkpoint of a
    run started before the change)."""

    def __init__(self, n_items: int, hidden_major: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.n_items, self.hidden_major = int(n_items), bool(hidden_major)

    def build(self, input_shape: tuple[int | None, ...]):
        width = int(input_shape[-1])
        self.embeddings = self.add_weight(
            shape=(self.n_items, width), initializer="glorot_uniform", name="embeddings"
        )
        self.bias = self.add_weight(shape=(self.n_items,), initializer="zeros", name="bias")

    def call(self, h: tf.Tensor):
        return tf.matmul(h, self.embeddings, transpose_b=True) + self.bias

    def load_own_variables(self, store: dict):
        stored = np.asarray(store["0"])
        own = tuple(self.embeddings.shape)
        if self.hidden_major or (stored.shape != own and stored.shape[::-1] == own):
            stored = stored.T
        self.embeddings.assign(stored)
        self.bias.assign(np.asarray(store["1"]))
        self.hidden_major = False  # item-major in memory from now on (and in a saved config)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items}


@keras.saving.register_keras_serializable(package="gentk_recommender")
class MultinomialDecoder(Decoder):
    """p(x_u|z) = Multinomial(N_u, softmax(f(z))) with f a tanh MLP ending in I logits
    (``ItemOutput``: item-major, ``hidden_major`` for weights saved before it)."""

    def __init__(
        self, n_items: int, hidden: tuple[int, ...] = (600,), hidden_major: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.n_items = int(n_items)
        self.hidden = tuple(int(h) for h in hidden)
        self.layers_ = [
            keras.layers.Dense(w, activation="tanh", name=f"dense{i}")
            for i, w in enumerate(self.hidden)
        ]
        self.head = ItemOutput(self.n_items, hidden_major, dtype="float32", name="logits")

    def build(self, z_shape: tuple[int | None, ...]):
        width = int(z_shape[-1])
        for layer in self.layers_:
            layer.build((None, width))
            width = layer.units
        self.head.build((None, width))

    def features(self, z: tf.Tensor, training: bool = False):
        """The last hidden layer (``z`` itself for a linear decoder): ``logits = head(h)``."""
        h = z
        for layer in self.layers_:
            h = layer(h)
        return h

    def logits(self, z: tf.Tensor, training: bool = False):
        return self.head(self.features(z, training))

    def call(
        self,
        z: tf.Tensor,
        condition: tf.Tensor | None = None,
        training: bool = False,
        total_count: float = 1.0,
    ):
        return tfd.Multinomial(total_count=total_count, logits=self.logits(z, training))

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden": self.hidden,
            "hidden_major": self.head.hidden_major,
        }


@keras.saving.register_keras_serializable(package="gentk_recommender")
class MultVAE(GenerativeModel):
    """Mult-VAE (``variational=True``) or Mult-DAE; ``call(x)`` returns item logits.

    Args:
        n_items: catalogue size.
        hidden: encoder widths.
        latent_dim: size of z.
        dropout: input dropout.
        variational: Mult-VAE (True) or Mult-DAE (False).
        anneal_cap: the largest KL weight beta.
        anneal_steps: updates over which beta grows linearly from 0 to the cap.
        seed: seed of sampling and dropout.
        decoder_hidden: decoder widths; ``None`` mirrors ``hidden`` (the paper), ``()`` is a
            linear decoder z -> logits.
        sampled_softmax: items sampled per training batch for the softmax (0: all items).
        item_log_q: ``[I]`` log-probabilities of the sampling proposal (default uniform).
        item_log_prior: ``[I]`` starting values of the softmax biases (default zeros); only
            the start of training, so not part of the config (saved weights replace them).
        item_major: False only for a model saved before the item-major output layer
            (``ItemOutput``): its weights load transposed. Saved configs always say True.
    """

    loss_names = ("loss", "neg_ll", "kl", "beta")

    def __init__(
        self,
        n_items: int,
        hidden: tuple[int, ...] = (600,),
        latent_dim: int = 200,
        dropout: float = 0.5,
        variational: bool = True,
        anneal_cap: float = 0.2,
        anneal_steps: int = 200000,
        seed: int = 0,
        decoder_hidden: tuple[int, ...] | None = None,
        sampled_softmax: int = 0,
        item_log_q: np.ndarray | None = None,
        item_log_prior: np.ndarray | None = None,
        item_major: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_items = int(n_items)
        self.sampled_softmax = int(sampled_softmax)
        if self.sampled_softmax < 0:
            raise ValueError(f"`sampled_softmax` must be >= 0. Received: {sampled_softmax}")
        self.item_log_q = None  # only a sampling model has one (older runs load unchanged)
        if self.sampled_softmax:
            if item_log_q is None:
                item_log_q = np.full(self.n_items, -np.log(self.n_items))
            item_log_q = np.asarray(item_log_q, dtype="float32").reshape(-1)
            if item_log_q.shape != (self.n_items,):
                raise ValueError(f"`item_log_q` must have {self.n_items} entries")
            self.item_log_q = self.add_weight(
                shape=(self.n_items,),
                initializer=keras.initializers.Constant(item_log_q),
                trainable=False,
                name="item_log_q",
            )
        self.item_log_prior = None
        if item_log_prior is not None:
            self.item_log_prior = np.asarray(item_log_prior, dtype="float32").reshape(-1)
            if self.item_log_prior.shape != (self.n_items,):
                raise ValueError(f"`item_log_prior` must have {self.n_items} entries")
        self.hidden = tuple(int(h) for h in hidden)
        self.decoder_hidden = (
            tuple(reversed(self.hidden))
            if decoder_hidden is None
            else tuple(int(h) for h in decoder_hidden)
        )
        self.latent_dim = int(latent_dim)
        self.dropout = float(dropout)
        self.variational = bool(variational)
        self.seed = int(seed)
        self.annealing = LinearAnnealing(anneal_cap, anneal_steps)
        self.encoder = MultEncoder(
            n_items,
            self.hidden,
            self.latent_dim,
            self.dropout,
            self.variational,
            seed,
            row_gradients=bool(self.sampled_softmax),
            name="encoder",
        )
        self.decoder = MultinomialDecoder(
            n_items, self.decoder_hidden, hidden_major=not item_major, name="decoder"
        )
        self.seed_generator = keras.random.SeedGenerator(self.seed + 1)

    def build(self, input_shape: tuple[int | None, ...]):
        self.encoder.build(input_shape)
        self.decoder.build((None, self.latent_dim))
        if self.item_log_prior is not None:
            self.decoder.head.bias.assign(self.item_log_prior)

    def prior(self):
        return standard_normal(self.latent_dim)

    def current_beta(self):
        step = self.optimizer.iterations if self.optimizer is not None else 0
        return self.annealing(step)

    def compute_losses(self, data: Any, training: bool = False):
        x = unpack_x(data)
        q = self.encoder(x, training=training)
        if self.variational and training:
            z = q.sample(seed=tf.cast(self.seed_generator.next(), tf.int32))
        else:
            z = q.mean()
        if training and self.sampled_softmax:
            head = self.decoder.head
            log_q = tf.convert_to_tensor(self.item_log_q)
            seed = tf.cast(self.seed_generator.next(), tf.int32)
            ids = tf.random.stateless_categorical(log_q[None, :], self.sampled_softmax, seed)[0]
            h = tf.cast(self.decoder.features(z, training), head.compute_dtype)  # float32 head
            log_lik = sampled_multinomial_log_likelihood(
                h, head.embeddings, head.bias, x, ids, log_q, items_first=True
            )
        else:
            log_lik = multinomial_log_likelihood(self.decoder.logits(z, training=training), x)
        neg_ll = -tf.reduce_mean(log_lik)
        if self.variational:
            kl = tf.reduce_mean(kl_divergence(q, self.prior()))
            beta = self.current_beta()
        else:
            kl = tf.constant(0.0)
            beta = tf.constant(0.0)
        return {"loss": neg_ll + beta * kl, "neg_ll": neg_ll, "kl": kl, "beta": beta}

    def call(self, x: tf.Tensor | tf.SparseTensor, training: bool = False):
        return self.decoder.logits(self.encoder(x, training=training).mean(), training=training)

    def encode(self, x: tf.Tensor | tf.SparseTensor):
        return self.encoder(x).mean()

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden": self.hidden,
            "latent_dim": self.latent_dim,
            "dropout": self.dropout,
            "variational": self.variational,
            "anneal_cap": self.annealing.cap,
            "anneal_steps": self.annealing.steps,
            "seed": self.seed,
            "decoder_hidden": self.decoder_hidden,
            "sampled_softmax": self.sampled_softmax,
            "item_major": True,  # the layout held in memory, whatever was loaded
        }

    @classmethod
    def from_config(cls, config: dict):
        return super().from_config({"item_major": False, **config})  # saved before: [H, I]
