"""Built-in datasets that need no download: scikit-learn's 8x8 digits and 2-D toy mixtures."""

from __future__ import annotations

import numpy as np

from gentk.data.images import ImageData
from gentk.data.tabular import TabularData

__all__ = ["digits", "gaussian_ring", "gaussian_grid"]


def digits() -> ImageData:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey levels scaled to [0, 1], with labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    return ImageData(x, bunch.target.astype(np.int64), "sklearn:digits")


def gaussian_ring(
    n: int = 4000, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0
) -> TabularData:
    """``modes`` Gaussians evenly spaced on a circle; labels are the mode index."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, modes, size=n)
    angle = 2 * np.pi * k / modes
    centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centers + std * rng.standard_normal((n, 2))
    return TabularData(x.astype(np.float32), k.astype(np.int64), ["x", "y"], "toy:ring")


def gaussian_grid(
    n: int = 4000, side: int = 5, spacing: float = 2.0, std: float = 0.05, seed: int = 0
) -> TabularData:
    """``side x side`` Gaussians on a square grid centred at the origin."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, side * side, size=n)
    offset = spacing * (side - 1) / 2
    centers = np.stack([k // side, k % side], axis=1) * spacing - offset
    x = centers + std * rng.standard_normal((n, 2))
    return TabularData(x.astype(np.float32), k.astype(np.int64), ["x", "y"], "toy:grid")
