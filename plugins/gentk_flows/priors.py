"""Registered ``prior`` components: ``FlowPrior``, a normalizing flow over the latent space that
a VAE learns jointly with its encoder and decoder (``gentk run vae --set prior=realnvp``).

A prior layer is called with no input and returns a ``tfd.Distribution`` with event shape
``[latent_dim]``; it is rebuilt on every call from the layer's weights. With a flow prior the
KL term has no closed form, so the VAE estimates it by Monte Carlo with its own z draws, and
its importance-sampled NLL uses the flow's exact ``log p(z)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from gentk.api import Prior

tfd, tfb = tfp.distributions, tfp.bijectors

__all__ = ["FlowPrior"]


@keras.saving.register_keras_serializable(package="gentk_flows")
class FlowPrior(Prior):
    """``p(z) = TransformedDistribution(N(0, I), flow)``.

    Args:
        latent_dim: size of z.
        bijectors: one flow step of registered bijectors (data side first), repeated ``steps``
            times, as in the flow recipes.
        steps: flow steps.
        hidden: widths of the coupling / MADE networks.
        layers: the bijector layers (or their configs), base side first; built from
            ``bijectors`` when None.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        bijectors: str = "affine-coupling,reverse",
        steps: int = 4,
        hidden: tuple[int, ...] = (64, 64),
        layers: Sequence[keras.layers.Layer] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dim, self.bijectors = int(latent_dim), str(bijectors)
        self.steps, self.hidden = int(steps), tuple(int(h) for h in hidden)
        if layers is None:
            layers = self._from_registry()
        self.flow_layers = [
            keras.saving.deserialize_keras_object(layer) if isinstance(layer, dict) else layer
            for layer in layers
        ]
        for layer in self.flow_layers:
            if not layer.built:
                layer.build()
        self.built = True

    def _from_registry(self):
        from gentk.api import build_layers, parse_step

        names = parse_step(self.bijectors) * self.steps
        return build_layers(names, {"dim": self.latent_dim, "hidden": self.hidden})

    def __call__(self, *args, **kwargs):
        return self.call()

    def call(self, *args, **kwargs):
        base = tfd.MultivariateNormalDiag(tf.zeros(self.latent_dim), tf.ones(self.latent_dim))
        chain = tfb.Chain([layer() for layer in reversed(self.flow_layers)])
        return tfd.TransformedDistribution(base, chain)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "bijectors": self.bijectors,
            "steps": self.steps,
            "hidden": self.hidden,
            "layers": [keras.saving.serialize_keras_object(layer) for layer in self.flow_layers],
        }
