"""Seeded train/validation/test splits of example indices."""

from __future__ import annotations

import numpy as np

from gentk.errors import UserError

__all__ = ["split_indices"]


def split_indices(n: int, validation_fraction: float, test_fraction: float, seed: int):
    """Disjoint ``(train, validation, test)`` index arrays covering ``range(n)``, seeded."""
    if not (
        0 <= validation_fraction < 1
        and 0 <= test_fraction < 1
        and validation_fraction + test_fraction < 1
    ):
        raise UserError(
            "validation_fraction and test_fraction must lie in [0, 1) and sum below 1. "
            f"Received: {validation_fraction}, {test_fraction}"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * validation_fraction))
    n_test = int(round(n * test_fraction))
    if n - n_val - n_test < 1:
        raise UserError(f"{n} examples are too few to split")
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]
