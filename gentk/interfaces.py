"""The component interfaces every model is built from: Keras 3 layers with a written call contract.

Distributions are TFP distributions with batch shape ``[B]`` (event dims wrapped in
``tfd.Independent``). A layer that returns a distribution works inside subclassed models only
(not on ``keras.Input`` graphs), so every ``Model.call`` returns tensors and distributions live
inside ``train_step``, ``test_step`` and the generative methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    import tensorflow as tf
    from tensorflow_probability import distributions as tfd

__all__ = ["Encoder", "Decoder", "Generator", "Critic", "Bijector", "Prior", "Divergence"]


class _Component(keras.layers.Layer):
    """Shared base: subclasses implement ``call`` and must be Keras-serializable."""

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call`; see the {self.contract} contract."
        )

    contract = "component"


class Encoder(_Component):
    """``Encoder(x, condition=None, training=False) -> tfd.Distribution`` over z, q(z|x[,c]).

    The distribution has batch shape ``[B]`` and event shape ``[latent_dim]``. A deterministic
    encoder returns a point mass (``tfd.Independent(tfd.Deterministic(h), 1)``) so every model
    sees the same contract. Encoders expose ``latent_dim``.
    """

    contract = "Encoder"


class Decoder(_Component):
    """``Decoder(z, condition=None, training=False) -> tfd.Distribution`` over x, p(x|z[,c]).

    Batch shape ``[B]``, event shape the data shape. Likelihood heads are float32.
    """

    contract = "Decoder"


class Generator(_Component):
    """``Generator(z, condition=None, training=False) -> tensor`` of samples, shape ``[B, ...]``."""

    contract = "Generator"


class Critic(_Component):
    """``Critic(x, condition=None, training=False) -> tensor`` of scores: ``[B]`` logits, or
    ``[B, C+1]`` for the semi-supervised discriminator."""

    contract = "Critic"


class Bijector(_Component):
    """A layer that owns trainable weights and builds a ``tfb.Bijector`` in ``call``.

    ``Bijector(condition=None) -> tfb.Bijector``; flows are
    ``tfd.TransformedDistribution(base, tfb.Chain([...]))`` rebuilt on every call, never stored.
    ``inverse_and_log_det`` gives the normalising direction and its log-determinant in one
    call, which is what a density needs.
    """

    contract = "Bijector"
    uses_training = False  # True: ``call`` takes ``training`` (its Jacobian differs in training)

    def inverse_and_log_det(
        self,
        y: tf.Tensor,
        condition: tf.Tensor | None = None,
        training: bool = False,
        event_ndims: int = 1,
    ):
        """``(x, log|det dx/dy|)`` of a data-side ``y``, the log-determinant summed over the
        last ``event_ndims`` axes. This default asks the ``tfb.Bijector`` for its inverse and
        its inverse log-determinant: TFP caches the inverse, but a coupling's or an
        autoregressive layer's network runs once for each of the two (and is traced and
        differentiated twice), so layers with a network override it to run it once."""
        bijector = (
            self(condition=condition, training=training)
            if self.uses_training
            else (self(condition=condition))
        )
        return bijector.inverse(y), bijector.inverse_log_det_jacobian(y, event_ndims=event_ndims)


class Prior(_Component):
    """``Prior() -> tfd.Distribution`` over z with event shape ``[latent_dim]``, rebuilt from the
    layer's weights on every call (a learned prior is trained with the model that owns it)."""

    contract = "Prior"


class Divergence:
    """The objective that compares two distributions.

    Adversarial divergences implement ``critic_loss(real_scores, fake_scores)`` and
    ``generator_loss(fake_scores)``; latent regularisers implement ``between(q, p, z)``.
    ``supports`` names which of the two (``"adversarial"``, ``"latent"``) an instance offers.
    """

    supports: tuple[str, ...] = ()

    def between(self, q: tfd.Distribution, p: tfd.Distribution, z: tf.Tensor | None = None):
        raise NotImplementedError(f"{type(self).__name__} is not a latent divergence")

    def critic_loss(self, real_scores: tf.Tensor, fake_scores: tf.Tensor):
        raise NotImplementedError(f"{type(self).__name__} is not an adversarial divergence")

    def generator_loss(self, fake_scores: tf.Tensor):
        raise NotImplementedError(f"{type(self).__name__} is not an adversarial divergence")

    def get_config(self) -> dict:
        return {}
