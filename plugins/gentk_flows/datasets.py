"""Named 2-D datasets for flows (and any recipe that reads vectors): two moons, concentric
rings, a checkerboard. Generated with numpy (scikit-learn's ``make_moons``): no download."""

from __future__ import annotations

import numpy as np

from gentk.api import TabularData

__all__ = ["checkerboard", "rings", "two_moons"]


def two_moons(n: int = 4000, noise: float = 0.05, seed: int = 0) -> TabularData:
    """scikit-learn's two interleaving half circles; labels are the moon."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return TabularData(x.astype(np.float32), y.astype(np.int64), ["x", "y"], "toy:two-moons")


def rings(n: int = 4000, count: int = 3, noise: float = 0.04, seed: int = 0) -> TabularData:
    """``count`` concentric circles of radii 1..count (points spread by area); labels are the
    ring."""
    rng = np.random.default_rng(seed)
    k = rng.choice(count, size=n, p=np.arange(1, count + 1) / np.arange(1, count + 1).sum())
    angle = rng.uniform(0, 2 * np.pi, size=n)
    radius = (k + 1) + noise * rng.standard_normal(n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return TabularData(x.astype(np.float32), k.astype(np.int64), ["x", "y"], "toy:rings")


def checkerboard(n: int = 4000, squares: int = 4, seed: int = 0) -> TabularData:
    """Uniform on the black squares of a ``squares x squares`` board on ``[-2, 2]^2``."""
    rng = np.random.default_rng(seed)
    side = 4.0 / squares
    cells = [(i, j) for i in range(squares) for j in range(squares) if (i + j) % 2 == 0]
    pick = rng.integers(0, len(cells), size=n)
    corner = np.array(cells, dtype=np.float64)[pick] * side - 2.0
    x = corner + rng.uniform(0, side, size=(n, 2))
    return TabularData(x.astype(np.float32), pick.astype(np.int64), ["x", "y"], "toy:checkerboard")
