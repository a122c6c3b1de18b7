"""Hyperparameter search over any registered recipe (``gentk tune``), on Optuna.

Every trial is an ordinary run directory (``STUDY/trial-NNN``: config, checkpoints, metrics,
plots) trained by ``gentk.training.runner.run``. Optuna's TPE sampler proposes the values,
its median pruner stops trials whose per-epoch validation metric falls behind the others', and
its journal file (``STUDY/journal.log``) is the study's storage, so a killed study resumes: the
interrupted trial is retried with the same values in its own run directory, continuing from
its last checkpoint. After every trial ``study.csv``, ``study.png`` (metric per trial and the
best so far) and ``best.json`` are rewritten atomically.

Why Optuna rather than KerasTuner: trials here are whole gentk runs (data loading, model
selection, evaluation, artifacts), not ``model.fit`` calls on a hypermodel; Optuna asks for a
value and a pruning decision per epoch and nothing else, and its append-only journal survives
SIGKILL without a database server.

The metric is the recipe's ``tune_metric`` (``val_loss`` to minimise unless a recipe says
otherwise; ``val_ndcg@100`` to maximise for the recommenders) or ``metric=``: a key of the
epoch logs (reported every epoch, prunable) or of ``metrics.json`` (read at the end). A
recipe that keeps its best epoch (``keeps_best_epoch``) is scored by its best epoch, any other
by its last.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gentk.errors import TrainingError, UserError

if TYPE_CHECKING:
    import optuna

    from gentk.recipe import Recipe

__all__ = ["Dimension", "parse_space", "tune"]


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched option: ``choices`` (strings, as ``--set`` takes them) or a range."""

    name: str
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False

    def suggest(self, trial: optuna.Trial):
        """The trial's value (numbers as numbers, so ``best.json`` keeps their type)."""
        if self.choices:
            return trial.suggest_categorical(self.name, [_literal(v) for v in self.choices])
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def corners(self) -> list[str]:
        """Values that every option check must accept (each choice, both ends)."""
        if self.choices:
            return list(self.choices)
        ends = (int(self.low), int(self.high)) if self.integer else (self.low, self.high)
        return [str(v) for v in ends]

    def spec(self) -> str:
        if self.choices:
            return f"{self.name}={','.join(self.choices)}"
        return f"{self.name}={self.low:g}:{self.high:g}{':log' if self.log else ''}"


def _literal(text: str):
    """``"4"`` -> 4, ``"0.5"`` -> 0.5, anything else stays a string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_space(specs: Iterable[str]) -> list[Dimension]:
    """``key=v1,v2,...`` (choices), ``key=lo:hi`` (uniform; integers when both ends are) or
    ``key=lo:hi:log`` (log-uniform). Raises a ``UserError`` naming the bad spec."""
    dims, seen = [], set()
    for spec in specs:
        name, sep, text = spec.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise UserError(f"--space {spec!r}: expected KEY=V1,V2,... or KEY=LOW:HIGH[:log]")
        if name in seen:
            raise UserError(f"--space {spec!r}: {name} is searched twice")
        seen.add(name)
        if ":" not in text:
            choices = tuple(v.strip() for v in text.split(","))
            if any(not v for v in choices):
                raise UserError(f"--space {spec!r}: an empty choice")
            dims.append(Dimension(name, choices=choices))
            continue
        parts = text.split(":")
        log = len(parts) == 3 and parts[2].strip().lower() == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise UserError(f"--space {spec!r}: a range is LOW:HIGH or LOW:HIGH:log")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise UserError(f"--space {spec!r}: LOW and HIGH must be numbers") from None
        if not low < high or (log and low <= 0):
            raise UserError(f"--space {spec!r}: needs LOW < HIGH (and LOW > 0 with log)")
        integer = all(p.strip().lstrip("-").isdigit() for p in parts[:2])
        dims.append(Dimension(name, low=low, high=high, log=log, integer=integer))
    if not dims:
        raise UserError("nothing to search: give at least one --space KEY=...")
    return dims


def _metric_of(recipe, metric, direction):
    default = getattr(recipe, "tune_metric", ("val_loss", "minimize"))
    if metric is None:
        if default is None:
            raise UserError(
                f"model {recipe.name!r} has no default tuning metric: pass --metric KEY "
                "(a key of its epoch logs or of metrics.json) and --maximize if higher is better"
            )
        metric, direction = default[0], direction or default[1]
    return metric, direction or "minimize"


def _check_options(recipe, config_path, overrides, dims, direct) -> None:
    """Every searched value must be an option value the recipe accepts (one line if not)."""
    from gentk.config import resolve_config

    known = {f.name for f in dataclasses.fields(recipe.config)}
    for dim in dims:
        if dim.name not in known:
            from difflib import get_close_matches

            close = get_close_matches(dim.name, sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"--space: model {recipe.name!r} has no option {dim.name!r}{hint}")
        for value in dim.corners():
            try:
                resolve_config(
                    recipe.config, config_path, [*overrides, f"{dim.name}={value}"], **direct
                )
            except (UserError, ValueError) as err:
                raise UserError(f"--space {dim.spec()}: {err}") from None


def _reporter(trial, metric, prune):
    """A Keras callback (made here: keras is imported only when trials run) that reports the
    metric to the trial each epoch and stops a trial the pruner gives up on."""
    import keras
    import optuna

    class Reporter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(metric)
            if value is None or not math.isfinite(float(value)):
                return
            trial.report(float(value), epoch)
            if prune and trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch + 1}: {metric} = {float(value):.5g}")

    return Reporter()


def _trial_value(result, metric, direction, keeps_best):
    per_epoch = [h[metric] for h in result.history if metric in h and h[metric] is not None]
    per_epoch = [float(v) for v in per_epoch if math.isfinite(float(v))]
    if per_epoch:
        if keeps_best:
            return max(per_epoch) if direction == "maximize" else min(per_epoch)
        return per_epoch[-1]
    if metric in result.metrics:
        return float(result.metrics[metric])
    keys = sorted({k for h in result.history for k in h} | set(result.metrics))
    raise UserError(f"--metric {metric!r} is in neither the epoch logs nor metrics.json "
                    f"(they hold: {', '.join(keys)})")  # fmt: skip


def tune(
    recipe: Recipe,
    *,
    space: Iterable[str],
    trials: int,
    output: str | os.PathLike,
    data: Any = None,
    data_label: str | None = None,
    metric: str | None = None,
    direction: str | None = None,
    overrides: Sequence[str] = (),
    config_path: str | os.PathLike | None = None,
    prune: bool = True,
    seed: int = 0,
    echo: Callable[[str], Any] = print,
    keep_models: str = "best",
    **direct,
) -> dict:
    """Search ``space`` (``--space`` specs) with ``trials`` finished trials (completed or
    pruned) under ``output``; returns the best trial as ``best.json`` holds it."""
    import warnings

    import optuna

    from gentk.training.rundir import RunLock, check_output_path
    from gentk.training.runner import run

    dims = parse_space(space)
    metric, direction = _metric_of(recipe, metric, direction)
    _check_options(recipe, config_path, list(overrides), dims, direct)
    study_dir = check_output_path(output, "study directory")  # one lock per real directory
    spec = {
        "model": recipe.name,
        "space": [d.spec() for d in dims],
        "metric": metric,
        "direction": direction,
        "overrides": list(overrides),
        "data": data_label if data_label is not None else (str(data) if data else None),
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    with RunLock(study_dir, what="study directory"):
        study_dir.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(study_dir / "journal.log"))
        )
        # a resumed study seeds its sampler past the trials it holds: the same seed again
        # would propose the first trials' values again
        held = sum(s.n_trials for s in optuna.get_all_study_summaries(storage))
        study = optuna.create_study(
            storage=storage,
            study_name="gentk",
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=seed + 7919 * held),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
            load_if_exists=True,
        )
        stored = study.user_attrs.get("spec")
        if stored is None:
            study.set_user_attr("spec", spec)
        elif stored != spec:
            raise UserError(
                f"{study_dir} holds another study ({stored['model']}, {' '.join(stored['space'])}, "
                f"{stored['metric']}); use another --output or the same options to resume it"
            )
        _retry_interrupted(study, storage, echo)
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        keeps_best = bool(getattr(recipe, "keeps_best_epoch", False))

        def objective(trial):
            values = {d.name: d.suggest(trial) for d in dims}
            run_dir = study_dir / trial.user_attrs.get("run_dir", f"trial-{trial.number:03d}")
            trial.set_user_attr("run_dir", run_dir.name)
            resume = (run_dir / "checkpoints").is_dir() and (run_dir / "config.toml").exists()
            chosen = [*overrides, *(f"{k}={v}" for k, v in values.items())]
            started = time.perf_counter()
            try:
                result = run(
                    recipe,
                    data=data,
                    output=run_dir,
                    resume=resume,
                    force=not resume,
                    verbose=0,
                    config_path=None if resume else config_path,
                    overrides=[] if resume else chosen,
                    data_label=data_label,
                    callbacks=[_reporter(trial, metric, prune)],
                    **({} if resume else direct),
                )  # fmt: skip
            finally:
                trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
            return _trial_value(result, metric, direction, keeps_best)

        def after(study, trial):
            _write_outputs(study, study_dir, dims, metric)
            if keep_models == "best":
                _drop_models(study, study_dir)
            echo(_line(study, trial, metric))

        failed = 0  # a trial that diverges (NaN guard) fails; a new one takes its place
        while sum(t.state in finished for t in study.trials) < trials and failed <= trials:
            study.optimize(
                objective, n_trials=1, callbacks=[after], catch=(TrainingError,),
                gc_after_trial=True,
            )  # fmt: skip
            failed += study.trials[-1].state == optuna.trial.TrialState.FAIL
        _write_outputs(study, study_dir, dims, metric)
        return json.loads((study_dir / "best.json").read_text())


def _drop_models(study, study_dir: Path) -> None:
    """Delete ``model.keras`` and ``checkpoints/`` of every finished trial but the best one so
    far (a trial's model can be 100 MB); their metrics, history, config and plots stay. A
    directory a queued or running trial will use (a retried one) is left alone."""
    import shutil

    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    best = None
    if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        best = study.best_trial.user_attrs.get("run_dir")
    busy = {
        t.user_attrs.get("run_dir") for t in study.trials if t.state not in (*done,
        optuna.trial.TrialState.FAIL)
    }  # fmt: skip
    for t in study.trials:
        name = t.user_attrs.get("run_dir")
        if t.state not in done or not name or name == best or name in busy:
            continue
        (study_dir / name / "model.keras").unlink(missing_ok=True)
        shutil.rmtree(study_dir / name / "checkpoints", ignore_errors=True)


def _retry_interrupted(study, storage, echo) -> None:
    """Trials left RUNNING by a killed study (we hold the lock, so none is alive): mark them
    failed and queue their values again, in the same run directory (resumed from its
    checkpoint)."""
    import optuna

    study_id = storage.get_study_id_from_name("gentk")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        run_dir = trial.user_attrs.get("run_dir", f"trial-{trial.number:03d}")
        params = {k: v for k, v in trial.params.items()}
        study.enqueue_trial(params, user_attrs={"run_dir": str(Path(run_dir).name)})
        echo(f"trial {trial.number} was interrupted: retried in {run_dir} from its checkpoint")


def _line(study, trial, metric) -> str:
    state = trial.state.name.lower()
    value = "" if trial.value is None else f" {metric} {trial.value:.5g}"
    try:
        best = f" (best: {study.best_value:.5g}, trial {study.best_trial.number})"
    except ValueError:
        best = ""
    return f"trial {trial.number} {state}{value}{best} [{trial.user_attrs.get('run_dir', '')}]"


def _value(trial):
    """A trial's value, or a pruned trial's last reported one (None if it has neither)."""
    if trial.value is not None:
        return trial.value
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


def _write_outputs(study, study_dir: Path, dims, metric) -> None:
    import csv
    import io

    from gentk import plots
    from gentk.atomic import atomic_write_json, atomic_write_text

    rows, points = [], []
    for t in study.trials:
        value, state = _value(t), t.state.name.lower()
        if value is not None:
            points.append((t.number, value, state))
        rows.append({
            "trial": t.number, "state": state, metric: "" if value is None else f"{value:.6g}",
            "epochs": len(t.intermediate_values) or "",
            **{d.name: t.params.get(d.name, "") for d in dims},
            "run_dir": t.user_attrs.get("run_dir", ""), "seconds": t.user_attrs.get("seconds", ""),
        })  # fmt: skip
    buffer = io.StringIO()
    columns = ["trial", "state", metric, "epochs", *(d.name for d in dims), "run_dir", "seconds"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(study_dir / "study.csv", buffer.getvalue())
    best = {"trial": None, metric: None}
    if any(t.state.name == "COMPLETE" for t in study.trials):
        b = study.best_trial
        best = {"trial": b.number, metric: b.value, "params": b.params,
                "run_dir": str(study_dir / b.user_attrs.get("run_dir", ""))}  # fmt: skip
    atomic_write_json(study_dir / "best.json", best)
    maximize = study.direction.name == "MAXIMIZE"
    plots.study_progress(points, study_dir / "study.png", metric, maximize=maximize)
