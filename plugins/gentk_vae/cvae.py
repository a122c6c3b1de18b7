"""The conditional VAE: ``CVAE`` (a ``keras.Model``) (the ``cvae`` and
``cvae-classifier`` recipes are in ``gentk_vae.recipe``).

#### Mathematical details

With the one-hot label c fed to both networks (Sohn, Lee and Yan, NeurIPS 2015):

    q(z|x, c),  p(x|z, c),  p(z) = N(0, I),
    ELBO(x|c) = E_q[log p(x|z, c)] - KL(q(z|x, c) || p(z)) <= log p(x|c).

In the second structure a classifier r(c|x) runs in parallel with the encoder and is trained
jointly on the labelled data: loss = -ELBO(x|c) + alpha * CE(r(.|x), c). Encoding or
reconstructing an unlabelled x then conditions on r's class probabilities, so no label is
needed; sampling class k decodes z ~ p(z) with c = onehot(k).

Inputs are dicts ``{"x": images, "label": int labels}`` (``label`` may be left out when the
model has a classifier).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gentk.api import dense_stack, elbo, kl_divergence, records_config
from gentk_vae.model import VAE

__all__ = ["CVAE"]


@keras.saving.register_keras_serializable(package="gentk_vae")
@records_config
class CVAE(VAE):
    """A VAE whose encoder and decoder see the one-hot label, optionally with a parallel
    classifier so that encoding needs no label.

    Args:
        encoder, decoder: conditional ``Encoder``/``Decoder`` (they take ``condition``).
        n_classes: number of classes C (labels are 0..C-1).
        classifier_hidden: widths of the parallel classifier's MLP; None for no classifier.
        classifier_weight: alpha, the weight of its cross-entropy in the loss.
        **kwargs: the ``VAE``'s (beta, n_samples, seed, kl_anneal_steps, gradient_estimator).
    """

    loss_names = ("loss", "reconstruction", "kl", "elbo", "classification")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        n_classes: int = 10,
        classifier_hidden: tuple[int, ...] | None = None,
        classifier_weight: float = 1.0,
        **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        if int(n_classes) < 2:
            raise ValueError(f"`n_classes` must be >= 2. Received: n_classes={n_classes}")
        self.n_classes = int(n_classes)
        self.classifier_weight = float(classifier_weight)
        self.classifier_hidden = None
        self.classifier = None
        if classifier_hidden is not None:
            self.classifier_hidden = tuple(int(h) for h in classifier_hidden)
            self.classifier = keras.Sequential(
                [
                    keras.layers.Flatten(),
                    *dense_stack(self.classifier_hidden, "relu", name="classifier").layers,
                    keras.layers.Dense(self.n_classes, dtype="float32", name="class_logits"),
                ],
                name="classifier",
            )

    def _split(self, inputs):
        if isinstance(inputs, dict):
            return tf.cast(inputs["x"], tf.float32), inputs.get("label")
        if isinstance(inputs, (tuple, list)):
            return tf.cast(inputs[0], tf.float32), (inputs[1] if len(inputs) > 1 else None)
        return tf.cast(inputs, tf.float32), None

    def condition(
        self, x: tf.Tensor | None = None, labels: tf.Tensor | None = None, training: bool = False
    ):
        """One-hot ``labels``, or the classifier's class probabilities for ``x``."""
        if labels is not None:
            return tf.one_hot(tf.cast(tf.reshape(labels, (-1,)), tf.int32), self.n_classes)
        if self.classifier is None:
            raise ValueError("this CVAE has no classifier: pass the labels ({'x': x, 'label': y})")
        return tf.nn.softmax(self.classifier(x, training=training))

    def compute_losses(self, data: Any, training: bool = False):
        x, labels = self._split(data)
        c = self.condition(labels=labels)
        q, z, log_lik = self._terms(x, training, self.n_samples, c)
        kl = kl_divergence(q, self.prior(), z=z)
        mean_lik = tf.reduce_mean(log_lik, axis=0)
        loss = -tf.reduce_mean(elbo(mean_lik, kl, self.kl_weight(training)))
        ce = tf.constant(0.0)
        if self.classifier is not None:
            ce = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(
                    tf.cast(tf.reshape(labels, (-1,)), tf.int32),
                    self.classifier(x, training=training),
                    from_logits=True,
                )
            )
            loss = loss + self.classifier_weight * ce
        return {
            "loss": loss,
            "reconstruction": -tf.reduce_mean(mean_lik),
            "kl": tf.reduce_mean(kl),
            "elbo": tf.reduce_mean(mean_lik - kl),
            "classification": ce,
        }

    def call(self, inputs: tf.Tensor | tuple | dict[str, tf.Tensor], training: bool = False):
        x, labels = self._split(inputs)
        if self.classifier is not None and not self.classifier.built:
            self.classifier.build(x.shape)  # a labelled first call must still build it
        c = self.condition(x, labels, training=training)
        return self.decoder(self.code(self.encoder(x, c, training=training)), c).mean()

    def encode(self, x: tf.Tensor, labels: tf.Tensor | None = None):
        x = tf.cast(x, tf.float32)
        return self.code(self.encoder(x, self.condition(x, labels)))

    def decode(self, z: tf.Tensor, labels: tf.Tensor):
        return self.decoder(tf.cast(z, tf.float32), self.condition(labels=labels)).mean()

    def predict_label(self, x: tf.Tensor):
        """The classifier's most probable class for each row of ``x``."""
        return tf.argmax(self.condition(tf.cast(x, tf.float32)), axis=-1)

    def elbo(self, x: tf.Tensor, labels: tf.Tensor | None = None, n_samples: int = 1):
        x = tf.cast(x, tf.float32)
        return super().elbo(x, n_samples=n_samples, condition=self.condition(x, labels))

    def log_prob(
        self,
        x: tf.Tensor,
        labels: tf.Tensor | None = None,
        n_samples: int = 1000,
        batch_samples: int = 100,
    ):
        """Importance-sampled log p(x|c) with c the labels (or the classifier's guess)."""
        x = tf.cast(x, tf.float32)
        return super().log_prob(x, n_samples, batch_samples, condition=self.condition(x, labels))

    def sample(self, n: int, seed: int | None = None, label: int | None = None):
        """``n`` decoder means at z ~ p(z) for class ``label`` (cycling through the classes
        when None)."""
        s = self._seed() if seed is None else tf.constant([seed, 0], tf.int32)
        labels = np.arange(n) % self.n_classes if label is None else np.full(n, int(label))
        return self.decode(self.prior().sample(n, seed=s), labels)
