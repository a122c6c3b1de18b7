"""Factories of plain Keras layer stacks (all serializable, no Lambda layers)."""

from __future__ import annotations

import keras

__all__ = ["dense_stack", "conv_down", "conv_up"]


def dense_stack(units, activation: str = "relu", name: str = "mlp") -> keras.Sequential:
    """Dense layers of the given widths, each followed by ``activation``."""
    return keras.Sequential(
        [
            keras.layers.Dense(u, activation=activation, name=f"{name}_dense{i}")
            for i, u in enumerate(units)
        ],
        name=name,
    )


def conv_down(filters, activation: str = "relu", name: str = "conv_down") -> keras.Sequential:
    """Strided 3x3 convolutions (stride 2, 'same'): each halves height and width."""
    return keras.Sequential(
        [
            keras.layers.Conv2D(
                f, 3, strides=2, padding="same", activation=activation, name=f"{name}{i}"
            )
            for i, f in enumerate(filters)
        ],
        name=name,
    )


def conv_up(filters, activation: str = "relu", name: str = "conv_up") -> keras.Sequential:
    """Transposed 3x3 convolutions (stride 2, 'same'): each doubles height and width."""
    return keras.Sequential(
        [
            keras.layers.Conv2DTranspose(
                f, 3, strides=2, padding="same", activation=activation, name=f"{name}{i}"
            )
            for i, f in enumerate(filters)
        ],
        name=name,
    )
