"""Factories of plain Keras layer stacks (all serializable, no Lambda layers)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["dense_stack", "conv_down", "conv_up"]


def dense_stack(
    units: Sequence[int], activation: str = "relu", name: str = "mlp"
) -> keras.Sequential:
    """Dense layers of the given widths, each followed by ``activation``."""
    return keras.Sequential(
        [
            keras.layers.Dense(u, activation=activation, name=f"{name}_dense{i}")
            for i, u in enumerate(units)
        ],
        name=name,
    )


DOWNSAMPLE = ("stride", "max-pool", "avg-pool")
UPSAMPLE = ("transpose", "avg-unpool")


def conv_down(
    filters: Sequence[int],
    activation: str = "relu",
    name: str = "conv_down",
    downsample: str = "stride",
) -> keras.Sequential:
    """3x3 convolutions that each halve height and width: stride 2 (``stride``), or stride 1
    followed by 2x2 max or average pooling (``max-pool``, ``avg-pool``); 'same' padding."""
    if downsample not in DOWNSAMPLE:
        raise ValueError(f"`downsample` must be one of {DOWNSAMPLE}. Received: {downsample!r}")
    layers = []
    for i, f in enumerate(filters):
        stride = 2 if downsample == "stride" else 1
        layers.append(
            keras.layers.Conv2D(
                f, 3, strides=stride, padding="same", activation=activation, name=f"{name}{i}"
            )
        )
        if downsample == "max-pool":
            layers.append(keras.layers.MaxPooling2D(2, padding="same", name=f"{name}_pool{i}"))
        elif downsample == "avg-pool":
            layers.append(keras.layers.AveragePooling2D(2, padding="same", name=f"{name}_pool{i}"))
    return keras.Sequential(layers, name=name)


def conv_up(
    filters: Sequence[int],
    activation: str = "relu",
    name: str = "conv_up",
    upsample: str = "transpose",
) -> keras.Sequential:
    """Stages that each double height and width: a stride-2 3x3 transposed convolution
    (``transpose``), or average unpooling (the adjoint of average pooling) followed by a
    3x3 convolution (``avg-unpool``)."""
    from gentk.layers.pooling import AverageUnpooling2D

    if upsample not in UPSAMPLE:
        raise ValueError(f"`upsample` must be one of {UPSAMPLE}. Received: {upsample!r}")
    layers = []
    for i, f in enumerate(filters):
        if upsample == "transpose":
            layers.append(
                keras.layers.Conv2DTranspose(
                    f, 3, strides=2, padding="same", activation=activation, name=f"{name}{i}"
                )
            )
        else:
            layers.append(AverageUnpooling2D(2, name=f"{name}_unpool{i}"))
            layers.append(
                keras.layers.Conv2D(f, 3, padding="same", activation=activation, name=f"{name}{i}")
            )
    return keras.Sequential(layers, name=name)
