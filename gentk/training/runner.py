"""The runner behind ``gentk run``: one run directory, trained, checkpointed, evaluated, written.

Layout of a run directory (see ARCHITECTURE.md): ``config.toml``, ``model.keras``,
``checkpoints/``, ``history.csv``, ``metrics.json``, ``tensorboard/``, PNG plots,
model-specific outputs and ``run.log``. Every file is written under a temporary name and
renamed, so a killed run never leaves a truncated output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gentk.atomic import atomic_path, atomic_write_json, atomic_write_text
from gentk.config import config_to_dict, config_to_toml, resolve_config
from gentk.errors import DiskFullError, Interrupted, PluginError, TrainingError, UserError
from gentk.recipe import check_active_options
from gentk.saving import read_archive_config, unloadable_classes
from gentk.training.callbacks import (
    AtomicCheckpoint,
    EpochSummaries,
    NanGuard,
    ValidationEpochs,
    read_checkpoint_state,
)
from gentk.training.contract import optimizer_variables, training_contract
from gentk.training.rundir import RunLock, check_output_path, inspect_run_dir, set_aside

__all__ = [
    "RunResult",
    "run",
    "build_compiled_model",
    "use_xla",
    "seed_everything",
    "data_fingerprint",
    "read_run_json",
]

log = logging.getLogger("gentk.run")


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    model: object
    metrics: dict
    history: list
    config: object
    data: object


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def data_fingerprint(data) -> str | None:
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


def _resume_data(run_dir: Path, meta: dict, data):
    """The data a resumed run trains on: ``--data`` if given (it must be the same data), else
    what ``run.json`` records."""
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
    from gentk.plugins import get_registry

    registry = get_registry()
    if ("dataset", recorded) in registry:
        return registry.get("dataset", recorded).create()
    raise UserError(
        f"--resume: the run's data {recorded} no longer exists; pass --data with the same data"
    )


def _started_options(meta: dict, saved_config) -> dict | None:
    """The options the run was started (or last resumed) with: ``run.json`` records them; runs
    from before it did fall back on ``config.toml``."""
    if isinstance(meta.get("config"), dict):
        return meta["config"]
    return None if saved_config is None else config_to_dict(saved_config)


def _changed_options(started: dict | None, config) -> dict[str, tuple]:
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
    changed = {k: v for k, v in _changed_options(started, config).items() if k in data}
    if changed:
        shown = ", ".join(f"{k}={was!r} -> {now!r}" for k, (was, now) in changed.items())
        raise UserError(
            f"--resume: {shown} would change the data or its split; resume with the run's own "
            "values or start a new run"
        )


def _attach_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("gentk")
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return handler


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy ``name`` (``float32``, ``mixed_float16``, ``mixed_bfloat16``)
    while the block runs: the layers built inside take it (and keep it when saved)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def use_xla(recipe, config) -> bool:
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


def _is_default(strategy) -> bool:
    import tensorflow as tf

    return not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def build_compiled_model(recipe, config, data, strategy=None):
    """Build, compile and call the model on one batch so it is built before any save."""
    import tensorflow as tf

    from gentk.models import GenerativeModel

    strategy = strategy or tf.distribute.get_strategy()
    jit = use_xla(recipe, config)
    several = strategy.num_replicas_in_sync > 1 or not _is_default(strategy)
    with strategy.scope():
        model = recipe.build(config, data)
        # Keras compiles the whole step, strategy.run included, which XLA cannot do across
        # devices; under a strategy only each replica's forward and backward pass is compiled
        recipe.compile(model, config, jit_compile=jit and not several)
        if jit and several and isinstance(model, GenerativeModel):
            model.xla_per_replica = True
        if several:  # Keras' multi-step loop fails under a mirrored strategy (TF 2.21)
            model.steps_per_execution = 1
        batch = next(iter(recipe.train_dataset(config, data)))
        x = batch[0] if isinstance(batch, tuple) else batch
        model(x)  # builds every layer: an unbuilt subclassed model saves no weights
        for part in training_contract(model):  # each optimizer's state on its variables
            part.optimizer.build(part.variables)
    return model


def run(
    recipe,
    config=None,
    *,
    data=None,
    output="runs/run",
    resume=False,
    force=False,
    verbose=None,
    config_path=None,
    overrides=(),
    data_label=None,
    callbacks=(),
    **direct,
) -> RunResult:
    """Train ``recipe`` into ``output`` and return the model, metrics and history.

    Args:
        recipe: a registered ``Recipe``, or its name (``"recommender-vae"``).
        config: a resolved config; if None it is resolved from ``config_path``, ``overrides``
            and ``direct`` (epochs=..., seed=...), or read back from the run when resuming.
        data: a file or folder path, data a registered dataset loader returned, or None for
            the recipe's embedded default data.
        data_label: what ``run.json`` records as the data (a dataset name); default the path.
        output: the run directory.
        resume: continue the run in ``output`` from its last complete checkpoint.
        force: replace whatever ``output`` holds.
        verbose: Keras progress (1 bar, 2 a line per epoch, 0 none); default by terminal.
        callbacks: more Keras callbacks, called after each epoch's row (and its checkpoint,
            when one is due) is written; a run one of them stops, as ``gentk tune``'s pruning
            does, is checkpointed at its last epoch, so nothing is lost.
    """
    from gentk import progress
    from gentk.training.multiworker import (
        cluster_workers,
        multi_worker_strategy,
        multiworker_errors,
    )

    if isinstance(recipe, str):  # a model's name, as the CLI takes it
        from gentk.plugins import get_registry

        recipe = get_registry().get("model", recipe).factory
    run_dir = check_output_path(output)  # symlinks resolved: one lock and one directory per run
    kwargs = dict(data=data, resume=resume, force=force, config_path=config_path,
                  overrides=overrides, data_label=data_label, direct=direct,
                  callbacks=list(callbacks))  # fmt: skip
    if cluster_workers() > 1:
        multi_worker_strategy()  # before any TensorFlow operation (see its docstring)
        with multiworker_errors():
            return _run_cluster(recipe, config, run_dir=run_dir, verbose=verbose, **kwargs)
    with RunLock(run_dir), progress.quiet(verbose == 0):
        return _run_locked(recipe, config, run_dir=run_dir, verbose=verbose, **kwargs)


def _run_cluster(recipe, config, *, run_dir, verbose, **kwargs) -> RunResult:
    """One worker of a multi-worker run: the chief as a one-process run, the others into a
    scratch directory (the chief writes the run)."""
    import tempfile

    from gentk import progress
    from gentk.training.multiworker import is_chief

    if is_chief():
        with RunLock(run_dir), progress.quiet(verbose == 0):
            return _run_locked(recipe, config, run_dir=run_dir, verbose=verbose, **kwargs)
    kwargs["force"] = False
    with tempfile.TemporaryDirectory(prefix="gentk-worker-") as scratch:
        with progress.quiet(True):  # the chief shows the progress
            return _run_locked(
                recipe, config, run_dir=Path(scratch) / "run", chief_dir=run_dir, verbose=0,
                **kwargs,
            )  # fmt: skip


def _check_loadable(recipe, config_or_model, what: str) -> None:
    """Refuse a model whose classes a fresh process could not import (see ``load_model``)."""
    bad = unloadable_classes(config_or_model)
    if bad:
        raise PluginError(
            f"model {recipe.name!r}: {', '.join(bad)} is defined outside gentk and the plugin "
            f"packages, so {what} could not be loaded by another process; define and register "
            "the class in the plugin's package"
        )


def _run_locked(
    recipe,
    config,
    *,
    data,
    run_dir: Path,
    resume,
    force,
    verbose,
    config_path,
    overrides,
    data_label,
    direct,
    callbacks,
    chief_dir=None,
) -> RunResult:
    """``chief_dir``: for a multi-worker process that is not the chief, the chief's run
    directory (read, when it can be, for ``--resume``); its own files go to ``run_dir``."""
    # everything is checked before anything on disk changes: options, data, the directory
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
        data = _resume_data(source, meta, data)
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
    if isinstance(data, (str, os.PathLike)) and Path(data).exists():
        from gentk.data.text import check_input

        check_input(data)  # a FIFO or a device would block the loader
    data_obj = recipe.load_data(config, data)
    if resolved_here and state is None:
        config = _with_data_defaults(recipe, config, data_obj, config_path, overrides, direct)
    backup = None
    if action == "replace":
        backup = set_aside(run_dir)
    elif action == "new" and run_dir.exists():
        shutil.rmtree(run_dir)  # what a failed start left
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.precision != "float32" and not getattr(recipe, "supports_mixed_precision", True):
        raise UserError(
            f"model {recipe.name!r} computes in float32 only: precision={config.precision} "
            "is not supported (use precision=float32)"
        )
    handler = _attach_log(run_dir)
    try:
        with dtype_policy(config.precision):
            result = _train(
                recipe,
                config,
                saved_config,
                data,
                data_obj,
                run_dir,
                state,
                meta,
                data_label,
                verbose,
                callbacks,
                source,
            )
    except BaseException as err:
        kept = read_checkpoint_state(run_dir)
        if isinstance(err, DiskFullError):
            err.args = (
                f"{err}; the last good checkpoint (epoch {kept['epoch']}) is kept in "
                f"{run_dir / 'checkpoints'}; free some space, then --resume"
                if kept
                else f"{err}; no checkpoint was written yet; free some space and run again",
            )
        log.error("run stopped: %s", f"{type(err).__name__}: {err}" if str(err) else repr(err))
        _detach_log(handler)
        if backup is not None and kept is None and backup.exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            backup.rename(run_dir)  # the new run produced nothing: the old one comes back
        raise
    _detach_log(handler)
    if backup is not None and backup.exists():
        shutil.rmtree(backup)
    return result


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


@contextlib.contextmanager
def stop_on_signals(checkpoint):
    """While training: SIGINT or SIGTERM asks ``checkpoint`` to save at the end of the epoch in
    progress and stop; a second signal stops at once (the last checkpoint stays). Only the
    main thread can install handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum, frame):
        name = signal.Signals(signum).name
        for sig, old in previous.items():
            signal.signal(sig, old)
        checkpoint.request_stop(name)
        print(
            f"\n{name}: checkpointing at the end of this epoch, then stopping "
            "(send it again to stop now)",
            file=sys.stderr,
            flush=True,
        )

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _detach_log(handler) -> None:
    logging.getLogger("gentk").removeHandler(handler)
    handler.close()


@dataclasses.dataclass
class _Run:
    """One run's own state while it trains (never kept on the recipe the registry shares)."""

    recipe: Any
    config: Any
    data_obj: Any
    run_dir: Path
    model: Any = None
    strategy: Any = None
    history: list = dataclasses.field(default_factory=list)
    initial_epoch: int = 0
    guard: Any = None
    checkpoint: Any = None
    callbacks: list = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0


def _train(
    recipe,
    config,
    saved_config,
    data,
    data_obj,
    run_dir,
    state,
    meta,
    data_label,
    verbose,
    more_callbacks=(),
    state_dir=None,
) -> RunResult:
    """The life of a run: its files, the model, its checkpoint (on --resume), the fit, then
    the model, metrics and pictures."""
    log.info("run %s into %s (resume=%s)", recipe.name, run_dir, state is not None)
    if state is None:
        meta = _write_run_files(recipe, config, data, data_obj, run_dir, data_label)
    run = _Run(recipe, config, data_obj, run_dir)
    _build(run)
    extra = recipe.callbacks(run.model, config, data_obj, run_dir)
    stateful = [cb for cb in extra if hasattr(cb, "get_state")]
    if state is not None:
        _restore(run, state, state_dir, meta, saved_config, stateful)
    _set_callbacks(run, extra, stateful, more_callbacks)
    _fit(run, verbose)
    return _finish(run)


def _write_run_files(recipe, config, data, data_obj, run_dir, data_label) -> dict:
    """``config.toml`` and ``run.json`` (what was trained on what) of a new run."""
    from gentk import __version__

    atomic_write_text(run_dir / "config.toml", config_to_toml(config))
    meta = {
        "model": recipe.name,
        "data": data_label
        if data_label is not None
        else (str(Path(data).resolve()) if isinstance(data, (str, os.PathLike)) else None),
        "data_sha256": data_fingerprint(data),
        "gentk_version": __version__,
        "config": config_to_dict(config),
    }
    shape = getattr(data_obj, "shape", None)
    if isinstance(shape, tuple):
        meta["data_shape"] = list(shape)
    atomic_write_json(run_dir / "run.json", meta)
    return meta


def _build(run: _Run) -> None:
    """The compiled, built model under the run's strategy, checked loadable before training."""
    import keras

    from gentk.training.strategy import select_strategy

    config = run.config
    run.strategy = select_strategy(getattr(config, "distribute", "auto"), run.recipe, config)
    run.model = build_compiled_model(run.recipe, config, run.data_obj, run.strategy)
    _check_loadable(run.recipe, keras.saving.serialize_keras_object(run.model), "its model.keras")
    log.info(
        "model %s with %d parameters, %d replica(s)",
        type(run.model).__name__,
        run.model.count_params(),
        run.strategy.num_replicas_in_sync,
    )


def _restore(run: _Run, state, state_dir, meta, saved_config, stateful) -> None:
    """--resume: the checkpoint's weights and optimizer state, epoch, history and callback
    states; the config (options that fit the checkpoint) replaces the run's own."""
    model, config, run_dir = run.model, run.config, run.run_dir
    try:
        model.load_weights(Path(state_dir or run_dir) / "checkpoints" / state["weights"])
    except (ValueError, KeyError) as err:
        changed = _changed_options(_started_options(meta, saved_config), config)
        raise UserError(
            f"--resume: checkpoint {state['weights']} does not fit the model built from "
            f"the current options (changed: {', '.join(changed) or 'none'}); resume with "
            "the run's own options or start a new run"
        ) from err
    # only a config that fits the checkpoint replaces the run's own
    atomic_write_text(run_dir / "config.toml", config_to_toml(config))
    if meta is not None and state_dir in (None, run_dir):
        atomic_write_json(run_dir / "run.json", {**meta, "config": config_to_dict(config)})
    # the optimizer state holds the learning rate; the (possibly overridden) config wins
    for part in training_contract(model):
        if part.learning_rate and hasattr(config, part.learning_rate):
            part.optimizer.learning_rate = getattr(config, part.learning_rate)
    run.initial_epoch = int(state["epoch"])
    run.history = list(state["history"])
    for cb in stateful:
        cb.set_state(state.get("callbacks", {}).get(type(cb).__name__, {}))
    log.info("resumed after epoch %d", run.initial_epoch)


def _set_callbacks(run: _Run, extra, stateful, more_callbacks) -> None:
    """The NaN guard, the recipe's callbacks, the atomic checkpoint and TensorBoard's."""
    model = run.model
    run.guard = NanGuard()
    run.checkpoint = AtomicCheckpoint(
        run.run_dir,
        run.history,
        run.guard,
        stateful,
        every=run.config.checkpoint_every,
        variables=lambda: [*model.weights, *optimizer_variables(model)],
    )
    run.callbacks = [
        run.guard,
        *extra,
        run.checkpoint,
        EpochSummaries(run.run_dir / "tensorboard"),
        *more_callbacks,
    ]


def _fit(run: _Run, verbose) -> None:
    """Train from the run's epoch to ``epochs`` (Keras' fit, or gentk's loop on several
    workers); a signal or the NaN guard ends it with the last checkpoint kept."""
    import tensorflow as tf

    from gentk.training import multiworker

    model, config, strategy = run.model, run.config, run.strategy
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    started = time.perf_counter()
    several = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if several:  # every worker starts from the chief's epoch and weights
        chief = multiworker.is_chief()
        run.initial_epoch = multiworker.broadcast_int(strategy, run.initial_epoch, chief)
        variables = [*model.weights, *optimizer_variables(model)]
        multiworker.broadcast_from_chief(strategy, variables, chief)
    # Keras' fit fails under MultiWorkerMirroredStrategy: gentk's loop takes its arguments
    fit = functools.partial(multiworker.fit_distributed, model, strategy) if several else model.fit
    checkpoint, guard, run_dir = run.checkpoint, run.guard, run.run_dir
    if run.initial_epoch < config.epochs:
        with stop_on_signals(checkpoint):
            fit(
                run.recipe.train_dataset(config, run.data_obj),
                validation_data=run.recipe.validation_dataset(config, run.data_obj),
                validation_freq=ValidationEpochs(config.validation_every, config.epochs),
                epochs=config.epochs,
                initial_epoch=run.initial_epoch,
                callbacks=run.callbacks,
                verbose=verbose,
                shuffle=False,  # tf.data pipelines shuffle themselves, with the seed
            )
    if checkpoint.stop_requested and not guard.tripped:
        raise Interrupted(
            f"stopped by {checkpoint.stop_requested} after epoch {checkpoint.saved_epoch}; its "
            f"checkpoint is in {run_dir / 'checkpoints'} (--resume continues)",
            signal_name=checkpoint.stop_requested,
        )
    if guard.tripped:
        epoch, batch, key, value = guard.tripped
        last = read_checkpoint_state(run_dir)
        kept = f"epoch {last['epoch']}" if last else "none yet"
        raise TrainingError(
            f"{key} became {value} at epoch {epoch}, batch {batch}; training stopped and the "
            f"last good checkpoint ({kept}) is kept in {run_dir / 'checkpoints'}; lower "
            "learning_rate or check the data, then --resume or rerun"
        )
    run.train_seconds = time.perf_counter() - started


def _finish(run: _Run) -> RunResult:
    """The recipe's last word on the weights, then ``model.keras``, ``metrics.json``, the
    training curves and the recipe's pictures (the chief's alone on several workers)."""
    import tensorflow as tf

    from gentk import plots
    from gentk.training import multiworker

    recipe, config, data_obj, run_dir = run.recipe, run.config, run.data_obj, run.run_dir
    model, history = run.model, run.history
    if isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
        if not multiworker.is_chief():
            log.info("worker done; the chief writes the model and metrics")
            return RunResult(run_dir, model, {}, history, config, data_obj)
        # evaluation, export and artifacts on a model outside the strategy (Keras' predict
        # and evaluate would need every worker), with the weights of the last checkpoint
        model = build_compiled_model(recipe, config, data_obj, tf.distribute.get_strategy())
        last = read_checkpoint_state(run_dir)
        if last is not None:
            model.load_weights(run_dir / "checkpoints" / last["weights"])
    recipe.finish_training(model, config, data_obj, run_dir)
    with atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)
        _check_loadable(recipe, read_archive_config(tmp), "model.keras")
    metrics = dict(recipe.evaluate(model, config, data_obj))
    metrics.setdefault("epochs", len(history))
    metrics["train_seconds_this_session"] = round(run.train_seconds, 3)
    atomic_write_json(run_dir / "metrics.json", metrics)
    if history:
        plots.training_curves(history, run_dir / "training_curves.png")
    recipe.write_artifacts(model, config, data_obj, run_dir)
    log.info("metrics %s", metrics)
    return RunResult(run_dir, model, metrics, history, config, data_obj)
