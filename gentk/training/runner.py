"""The runner behind ``gentk run``: one run directory, trained, checkpointed, evaluated, written.

Layout of a run directory (see ARCHITECTURE.md): ``config.toml``, ``model.keras``,
``checkpoints/``, ``history.csv``, ``metrics.json``, ``tensorboard/``, PNG plots,
model-specific outputs and ``run.log``. Every file is written under a temporary name and
renamed, so a killed run never leaves a truncated output.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from gentk.config import config_to_toml, resolve_config
from gentk.errors import TrainingError, UserError
from gentk.saving import atomic_path, atomic_write_json, atomic_write_text
from gentk.training.callbacks import AtomicCheckpoint, NanGuard, read_checkpoint_state

__all__ = ["RunResult", "run", "prepare_run_dir", "build_compiled_model", "seed_everything"]

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


# what a run that failed before its first checkpoint leaves; such a directory may be reused
_START_FILES = {"config.toml", "run.json", "run.log", "tensorboard"}


def prepare_run_dir(run_dir: Path, *, resume: bool, force: bool) -> dict | None:
    """Check what ``run_dir`` holds; return the checkpoint state when resuming.

    A directory holding only what a failed start writes (config, run.json, log) is reused, so
    fixing a bad data file and running again needs no ``--force``.
    """
    names = {p.name for p in run_dir.iterdir()} if run_dir.exists() else set()
    if resume:
        state = read_checkpoint_state(run_dir) if names else None
        if state is None:
            raise UserError(f"--resume: {run_dir} holds no checkpoint to resume from")
        return state
    failed_start = "run.json" in names and names <= _START_FILES
    if names and not (force or failed_start):
        raise UserError(
            f"output directory {run_dir} already holds files; pass --resume to continue "
            "that run or --force to replace it"
        )
    if names:
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


def _attach_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("gentk")
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return handler


def build_compiled_model(recipe, config, data, strategy=None):
    """Build, compile and call the model on one batch so it is built before any save."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    jit = bool(config.jit_compile and recipe.supports_jit and strategy.num_replicas_in_sync == 1)
    with strategy.scope():
        model = recipe.build(config, data)
        recipe.compile(model, config, jit_compile=jit)
        batch = next(iter(recipe.train_dataset(config, data)))
        x = batch[0] if isinstance(batch, tuple) else batch
        model(x)  # builds every layer: an unbuilt subclassed model saves no weights
        model.optimizer.build(model.trainable_variables)
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
    **direct,
) -> RunResult:
    """Train ``recipe`` into ``output`` and return the model, metrics and history.

    Args:
        recipe: a registered ``Recipe``.
        config: a resolved config; if None it is resolved from ``config_path``, ``overrides``
            and ``direct`` (epochs=..., seed=...), or read back from the run when resuming.
        data: a file or folder path, data a registered dataset loader returned, or None for
            the recipe's embedded default data.
        data_label: what ``run.json`` records as the data (a dataset name); default the path.
        output: the run directory.
        resume: continue the run in ``output`` from its last complete checkpoint.
        force: replace whatever ``output`` holds.
        verbose: Keras progress (1 bar, 2 a line per epoch, 0 none); default by terminal.
    """
    import keras

    from gentk import plots
    from gentk.training.strategy import select_strategy

    run_dir = Path(output)
    state = prepare_run_dir(run_dir, resume=resume, force=force)
    if config is None:
        if state is not None:
            config_path = run_dir / "config.toml"
        config = resolve_config(recipe.config, config_path, overrides, **direct)
    handler = _attach_log(run_dir)
    try:
        log.info("run %s into %s (resume=%s)", recipe.name, run_dir, resume)
        atomic_write_text(run_dir / "config.toml", config_to_toml(config))
        if state is None:
            from gentk import __version__

            atomic_write_json(
                run_dir / "run.json",
                {
                    "model": recipe.name,
                    "data": data_label
                    if data_label is not None
                    else (
                        str(Path(data).resolve()) if isinstance(data, (str, os.PathLike)) else None
                    ),
                    "gentk_version": __version__,
                },
            )
        seed_everything(config.seed)
        data_obj = recipe.load_data(config, data)
        shape = getattr(data_obj, "shape", None)
        if state is None and isinstance(shape, tuple):
            meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
            atomic_write_json(run_dir / "run.json", {**meta, "data_shape": list(shape)})
        strategy = select_strategy(getattr(config, "distribute", "auto"))
        model = build_compiled_model(recipe, config, data_obj, strategy)
        log.info(
            "model %s with %d parameters, %d replica(s)",
            type(model).__name__,
            model.count_params(),
            strategy.num_replicas_in_sync,
        )
        history: list[dict] = []
        initial_epoch = 0
        guard = NanGuard()
        extra = recipe.callbacks(model, config, data_obj, run_dir)
        stateful = [cb for cb in extra if hasattr(cb, "get_state")]
        if state is not None:
            model.load_weights(run_dir / "checkpoints" / state["weights"])
            # the optimizer state holds the learning rate; the (possibly overridden) config wins
            if hasattr(config, "learning_rate"):
                model.optimizer.learning_rate = config.learning_rate
            initial_epoch = int(state["epoch"])
            history = list(state["history"])
            for cb in stateful:
                cb.set_state(state.get("callbacks", {}).get(type(cb).__name__, {}))
            log.info("resumed after epoch %d", initial_epoch)
        callbacks = [
            guard,
            *extra,
            AtomicCheckpoint(run_dir, history, guard, stateful),
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False),
        ]
        if verbose is None:
            verbose = 1 if sys.stdout.isatty() else 2
        started = time.perf_counter()
        if initial_epoch < config.epochs:
            model.fit(
                recipe.train_dataset(config, data_obj),
                validation_data=recipe.validation_dataset(config, data_obj),
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # tf.data pipelines shuffle themselves, with the seed
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
        train_seconds = time.perf_counter() - started
        recipe.finish_training(model, config, data_obj, run_dir)
        with atomic_path(run_dir / "model.keras") as tmp:
            model.save(tmp)
        metrics = dict(recipe.evaluate(model, config, data_obj))
        metrics.setdefault("epochs", len(history))
        metrics["train_seconds_this_session"] = round(train_seconds, 3)
        atomic_write_json(run_dir / "metrics.json", metrics)
        if history:
            plots.training_curves(history, run_dir / "training_curves.png")
        recipe.write_artifacts(model, config, data_obj, run_dir)
        log.info("metrics %s", metrics)
        return RunResult(run_dir, model, metrics, history, config, data_obj)
    finally:
        logging.getLogger("gentk").removeHandler(handler)
        handler.close()
