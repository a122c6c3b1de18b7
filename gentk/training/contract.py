"""The training contract: what each of a model's optimizers trains (#24 item 2).

A model with one optimizer needs to declare nothing: its ``optimizer`` updates every trainable
weight, minimises the first of its ``loss_names`` and takes the ``learning_rate`` option. A
model with several (a GAN's generator and critic) declares them with a ``training_contract()``
method returning one ``Optimized`` per optimizer. The runner (building optimizer state before a
checkpoint loads, applying learning rates on ``--resume``), the multi-worker loop and the
conformance suite (each optimizer's loss reaches every weight it updates, every weight has an
optimizer, every optimizer's state survives a save) read this contract, so no core module
names a model family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = ["Optimized", "training_contract", "optimizers", "optimizer_variables"]


@dataclasses.dataclass(frozen=True)
class Optimized:
    """One optimizer and what it trains.

    Attributes:
        name: what it trains, for messages (``"model"``, ``"generator"``, ``"critic"``).
        optimizer: the Keras optimizer.
        variables: the trainable variables it updates.
        loss: the key of ``compute_losses``' result it minimises.
        learning_rate: the config option that sets its learning rate (None: none does).
    """

    name: str
    optimizer: Any
    variables: Sequence
    loss: str
    learning_rate: str | None = "learning_rate"


def training_contract(model: keras.Model) -> list[Optimized]:
    """``model.training_contract()`` where the model declares one, else its one optimizer over
    every trainable weight, minimising the first of its ``loss_names`` (compiled models)."""
    declared = getattr(model, "training_contract", None)
    if declared is not None:
        return list(declared())
    loss = getattr(model, "loss_names", ("loss",))[0]
    return [Optimized("model", model.optimizer, model.trainable_variables, loss)]


def optimizers(model: keras.Model) -> list:
    """Every optimizer of ``model``'s contract, each once, in the contract's order."""
    out = []
    for part in training_contract(model):
        if all(part.optimizer is not o for o in out):
            out.append(part.optimizer)
    return out


def optimizer_variables(model: keras.Model) -> list:
    """The state of every optimizer of ``model`` (each optimizer once)."""
    return [v for optimizer in optimizers(model) for v in optimizer.variables]
