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
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gentk.atomic import atomic_path, atomic_write_json, atomic_write_text
from gentk.config import config_to_dict, config_to_toml
from gentk.errors import DiskFullError, Interrupted, PluginError, TrainingError, UserError
from gentk.recipe import call_hook
from gentk.saving import read_archive_config, unloadable_classes
from gentk.training.callbacks import (
    AtomicCheckpoint,
    EpochSummaries,
    NanGuard,
    ValidationEpochs,
    read_checkpoint_state,
)
from gentk.training.contract import optimizer_variables, training_contract
from gentk.training.plan import (
    RunPlan,
    changed_options,
    data_fingerprint,
    plan_run,
    read_run_json,
    seed_everything,
    started_options,
    use_xla,
)
from gentk.training.rundir import RunLock, check_output_path, set_aside

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from gentk.config import TrainConfig
    from gentk.recipe import Recipe

__all__ = [
    "RunPlan",
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


def _is_default(strategy) -> bool:
    import tensorflow as tf

    return not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def build_compiled_model(
    recipe: Recipe,
    config: Any,
    data: Any,
    strategy: tf.distribute.Strategy | None = None,
    *,
    jit: bool | None = None,
    plan: RunPlan | None = None,
):
    """Build, compile and call the model on one batch so it is built before any save;
    ``plan``: the run's plan (its XLA decision, and for recipe hooks that declare it,
    ``call_hook``); ``jit``: XLA for the train step (None: the plan's decision, else
    ``use_xla``)."""
    import tensorflow as tf

    from gentk.models import GenerativeModel

    strategy = strategy or tf.distribute.get_strategy()
    if jit is None:
        jit = plan.xla if plan is not None else use_xla(recipe, config)
    several = strategy.num_replicas_in_sync > 1 or not _is_default(strategy)
    with strategy.scope():
        model = call_hook(recipe.build, config, data, plan=plan)
        # Keras compiles the whole step, strategy.run included, which XLA cannot do across
        # devices; under a strategy only each replica's forward and backward pass is compiled
        call_hook(recipe.compile, model, config, jit_compile=jit and not several, plan=plan)
        if jit and several and isinstance(model, GenerativeModel):
            model.xla_per_replica = True
        if several:  # Keras' multi-step loop fails under a mirrored strategy (TF 2.21)
            model.steps_per_execution = 1
        batch = next(iter(call_hook(recipe.train_dataset, config, data, plan=plan)))
        x = batch[0] if isinstance(batch, tuple) else batch
        model(x)  # builds every layer: an unbuilt subclassed model saves no weights
        for part in training_contract(model):  # each optimizer's state on its variables
            part.optimizer.build(part.variables)
    return model


def run(
    recipe: Recipe | str,
    config: TrainConfig | None = None,
    *,
    data: Any = None,
    output: str | os.PathLike = "runs/run",
    resume: bool = False,
    force: bool = False,
    verbose: int | None = None,
    config_path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    data_label: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    **direct: Any,
) -> RunResult:
    """Train ``recipe`` into ``output`` and return the model, metrics and history: the run is
    planned once (``gentk.training.plan.plan_run``, inside the run directory's lock), then
    carried out.

    Args:
        recipe: a registered ``Recipe``, or its name (``"recommender-vae"``).
        config: a resolved config; if None it is resolved from ``config_path``, ``overrides``
            and ``direct`` (epochs=..., seed=...), or read back from the run when resuming.
        data: a file or folder path, a registered dataset's name (``"digits"``), data a
            dataset loader returned, or None for the recipe's embedded default data.
        data_label: what ``run.json`` records as the data (default: the dataset's name, or
            the path).
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
    make_plan = functools.partial(
        plan_run, recipe, config, data=data, resume=resume, force=force, verbose=verbose,
        config_path=config_path, overrides=overrides, data_label=data_label, direct=direct,
        callbacks=callbacks,
    )  # fmt: skip
    if cluster_workers() > 1:
        multi_worker_strategy()  # before any TensorFlow operation (see its docstring)
        with multiworker_errors():
            return _run_cluster(make_plan, run_dir, verbose)
    with RunLock(run_dir), progress.quiet(verbose == 0):  # planned inside the run's lock
        return _run_planned(make_plan(run_dir=run_dir))


def _run_cluster(make_plan, run_dir: Path, verbose) -> RunResult:
    """One worker of a multi-worker run: the chief as a one-process run, the others into a
    scratch directory (the chief writes the run). ``make_plan(run_dir=..., **changes)`` plans
    it (``plan_run`` with the run's request bound)."""
    import tempfile

    from gentk import progress
    from gentk.training.multiworker import is_chief

    if is_chief():
        with RunLock(run_dir), progress.quiet(verbose == 0):
            return _run_planned(make_plan(run_dir=run_dir))
    with tempfile.TemporaryDirectory(prefix="gentk-worker-") as scratch:
        with progress.quiet(True):  # the chief shows the progress
            return _run_planned(
                make_plan(run_dir=Path(scratch) / "run", chief_dir=run_dir, force=False, verbose=0)
            )


def _check_loadable(recipe, config_or_model, what: str) -> None:
    """Refuse a model whose classes a fresh process could not import (see ``load_model``)."""
    bad = unloadable_classes(config_or_model)
    if bad:
        raise PluginError(
            f"model {recipe.name!r}: {', '.join(bad)} is defined outside gentk and the plugin "
            f"packages, so {what} could not be loaded by another process; define and register "
            "the class in the plugin's package"
        )


def _run_planned(plan: RunPlan) -> RunResult:
    """Carry out ``plan``: the run directory made (the old one set aside on ``replace``, and
    brought back if the new run fails before its first checkpoint), ``run.log`` attached, the
    run trained under its dtype policy."""
    run_dir = plan.run_dir
    backup = None
    if plan.action == "replace":
        backup = set_aside(run_dir)
    elif plan.action == "new" and run_dir.exists():
        shutil.rmtree(run_dir)  # what a failed start left
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = _attach_log(run_dir)
    try:
        with dtype_policy(plan.config.precision):
            result = _train(plan)
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


@contextlib.contextmanager
def stop_on_signals(checkpoint: AtomicCheckpoint):
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
    """One run's own state while it trains, beside its frozen plan (never kept on the recipe
    the registry shares)."""

    plan: RunPlan
    model: Any = None
    strategy: Any = None
    history: list = dataclasses.field(default_factory=list)
    initial_epoch: int = 0
    guard: Any = None
    checkpoint: Any = None
    callbacks: list = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0

    @property
    def recipe(self):
        return self.plan.recipe

    @property
    def config(self):
        return self.plan.config

    @property
    def data_obj(self):
        return self.plan.data_obj

    @property
    def run_dir(self) -> Path:
        return self.plan.run_dir


def _train(plan: RunPlan) -> RunResult:
    """The life of a run: its files, the model, its checkpoint (on --resume), the fit, then
    the model, metrics and pictures."""
    log.info("run %s into %s (resume=%s)", plan.recipe.name, plan.run_dir, plan.resuming)
    meta = plan.meta if plan.resuming else _write_run_files(plan)
    run = _Run(plan)
    _build(run)
    extra = call_hook(
        plan.recipe.callbacks, run.model, plan.config, plan.data_obj, plan.run_dir, plan=plan
    )
    stateful = [cb for cb in extra if hasattr(cb, "get_state")]
    if plan.resuming:
        _restore(run, meta, stateful)
    _set_callbacks(run, extra, stateful)
    _fit(run)
    return _finish(run)


def _write_run_files(plan: RunPlan) -> dict:
    """``config.toml`` and ``run.json`` (what was trained on what) of a new run."""
    from gentk import __version__

    config, data = plan.config, plan.data
    atomic_write_text(plan.run_dir / "config.toml", config_to_toml(config))
    if plan.data_label is not None:
        label = plan.data_label
    else:
        label = str(Path(data).resolve()) if isinstance(data, (str, os.PathLike)) else None
    meta = {
        "model": plan.recipe.name,
        "data": label,
        "data_sha256": data_fingerprint(data),
        "gentk_version": __version__,
        "config": config_to_dict(config),
    }
    shape = getattr(plan.data_obj, "shape", None)
    if isinstance(shape, tuple):
        meta["data_shape"] = list(shape)
    atomic_write_json(plan.run_dir / "run.json", meta)
    return meta


def _build(run: _Run) -> None:
    """The compiled, built model under the run's strategy, checked loadable before training."""
    import keras

    from gentk.training.strategy import select_strategy

    config = run.config
    run.strategy = select_strategy(getattr(config, "distribute", "auto"), run.recipe, config)
    run.model = build_compiled_model(run.recipe, config, run.data_obj, run.strategy, plan=run.plan)
    _check_loadable(run.recipe, keras.saving.serialize_keras_object(run.model), "its model.keras")
    log.info(
        "model %s with %d parameters, %d replica(s)",
        type(run.model).__name__,
        run.model.count_params(),
        run.strategy.num_replicas_in_sync,
    )


def _restore(run: _Run, meta, stateful) -> None:
    """--resume: the checkpoint's weights and optimizer state, epoch, history and callback
    states; the config (options that fit the checkpoint) replaces the run's own."""
    model, config, run_dir, plan = run.model, run.config, run.run_dir, run.plan
    state = plan.state
    try:
        model.load_weights(plan.source / "checkpoints" / state["weights"])
    except (ValueError, KeyError) as err:
        changed = changed_options(started_options(plan), config)
        raise UserError(
            f"--resume: checkpoint {state['weights']} does not fit the model built from "
            f"the current options (changed: {', '.join(changed) or 'none'}); resume with "
            "the run's own options or start a new run"
        ) from err
    # only a config that fits the checkpoint replaces the run's own
    atomic_write_text(run_dir / "config.toml", config_to_toml(config))
    if meta is not None and plan.source == run_dir:
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


def _set_callbacks(run: _Run, extra, stateful) -> None:
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
        *run.plan.callbacks,
    ]


def _fit(run: _Run) -> None:
    """Train from the run's epoch to ``epochs`` (Keras' fit, or gentk's loop on several
    workers); a signal or the NaN guard ends it with the last checkpoint kept."""
    import tensorflow as tf

    from gentk.training import multiworker

    model, config, strategy = run.model, run.config, run.strategy
    verbose = run.plan.verbose
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
                call_hook(run.recipe.train_dataset, config, run.data_obj, plan=run.plan),
                validation_data=call_hook(
                    run.recipe.validation_dataset, config, run.data_obj, plan=run.plan
                ),
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
        model = build_compiled_model(
            recipe, config, data_obj, tf.distribute.get_strategy(), plan=run.plan
        )
        last = read_checkpoint_state(run_dir)
        if last is not None:
            model.load_weights(run_dir / "checkpoints" / last["weights"])
    call_hook(recipe.finish_training, model, config, data_obj, run_dir, plan=run.plan)
    with atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)
        _check_loadable(recipe, read_archive_config(tmp), "model.keras")
    metrics = dict(call_hook(recipe.evaluate, model, config, data_obj, plan=run.plan))
    metrics.setdefault("epochs", len(history))
    metrics["train_seconds_this_session"] = round(run.train_seconds, 3)
    atomic_write_json(run_dir / "metrics.json", metrics)
    if history:
        plots.training_curves(history, run_dir / "training_curves.png")
    call_hook(recipe.write_artifacts, model, config, data_obj, run_dir, plan=run.plan)
    log.info("metrics %s", metrics)
    return RunResult(run_dir, model, metrics, history, config, data_obj)
