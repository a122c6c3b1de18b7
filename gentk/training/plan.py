"""``RunPlan``: everything a run decides before it touches the disk, resolved once by
``plan_run`` (``gentk run``, ``gentk.run``, ``gentk tune`` and ``gentk launch``'s workers all
come through ``gentk.training.runner.run``, which builds it inside the run's lock).

A plan holds the recipe, the resolved config (over the recipe's defaults for the data's shape),
where the data come from and what ``run.json`` calls them, the loaded data, the run directory
and what happens to it (``new``, ``replace`` or ``resume``), the checkpoint a resume starts
from, and the XLA decision. It is frozen: the run reads it, per-run state lives on the run
(``runner._Run``), never on the recipe the registry shares. Data given by name (a registered
dataset, ``data="digits"``) are loaded here, for the CLI and the library alike
(``resolve_data``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gentk.config import config_to_dict, resolve_config
from gentk.errors import PluginError, UserError
from gentk.recipe import check_active_options
from gentk.training.callbacks import read_checkpoint_state
from gentk.training.rundir import inspect_run_dir

if TYPE_CHECKING:
    import keras

    from gentk.config import TrainConfig
    from gentk.recipe import Recipe

__all__ = [
    "RunPlan",
    "plan_run",
    "resolve_data",
    "dataset_label",
    "data_fingerprint",
    "read_run_json",
    "seed_everything",
    "use_xla",
]

ACTIONS = ("new", "replace", "resume")


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What one run will do, decided before anything on disk changes.

    Attributes:
        recipe: the registered ``Recipe``.
        config: the resolved config the run trains with.
        data: where the data come from: a path, what a dataset loader returned, or None (the
            recipe's embedded data).
        data_obj: what ``recipe.load_data`` made of ``data``.
        data_label: what ``run.json`` records as the data (a dataset's name; None: the path).
        run_dir: the run directory this process writes.
        action: ``new``, ``replace`` (the old directory is set aside until the new run has a
            checkpoint) or ``resume``.
        source: where a resume reads ``run.json`` and checkpoints (for a multi-worker process
            that is not the chief: the chief's directory).
        state: the checkpoint state resumed from; None for a new run.
        meta: ``run.json`` of the resumed run; None for a new run.
        saved_config: the config the resumed run started with (``config.toml``), if read.
        xla: whether the train step is compiled with XLA (``use_xla``).
        verbose: Keras' progress (1 bar, 2 a line per epoch, 0 none; None: by terminal).
        callbacks: more Keras callbacks, after gentk's own.
    """

    recipe: Any
    config: Any
    data: Any
    data_obj: Any
    data_label: str | None
    run_dir: Path
    action: str
    source: Path
    state: dict | None = None
    meta: dict | None = None
    saved_config: Any = None
    xla: bool = False
    verbose: int | None = None
    callbacks: tuple = ()

    @property
    def resuming(self) -> bool:
        return self.state is not None


def plan_run(
    recipe: Recipe,
    config: Any = None,
    *,
    run_dir: Path,
    data: Any = None,
    resume: bool = False,
    force: bool = False,
    verbose: int | None = None,
    config_path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    data_label: str | None = None,
    direct: dict | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    chief_dir: Path | None = None,
) -> RunPlan:
    """Check and resolve everything a run needs, in the order a user's mistakes show up
    (the run directory, the resumed run, the options, the data, the precision), changing
    nothing on disk. ``chief_dir``: for a multi-worker process that is not the chief, the
    chief's run directory (read, when it can be, for ``--resume``).

    Raises:
        UserError: a run directory that is not ours, a resume of another model or of changed
            data, an unknown option or value, data that do not load.
    """
    direct = dict(direct or {})
    if chief_dir is None:
        action = inspect_run_dir(run_dir, resume=resume, force=force)
        source = run_dir
    else:  # the chief's checkpoint if this worker can read it; the chief's values win anyway
        action, source = "new", chief_dir
        if resume and read_checkpoint_state(chief_dir) is not None:
            action = "resume"
    state = read_checkpoint_state(source) if action == "resume" else None
    meta = None
    if state is not None:
        meta = read_run_json(source)
        if meta["model"] != recipe.name:
            raise UserError(f"--resume: {source} is a {meta['model']!r} run, not {recipe.name!r}")
        data = _resume_data(meta, data)
    elif data_label is None:
        data_label = dataset_label(data)
    data = resolve_data(data)
    saved_config = None
    resolved_here = config is None
    if config is None:
        if state is not None:
            config_path = source / "config.toml"
            saved_config = resolve_config(recipe.config, config_path)
        config = resolve_config(recipe.config, config_path, overrides, **direct)
    check_active_options(recipe, config)
    if state is not None:
        _check_resume_options(_started_options(meta, saved_config), config)
    seed_everything(config.seed)
    data_obj = recipe.load_data(config, data)
    if resolved_here and state is None:
        config = _with_data_defaults(recipe, config, data_obj, config_path, overrides, direct)
    if config.precision != "float32" and not getattr(recipe, "supports_mixed_precision", True):
        raise UserError(
            f"model {recipe.name!r} computes in float32 only: precision={config.precision} "
            "is not supported (use precision=float32)"
        )
    return RunPlan(
        recipe=recipe,
        config=config,
        data=data,
        data_obj=data_obj,
        data_label=data_label,
        run_dir=run_dir,
        action=action,
        source=source,
        state=state,
        meta=meta,
        saved_config=saved_config,
        xla=use_xla(recipe, config),
        verbose=verbose,
        callbacks=tuple(callbacks),
    )


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def use_xla(recipe: Recipe, config: TrainConfig) -> bool:
    """Whether the train step is compiled with XLA: ``jit_compile=true`` where the recipe
    supports it; ``auto`` also needs a GPU or TPU, or a recipe measured faster with XLA on
    CPU (``Recipe.xla_on_cpu``)."""
    mode = str(getattr(config, "jit_compile", "auto"))
    if mode == "false" or not recipe.jit_supported(config):
        return False
    if mode == "true":
        return True
    return has_accelerator() or bool(getattr(recipe, "xla_on_cpu", False))


def has_accelerator() -> bool:
    """Whether TensorFlow sees a GPU or a TPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def dataset_label(data: Any) -> str | None:
    """What ``run.json`` records for ``data`` given as a registered dataset's name (the name,
    so ``--resume`` loads it again); None for a path (recorded resolved) or loaded data."""
    return data if isinstance(data, str) and not Path(data).exists() else None


def resolve_data(data: Any, what: str = "--data"):
    """An existing path (checked to be a file or folder, never a FIFO or a device), or what a
    registered dataset's loader returns for its name; None and loaded data stay as they are.

    Raises:
        UserError: neither a path nor a dataset's name (the datasets are listed).
    """
    if data is None or not isinstance(data, (str, os.PathLike)):
        return data
    if Path(data).exists():
        from gentk.data.text import check_input

        check_input(data)  # a FIFO or a device would block the loader
        return data
    from gentk.plugins import get_registry

    registry = get_registry()
    if ("dataset", str(data)) in registry:
        return registry.get("dataset", str(data)).create()
    raise UserError(
        f"{what} {data!r}: no such file or folder, and no dataset of that name "
        f"(datasets: {', '.join(registry.names('dataset')) or 'none'})"
    )


def data_fingerprint(data: Any) -> str | None:
    """sha256 of a data file, or of a folder's files (names and contents); None otherwise."""
    if not isinstance(data, (str, os.PathLike)) or not Path(data).exists():
        return None
    from gentk.data.text import check_input

    check_input(data)  # never open a FIFO or a device
    path = Path(data)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(path)).encode() if f != path else b"")
        with open(f, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_run_json(run_dir: Path) -> dict:
    """``run.json`` of a run, or a one-line ``UserError`` naming the file."""
    path = run_dir / "run.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a gentk run directory (no run.json)") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a valid run record ({type(err).__name__})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str):
        raise UserError(f"{path}: not a valid run record (no model name)")
    return meta


def _resume_data(meta: dict, data):
    """The data a resumed run trains on: ``--data`` if given (it must be the same data), else
    what ``run.json`` records (a path that must not have changed, or a dataset's name)."""
    recorded = meta.get("data")
    if data is not None:
        saved, given = meta.get("data_sha256"), data_fingerprint(data)
        if saved and given and saved != given:
            raise UserError(
                f"--resume: --data {data} differs from the data this run was trained on "
                f"({recorded}); resume without --data, or start a new run"
            )
        return data
    if recorded is None:
        return None
    if Path(recorded).exists():
        if meta.get("data_sha256") and data_fingerprint(recorded) != meta["data_sha256"]:
            raise UserError(f"--resume: {recorded} changed since this run started")
        return recorded
    try:
        return resolve_data(recorded)
    except UserError:
        raise UserError(
            f"--resume: the run's data {recorded} no longer exists; pass --data with the same data"
        ) from None


def _started_options(meta: dict, saved_config) -> dict | None:
    """The options the run was started (or last resumed) with: ``run.json`` records them; runs
    from before it did fall back on ``config.toml``."""
    if isinstance(meta.get("config"), dict):
        return meta["config"]
    return None if saved_config is None else config_to_dict(saved_config)


def changed_options(started: dict | None, config: Any) -> dict[str, tuple]:
    """``{option: (value the run started with, value now)}`` for every option that differs."""
    if started is None:
        return {}
    now = config_to_dict(config)
    keys = sorted(set(started) | set(now))
    return {k: (started.get(k), now.get(k)) for k in keys if started.get(k) != now.get(k)}


def _check_resume_options(started: dict | None, config) -> None:
    """Refuse a resume whose options change the data or the split (``option(data=True)``): the
    later epochs and the test metrics would use other data than the first epochs."""
    from gentk.config import data_options

    data = set(data_options(config))
    changed = {k: v for k, v in changed_options(started, config).items() if k in data}
    if changed:
        shown = ", ".join(f"{k}={was!r} -> {now!r}" for k, (was, now) in changed.items())
        raise UserError(
            f"--resume: {shown} would change the data or its split; resume with the run's own "
            "values or start a new run"
        )


def started_options(plan: RunPlan) -> dict | None:
    """The options the resumed run of ``plan`` was started (or last resumed) with."""
    return None if plan.meta is None else _started_options(plan.meta, plan.saved_config)


def _with_data_defaults(recipe, config, data_obj, config_path, overrides, direct):
    """``config`` resolved again over the recipe's defaults for the loaded data's shape
    (``Recipe.data_defaults``); the same ``config`` when the recipe has none."""
    from gentk.config import data_options

    shape = getattr(data_obj, "shape", None)
    shaped = recipe.data_defaults(tuple(shape)) if isinstance(shape, (tuple, list)) else {}
    if not shaped:
        return config
    touched = sorted(set(shaped) & set(data_options(config)))
    if touched:  # the data were loaded with these: they cannot change now
        raise PluginError(
            f"model {recipe.name!r}: data_defaults may not set data options ({', '.join(touched)})"
        )
    config = resolve_config(recipe.config, config_path, overrides, defaults=shaped, **direct)
    check_active_options(recipe, config)
    return config
