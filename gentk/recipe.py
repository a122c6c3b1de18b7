"""``Recipe``: what ``gentk run NAME`` trains — config, data, model, evaluation and artifacts.

A plugin subclasses ``Recipe`` and registers an instance with the ``register_models`` hook.
The runner (``gentk.training.runner``) drives it; the methods below are the whole contract.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gentk.config import TrainConfig

if TYPE_CHECKING:
    import keras
    import numpy as np

__all__ = ["call_hook", "check_active_options", "ConfigT", "DataT", "Recipe"]

#: the recipe's config class (a ``TrainConfig`` dataclass)
ConfigT = TypeVar("ConfigT", bound=TrainConfig)
#: what the recipe's ``load_data`` returns and every later hook receives
DataT = TypeVar("DataT")


class Recipe(Generic[ConfigT, DataT]):
    """Base class of model recipes, generic in its config class and its data
    (``class MyRecipe(Recipe[MyConfig, MyData])``: a type checker then knows what every hook
    receives).

    Attributes:
        name: the name ``gentk run`` takes.
        help: one line for ``gentk plugins``.
        config: the config dataclass (a ``TrainConfig`` subclass).
        smoke: option overrides that make a run take seconds (tests, conformance).
        supports_jit: whether the train step compiles with XLA (``jit_supported(config)`` says
            it per config, for recipes where an option decides).
        xla_on_cpu: whether ``jit_compile=auto`` turns XLA on without a GPU or TPU (set it
            where ``benchmarks/xla.py`` measured the recipe faster with XLA on CPU).
        tune_metric: ``(key, "minimize" | "maximize")`` that ``gentk tune`` optimises by
            default (a key of the epoch logs or of ``metrics.json``), or None for none.
        keeps_best_epoch: the run keeps its best validation epoch (``gentk tune`` then scores
            a trial by that epoch, else by the last).
        supports_mixed_precision: whether ``precision=mixed_*`` works (its layers keep the
            distributions' parameters, losses and any log-determinant in float32).
        shaped_defaults: ``{"images": {...}, "vectors": {...}}``, option defaults by the kind
            of data (see ``data_defaults``); ``gentk info`` lists them.
    """

    name: str = ""
    help: str = ""
    config: type = TrainConfig
    smoke: dict[str, Any] = {}
    supports_jit: bool = True
    xla_on_cpu: bool = False
    tune_metric: tuple[str, str] | None = ("val_loss", "minimize")
    keeps_best_epoch: bool = False
    supports_mixed_precision: bool = True
    shaped_defaults: dict[str, dict[str, Any]] = {}

    def inactive_options(self, config: ConfigT) -> dict[str, str]:
        """Options of ``config`` that do nothing for this recipe with these values (an option
        of a component the config does not choose, of another mode), each with the reason.
        The runner refuses one set away from its default; ``gentk info`` leaves them out."""
        return {}

    def jit_supported(self, config: ConfigT) -> bool:
        """Whether XLA can compile the train step of the model ``config`` describes."""
        return self.supports_jit

    def mirrored_supported(self, config: ConfigT) -> bool:
        """Whether the train step runs under ``MirroredStrategy`` over several local devices.
        A step that applies an optimizer update only on some steps (``gentk.replicas.run_if``)
        trains under several workers (one device each) but not over several devices of one
        process, where TensorFlow mismatches the collectives inside the condition."""
        return True

    # -- data -----------------------------------------------------------------------------
    def load_data(self, config: ConfigT, path: str | None) -> Any:
        """Read ``path`` (or the embedded default when None), validate and split it."""
        raise NotImplementedError

    def data_defaults(self, shape: tuple[int, ...]) -> dict[str, Any]:
        """Option defaults for data of this ``shape`` (one example's shape): by default those
        of ``shaped_defaults`` for ``"images"`` (``(H, W, C)``) or ``"vectors"``, for recipes
        whose class defaults suit only their default data (the GAN variants' step sizes and
        budget on 2-D points versus images). ``gentk run`` resolves the options again over them
        (under the TOML file, ``--set`` and flags: what a user sets wins) once the data are
        loaded, before ``config.toml`` is written; a resumed run or a config passed in whole
        keeps its values. They may not hold data options (``option(data=True)``)."""
        if not self.shaped_defaults or not isinstance(shape, tuple):
            return {}
        return dict(self.shaped_defaults.get("images" if len(shape) == 3 else "vectors", {}))

    def train_dataset(self, config: ConfigT, data: DataT):
        """The ``tf.data.Dataset`` that ``fit`` consumes (batched, shuffled with the seed)."""
        raise NotImplementedError

    def validation_dataset(self, config: ConfigT, data: DataT):
        """The dataset ``fit`` validates on each epoch, or None."""
        return None

    # -- model ----------------------------------------------------------------------------
    def build(self, config: ConfigT, data: DataT):
        """A new, uncompiled ``keras.Model`` for this data."""
        raise NotImplementedError

    def compile(self, model: keras.Model, config: ConfigT, *, jit_compile: bool) -> None:
        model.compile(
            optimizer=self.optimizer(config),
            jit_compile=jit_compile,
            steps_per_execution=getattr(config, "steps_per_execution", 1),
        )

    def optimizer(self, config: ConfigT):
        """The optimizer ``compile`` gives the model: ``FusedAdam`` (Keras' Adam, one kernel per
        weight) with ``learning_rate`` and ``weight_decay``."""
        from gentk.training.optimizers import FusedAdam

        return FusedAdam(config.learning_rate, weight_decay=config.weight_decay or None)

    def callbacks(self, model: keras.Model, config: ConfigT, data: DataT, run_dir: Path) -> list:
        """Extra Keras callbacks for this recipe (e.g. validation ranking metrics)."""
        return []

    def finish_training(
        self, model: keras.Model, config: ConfigT, data: DataT, run_dir: Path
    ) -> None:
        """Called after ``fit`` returns (e.g. to restore the best weights)."""

    # -- results --------------------------------------------------------------------------
    def evaluate(self, model: keras.Model, config: ConfigT, data: DataT) -> dict[str, Any]:
        """Test metrics as a flat JSON-able dict."""
        raise NotImplementedError

    def write_artifacts(
        self, model: keras.Model, config: ConfigT, data: DataT, run_dir: Path
    ) -> list[str]:
        """Write model-specific outputs (plots, samples, recommendations); return their names."""
        return []

    def sample(self, model: keras.Model, n: int, config: ConfigT, *, seed: int = 0, **options):
        """``n`` samples as a numpy array (for ``gentk sample``)."""
        raise NotImplementedError(f"model {self.name!r} does not draw samples")

    def write_samples(self, samples: np.ndarray, path: Path, config: ConfigT) -> None:
        """Write ``samples`` to ``path`` atomically, plus any picture beside it: ``.npz``
        (array ``samples``) or ``.csv`` (one flattened sample per row, columns ``x0, x1, ...``).
        """
        import numpy as np

        from gentk.atomic import atomic_path
        from gentk.errors import UserError

        suffix = Path(path).suffix.lower()
        if suffix not in (".npz", ".csv"):
            found = suffix or "(none)"
            raise UserError(f"{path}: samples are written as .npz or .csv, not {found}")
        with atomic_path(path, suffix=suffix) as tmp:
            if suffix == ".npz":
                np.savez_compressed(tmp, samples=samples)
                return
            rows = np.asarray(samples).reshape(len(samples), -1)
            header = ",".join(f"x{k}" for k in range(rows.shape[1]))
            np.savetxt(tmp, rows, delimiter=",", header=header, comments="", fmt="%.7g")

    def read_rows(self, config: ConfigT, path: str | os.PathLike | None):
        """All rows of ``path``, unsplit, for ``gentk encode`` and ``gentk score``."""
        raise NotImplementedError(f"model {self.name!r} does not encode or score rows")

    def codes(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        """The compressed representation ``gentk encode`` writes."""
        raise NotImplementedError(f"model {self.name!r} does not encode")

    def decode_codes(self, model: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None):
        """Data for codes from ``codes`` (``gentk decode``)."""
        raise NotImplementedError(f"model {self.name!r} does not decode")

    def scores(
        self, model: keras.Model, config: ConfigT, x: np.ndarray, labels: np.ndarray | None = None
    ):
        """``(name, per-row anomaly scores)`` for ``gentk score``."""
        raise NotImplementedError(f"model {self.name!r} does not score rows")

    def load_eval_data(self, config: ConfigT, path: str | None, run_dir: Path):
        """The data ``gentk evaluate RUN --data`` scores; defaults to ``load_data``."""
        return self.load_data(config, path)


def check_active_options(recipe: Recipe, config: TrainConfig) -> None:
    """Refuse (``UserError``) an option set away from the recipe's default that the recipe
    would ignore with this config (``Recipe.inactive_options``), naming it and why."""
    import dataclasses

    from gentk.errors import UserError

    inactive = recipe.inactive_options(config)
    if not inactive:
        return
    defaults = {f.name: f.default for f in dataclasses.fields(type(config))}
    for name, why in inactive.items():
        if name in defaults and getattr(config, name) != defaults[name]:
            raise UserError(
                f"{name}={getattr(config, name)!r} was set, but model {recipe.name!r} ignores it "
                f"({why}); leave it out"
            )


def call_hook(hook: Callable[..., Any], *args: Any, plan: Any = None, **kwargs: Any) -> Any:
    """Call the recipe method ``hook`` with ``args``, and with the run's ``RunPlan`` as
    ``plan=`` when the method declares a parameter of that name (so a recipe that needs the
    run's decisions, its directory layout, XLA or whether it resumes, reads them there, and
    recipes written without it keep working)."""
    import inspect

    if plan is not None and "plan" in inspect.signature(hook).parameters:
        kwargs["plan"] = plan
    return hook(*args, **kwargs)
