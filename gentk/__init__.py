"""gentk: a plugin-based toolkit for generative models on TensorFlow, TFP and Keras 3.

The import is light: TensorFlow loads on first use of a model, so ``gentk --help`` stays fast.
"""

from __future__ import annotations

from gentk.config import TrainConfig, resolve_config
from gentk.errors import DataError, GentkError, PluginError, TrainingError, UserError
from gentk.hookspecs import hookimpl
from gentk.plugins import get_registry
from gentk.recipe import Recipe
from gentk.saving import load_model

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "GenerativeModel",
    "GentkError",
    "PluginError",
    "Recipe",
    "TrainConfig",
    "TrainingError",
    "UserError",
    "__version__",
    "get_registry",
    "hookimpl",
    "load_model",
    "multi_worker_strategy",
    "resolve_config",
    "run",
]


def __getattr__(name):
    if name == "multi_worker_strategy":
        from gentk.training.multiworker import multi_worker_strategy

        return multi_worker_strategy
    if name == "GenerativeModel":
        from gentk.models import GenerativeModel

        return GenerativeModel
    if name == "run":
        from gentk.training.runner import run

        return run
    raise AttributeError(f"module 'gentk' has no attribute {name!r}")
