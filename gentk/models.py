"""``GenerativeModel``: the Keras model base whose ``train_step``/``test_step`` every
single-optimizer gentk model shares; subclasses implement ``compute_losses`` only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

if TYPE_CHECKING:
    from gentk.interfaces import Decoder, Encoder

__all__ = ["EncoderDecoderModel", "GenerativeModel", "unpack_x", "batch_rows", "record_weighted"]


def unpack_x(data: Any):
    """The input of a batch that may be ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    return data[0] if isinstance(data, (tuple, list)) else data


def batch_rows(data: Any):
    """The number of rows in a batch (of its first tensor: ``x``, a dict's first entry or a
    sparse matrix), as float32: the weight of the batch's mean losses in an epoch's mean."""
    first = tf.nest.flatten(unpack_x(data))[0]
    if isinstance(first, tf.SparseTensor):
        return tf.cast(first.dense_shape[0], tf.float32)
    return tf.cast(tf.shape(first)[0], tf.float32)


def record_weighted(
    trackers: dict, losses: dict, rows: tf.Tensor, skip: Sequence[str] = ()
) -> dict:
    """Update each ``keras.metrics.Mean`` in ``trackers`` with its batch mean weighted by the
    batch's ``rows``, so an epoch's value is the exact mean over rows (a last partial batch
    counts for its rows, as Keras' own loss tracker does); return every tracker's result."""
    for name, tracker in trackers.items():
        if name not in skip:
            tracker.update_state(losses[name], sample_weight=rows)
    return {name: tracker.result() for name, tracker in trackers.items()}


class GenerativeModel(keras.Model):
    """Base of gentk's single-optimizer models.

    Subclasses set ``loss_names`` (the first is the loss minimised) and implement
    ``compute_losses(data, training) -> dict`` of per-batch scalars. The shared steps track
    each term with a ``keras.metrics.Mean`` weighted by the batch's rows (an epoch's value is
    the exact mean over its rows), scale the loss for mixed precision and divide it
    by the number of replicas so that gradients summed across replicas are global means.
    """

    loss_names: tuple[str, ...] = ("loss",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._trackers = {n: keras.metrics.Mean(name=n) for n in self.loss_names}

    def fit(self, x: Any = None, *args, **kwargs):
        """``keras.Model.fit``, after building the model on one batch of ``x`` if needed: a
        subclassed model that ``fit`` alone trained is not marked built and would save
        without its weights."""
        if not self.built and x is not None:
            self.build_on(x)
        return super().fit(x, *args, **kwargs)

    def build_on(self, x: Any) -> None:
        """Build every layer by calling the model on (the first batch of) ``x``."""

        def head(a):  # the first two rows of an array or of each array in a dict
            return {k: v[:2] for k, v in a.items()} if isinstance(a, dict) else a[:2]

        if isinstance(x, tf.data.Dataset):
            sample = unpack_x(next(iter(x)))
        elif isinstance(x, (tuple, list)):
            sample = head(x[0])
        else:
            sample = head(x)
        self(sample)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compute_losses(self, data: Any, training: bool = False) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement `compute_losses`")

    def _record(self, losses: dict, data=None) -> dict:
        rows = 1.0 if data is None else batch_rows(data)
        return record_weighted(self._trackers, losses, rows)

    #: set by the runner under a ``tf.distribute`` strategy with XLA on: each replica's
    #: forward and backward pass is compiled (the all-reduce and update stay outside XLA)
    xla_per_replica = False

    def _losses_and_gradients(self, data):
        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = self.optimizer.scale_loss(losses[self.loss_names[0]] / replicas)
        return losses, tape.gradient(loss, self.trainable_variables)

    def train_step(self, data: Any):
        step = self._losses_and_gradients
        if self.xla_per_replica:
            if getattr(self, "_xla_step", None) is None:
                self._xla_step = tf.function(step, jit_compile=True, reduce_retracing=True)
            step = self._xla_step
        losses, grads = step(data)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._record(losses, data)

    def test_step(self, data: Any):
        return self._record(self.compute_losses(data, training=False), data)


class EncoderDecoderModel(GenerativeModel):
    """A ``GenerativeModel`` of an ``Encoder`` and a ``Decoder`` (layers, or their serialized
    configs): the code of ``x`` is the encoder's mean and its reconstruction the decoder's mean
    at that code. Subclasses implement ``compute_losses``; the built-in autoencoders and the
    example plugin's linear autoencoder share it."""

    def __init__(self, encoder: Encoder | dict, decoder: Decoder | dict, **kwargs):
        super().__init__(**kwargs)
        self.encoder = _deserialized(encoder)
        self.decoder = _deserialized(decoder)

    def encode(self, x: tf.Tensor):
        return self.encoder(x).mean()

    def decode(self, z: tf.Tensor):
        return self.decoder(z).mean()

    def call(self, x: tf.Tensor, training: bool = False):
        return self.decoder(self.encoder(x, training=training).mean(), training=training).mean()

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }


def _deserialized(layer):
    return keras.saving.deserialize_keras_object(layer) if isinstance(layer, dict) else layer
