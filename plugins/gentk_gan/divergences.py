"""Adversarial divergences as registered ``Divergence`` components: thin wrappers over the pure
loss pairs of ``gentk.objectives.adversarial``, so a recipe picks one by name
(``--set divergence=hinge``) and a third-party plugin adds its own the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gentk.api import Divergence
from gentk_gan.catalogue import F_NAMES, LOSS_PAIRS

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["AdversarialDivergence", "LOSS_PAIRS", "F_NAMES"]


def _pairs():
    from gentk.api import adversarial as a

    return {
        "minimax": (a.minimax_critic_loss, a.minimax_generator_loss),
        "nonsaturating": (a.minimax_critic_loss, a.nonsaturating_generator_loss),
        "softmax-minimax": (a.softmax_minimax_critic_loss, a.softmax_minimax_generator_loss),
        "softmax-nonsaturating": (
            a.softmax_minimax_critic_loss,
            a.softmax_nonsaturating_generator_loss,
        ),
        "wasserstein": (a.wasserstein_critic_loss, a.wasserstein_generator_loss),
        "hinge": (a.hinge_critic_loss, a.hinge_generator_loss),
        "least-squares": (a.least_squares_critic_loss, a.least_squares_generator_loss),
    }


class AdversarialDivergence(Divergence):
    """A registered adversarial loss pair by name: one of ``LOSS_PAIRS``, or ``f-<name>`` for
    the f-GAN bound of an f-divergence in ``F_NAMES`` (Nowozin et al., 2016).

    Args:
        name: the loss pair.
    """

    supports = ("adversarial",)

    def __init__(self, name: str = "nonsaturating"):
        if name not in LOSS_PAIRS and not (name.startswith("f-") and name[2:] in F_NAMES):
            raise ValueError(
                f"unknown adversarial loss {name!r}; choose from "
                f"{', '.join(LOSS_PAIRS + tuple('f-' + n for n in F_NAMES))}"
            )
        self.name = name

    def critic_loss(self, real_scores: tf.Tensor, fake_scores: tf.Tensor):
        if self.name.startswith("f-"):
            from gentk.api import f_critic_loss

            return f_critic_loss(self.name[2:], real_scores, fake_scores)
        return _pairs()[self.name][0](real_scores, fake_scores)

    def generator_loss(self, fake_scores: tf.Tensor):
        if self.name.startswith("f-"):
            from gentk.api import f_generator_loss

            return f_generator_loss(self.name[2:], fake_scores)
        return _pairs()[self.name][1](fake_scores)

    def __call__(self, real_scores: tf.Tensor, fake_scores: tf.Tensor):
        """``(critic_loss, generator_loss)``: what the conformance suite checks."""
        return self.critic_loss(real_scores, fake_scores), self.generator_loss(fake_scores)

    def get_config(self) -> dict:
        return {"name": self.name}
