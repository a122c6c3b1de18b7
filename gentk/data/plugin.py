"""The core's own datasets (scikit-learn's digits, the 2-D Gaussian ring and grid), registered
through the ``gentk.plugins`` entry point (``core`` in pyproject.toml) and the
``register_datasets`` hook, as any plugin's are: no family's plugin owns them, and
``GENTK_DISABLE_PLUGINS=core`` leaves them out like any other plugin."""

from __future__ import annotations

from collections.abc import Callable

from gentk.hookspecs import hookimpl

__all__ = ["register_datasets"]


@hookimpl
def register_datasets(register: Callable[..., None]):
    from gentk.data.builtin import digits, gaussian_grid, gaussian_ring

    register("digits", digits, help="scikit-learn's 1,797 8x8 digits with labels")
    register("gaussian-ring", gaussian_ring, help="2-D: 8 Gaussians on a circle")
    register("gaussian-grid", gaussian_grid, help="2-D: 5x5 grid of Gaussians")
