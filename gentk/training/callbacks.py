"""Runner callbacks: atomic checkpoints on a cadence with resume state, the NaN/inf guard, the
best epoch on validation, history.csv and the TensorBoard epoch scalars."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from gentk.atomic import (
    append_text,
    atomic_write_json,
    atomic_write_text,
    save_weights,
    sync_file,
)

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "AtomicCheckpoint",
    "BestWeights",
    "Cadence",
    "EpochSummaries",
    "ValidationEpochs",
    "NanGuard",
    "read_checkpoint_state",
    "restore_best",
    "write_history_csv",
]


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class NanGuard(keras.callbacks.Callback):
    """Stop training at the first batch whose loss (or any logged value) is NaN or infinite.

    The epoch in progress is not checkpointed, so the last good checkpoint stays the resume point.
    """

    def __init__(self):
        super().__init__()
        self.tripped: tuple[int, int, str, float] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None):
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None):
        for key, value in (logs or {}).items():
            if not _finite(value):
                self.tripped = (self._epoch + 1, batch + 1, key, float(value))
                self.model.stop_training = True
                return


class EpochSummaries(keras.callbacks.Callback):
    """Each epoch's logged values (and the learning rate) as TensorBoard scalars, laid out as
    Keras' ``TensorBoard`` callback lays them out: runs ``train/`` and ``validation/``, tags
    ``epoch_<name>``, the epoch as the step.

    It writes through TensorBoard's framework-free ``tensorboard.summary.Writer`` (about 40 us
    a value) instead of ``tf.summary`` ops (about 250 us a value, each a TensorFlow call): on
    the digits VAE Keras' callback cost 6 ms an epoch, a fifth of the epoch's train steps.
    """

    def __init__(self, log_dir: str | os.PathLike):
        super().__init__()
        self.log_dir = Path(log_dir)
        self._writers = {}

    def _writer(self, run: str):
        if run not in self._writers:
            from tensorboard.summary import Writer

            self._writers[run] = Writer(str(self.log_dir / run))
        return self._writers[run]

    def on_epoch_end(self, epoch: int, logs: dict | None = None):
        values = dict(logs or {})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in values:
            values["learning_rate"] = getattr(optimizer, "learning_rate", None)
        for key, value in values.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(run).add_scalar(f"epoch_{name}", value, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def read_checkpoint_state(run_dir: str | os.PathLike) -> dict | None:
    """The last complete checkpoint's ``state.json``, None when there is none; a damaged one
    is a one-line ``UserError`` naming it."""
    from gentk.errors import UserError

    path = Path(run_dir) / "checkpoints" / "state.json"
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a valid checkpoint record ({type(err).__name__})") from None
    if not isinstance(state, dict) or not {"epoch", "weights"} <= set(state):
        raise UserError(f"{path}: not a valid checkpoint record (missing fields)")
    if "history" not in state:  # the rows live in history.jsonl; state.json counts them
        rows = state.get("history_rows")
        if not isinstance(rows, int):
            raise UserError(f"{path}: not a valid checkpoint record (missing fields)")
        state["history"] = read_history(path.parent, rows)
    return state


HISTORY_FILE = "history.jsonl"


def read_history(checkpoints: Path, rows: int) -> list[dict]:
    """The first ``rows`` rows of ``checkpoints/history.jsonl`` (rows past them belong to an
    epoch whose checkpoint was never completed)."""
    from gentk.errors import UserError

    path = Path(checkpoints) / HISTORY_FILE
    history = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if len(history) == rows:
                    break
                history.append(json.loads(line))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a valid history ({type(err).__name__})") from None
    if len(history) != rows:
        raise UserError(f"{path}: holds {len(history)} rows; the checkpoint counts {rows}")
    return history


def _csv_columns(history: list[dict]) -> list[str]:
    keys = sorted({k for row in history for k in row} - {"epoch"})
    return (["epoch"] if any("epoch" in row for row in history) else []) + keys


def _csv_lines(keys: list[str], rows: list[dict], header: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_history_csv(path: str | os.PathLike, history: list[dict]) -> None:
    """``history.csv``: ``epoch`` first, then the other columns in alphabetical order (rows
    read back from ``state.json`` after a resume carry no order of their own)."""
    atomic_write_text(path, _csv_lines(_csv_columns(history), history, header=True))


class Cadence:
    """When work on a cadence (``gentk.config.parse_every``: ``"5"`` epochs or ``"60s"``) is due
    at an epoch's end: every N epochs, or once that much time has passed since ``restart``
    (the start of training, or the last time the work was done); always after the last epoch."""

    def __init__(self, every: str, name: str):
        from gentk.config import parse_every

        self.unit, self.every = parse_every(every, name)
        self.restart()

    def restart(self) -> None:
        self._clock = time.monotonic()

    def due(self, epoch: int, epochs: int) -> bool:
        if epoch + 1 >= epochs:
            return True
        if self.unit == "epochs":
            return (epoch + 1) % int(self.every) == 0
        return time.monotonic() - self._clock >= self.every


class ValidationEpochs(list):
    """Keras' ``validation_freq`` as a list: every ``every`` epochs and the last one (a list
    whose ``in`` is arithmetic, so a million epochs cost nothing)."""

    def __init__(self, every: int, epochs: int):
        super().__init__()
        self.every, self.epochs = int(every), int(epochs)

    def __contains__(self, epoch) -> bool:
        return epoch % self.every == 0 or epoch == self.epochs


class AtomicCheckpoint(keras.callbacks.Callback):
    """Checkpoints on a cadence: weights (with optimizer state) and ``state.json``, atomically.

    Every epoch appends its row to ``checkpoints/history.jsonl`` and ``history.csv``. When a
    checkpoint is due (``every``: ``"5"`` epochs or ``"60s"`` of training, see
    ``gentk.config.parse_every``), at the last epoch, at the end of training and after a stop
    was requested (``request_stop``: SIGINT/SIGTERM), ``checkpoints/epoch-NNNN.weights.h5`` is
    written under a temporary name and renamed; then ``state.json`` (epoch, number of history
    rows, state of stateful callbacks) is replaced the same way and points at it; only then are
    older files removed. A SIGKILL at any moment leaves a ``state.json`` that names complete
    files; a resumed run drops the rows past it and repeats those epochs exactly.

    When the ``NanGuard`` trips, the last good epoch is checkpointed from an in-memory copy of
    the variables taken at its end (``variables``: a callable returning every variable saved
    with the weights; runs whose variables exceed ``SNAPSHOT_BYTES`` keep the last cadence
    checkpoint instead).

    Args:
        run_dir: the run directory.
        history: rows already trained (from a resumed run); extended in place.
        guard: the ``NanGuard``; an epoch that tripped it is not saved.
        stateful: callbacks with ``get_state()`` / ``set_state(dict)`` whose state is saved too
            (and ``flush(checkpoints_dir)``, called first, for files they keep).
        every: the cadence.
        variables: see above; None keeps no copy.
    """

    SNAPSHOT_BYTES = 1 << 30

    def __init__(
        self,
        run_dir: Path,
        history: list[dict],
        guard: NanGuard | None = None,
        stateful: Sequence[keras.callbacks.Callback] = (),
        every: str = "1",
        variables: Sequence[tf.Variable] | None = None,
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.history = history
        self.guard = guard
        self.stateful = list(stateful)
        self.cadence = Cadence(every, "checkpoint_every")
        self.variables = variables
        self.stop_requested: str | None = None
        self.saved_epoch: int | None = None
        self._csv_keys: list[str] | None = None
        self._started = False
        self._snapshot = None
        self._read = None

    def request_stop(self, why: str) -> None:
        """Checkpoint at the end of the epoch in progress, then stop training."""
        self.stop_requested = why

    def _start(self) -> None:
        """The history files hold exactly the rows already trained (a killed run may have
        appended rows whose checkpoint it never completed)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(row) + "\n" for row in self.history)
        atomic_write_text(self.dir / HISTORY_FILE, text)
        write_history_csv(self.run_dir / "history.csv", self.history)
        self._csv_keys = _csv_columns(self.history) if self.history else None
        self._started = True

    def on_train_begin(self, logs: dict | None = None):
        self.cadence.restart()

    def _due(self, epoch: int) -> bool:
        return bool(self.stop_requested) or self.cadence.due(epoch, self.params.get("epochs", 0))

    def on_epoch_end(self, epoch: int, logs: dict | None = None):
        if self.guard is not None and self.guard.tripped:
            self._save_snapshot()
            return
        if not self._started:
            self._start()
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(row)
        # one row appended per epoch (the state stays a few hundred bytes however long the
        # run); synced with the next checkpoint, which is what a resume reads them by
        append_text(self.dir / HISTORY_FILE, json.dumps(row) + "\n", durable=False)
        if self._csv_keys is not None and set(row) <= set(self._csv_keys):
            line = _csv_lines(self._csv_keys, [row])
            append_text(self.run_dir / "history.csv", line, durable=False)
        else:  # a new column: the header changes
            self._csv_keys = _csv_columns(self.history)
            write_history_csv(self.run_dir / "history.csv", self.history)
        if self._due(epoch):
            self._save(epoch + 1)
            if self.stop_requested:
                self.model.stop_training = True
        else:
            self._snapshot = self._take_snapshot(epoch + 1)

    def on_train_end(self, logs: dict | None = None):
        done = len(self.history) and self.history[-1].get("epoch")
        if self._started and done and done != self.saved_epoch and not self._tripped():
            self._save(int(done))

    def _tripped(self) -> bool:
        return self.guard is not None and self.guard.tripped is not None

    def _take_snapshot(self, epoch: int):
        if self.variables is None:
            return None
        if self._read is None:  # one graph reads every variable: 0.5 ms, not 3 (#23 item 1)
            import tensorflow as tf

            variables = self.variables()
            if sum(4 * math.prod(v.shape) for v in variables) > self.SNAPSHOT_BYTES:
                self.variables = None  # ~4 bytes each: too large to copy every epoch
                return None
            self._read = tf.function(lambda: [tf.identity(v) for v in variables])
        return epoch, len(self.history), [t.numpy() for t in self._read()]

    def _save_snapshot(self) -> None:
        """The NaN guard tripped: the epoch before it, from the copy taken at its end."""
        if self._snapshot is None or self._snapshot[0] == self.saved_epoch:
            return
        epoch, rows, values = self._snapshot
        for variable, value in zip(self.variables(), values):
            variable.assign(value)
        del self.history[rows:]
        self._save(epoch)

    def _save(self, epoch: int) -> None:
        name = f"epoch-{epoch:04d}.weights.h5"
        save_weights(self.model, self.dir / name)
        for cb in self.stateful:  # files they keep (the best epoch's weights), then the states
            getattr(cb, "flush", lambda _: None)(self.dir)
        states = {type(cb).__name__: cb.get_state() for cb in self.stateful}
        sync_file(self.dir / HISTORY_FILE)  # the rows state.json counts are on disk first
        state = {
            "epoch": epoch,
            "weights": name,
            "history_rows": len(self.history),
            "callbacks": states,
        }
        atomic_write_json(self.dir / "state.json", state)
        self.saved_epoch, self._snapshot = epoch, None
        self.cadence.restart()
        keep = {name} | {s.get("file") for s in states.values() if isinstance(s, dict)}
        # only now may older checkpoints go, and any left by a run killed mid-write
        for old in self.dir.iterdir():
            stale = old.name.startswith(("epoch-", "best-epoch-")) or ".tmp-" in old.name
            if stale and old.name not in keep:
                old.unlink(missing_ok=True)


class BestWeights(keras.callbacks.Callback):
    """Model selection on a logged validation value: the weights of the epoch whose ``monitor``
    (e.g. ``val_loss``) is the best so far are kept in memory; each checkpoint writes them to
    ``checkpoints/best-epoch-NNNN.weights.h5`` (``flush``) and records it in its state, so a
    resumed run keeps selecting and ``restore`` loads the weights that checkpoint chose.
    Epochs without the value (not validated, ``validation_every``) are skipped."""

    def __init__(self, run_dir: str | os.PathLike, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        self.dir = Path(run_dir) / "checkpoints"
        self.monitor, self.sign = monitor, (1.0 if mode == "min" else -1.0)
        self.best: float | None = None  # the best value so far, and its epoch
        self.best_epoch = 0
        self.file: str | None = None
        self._values = None  # the best epoch's weights, not yet written

    def value(self, epoch: int, logs: dict[str, float]):
        """The monitored value of this epoch, or None."""
        return (logs or {}).get(self.monitor)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None):
        value = self.value(epoch, logs)
        if value is None or not _finite(value):
            return
        if self.best is None or self.sign * float(value) < self.sign * self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self._values = [v.numpy() for v in self.model.weights]
            self.improved(epoch)

    def improved(self, epoch: int) -> None:
        """Called when ``epoch`` became the best (subclasses record more)."""

    def flush(self, checkpoints: Path) -> None:
        """Write the best weights not yet written (the model's own are put back after)."""
        if self._values is None:
            return
        current = [v.numpy() for v in self.model.weights]
        name = f"best-epoch-{self.best_epoch:04d}.weights.h5"
        try:
            for variable, value in zip(self.model.weights, self._values):
                variable.assign(value)
            save_weights(self.model, Path(checkpoints) / name)
        finally:
            for variable, value in zip(self.model.weights, current):
                variable.assign(value)
        self.file, self._values = name, None

    def get_state(self):
        return {"best": self.best, "epoch": self.best_epoch, "file": self.file}

    def set_state(self, state: dict[str, Any]):
        best = state.get("best")
        self.best = None if best is None else float(best)
        self.best_epoch = int(state.get("epoch", 0))
        self.file = state.get("file")

    @staticmethod
    def restore(model: keras.Model, run_dir: str | os.PathLike) -> bool:
        """Load into ``model`` the best weights the run's last checkpoint recorded (or an older
        run's ``best.weights.h5``); whether there were any."""
        return restore_best(model, run_dir)


def restore_best(model: keras.Model, run_dir: str | os.PathLike) -> bool:
    """``BestWeights.restore`` for any callback whose checkpointed state names a ``file``."""
    checkpoints = Path(run_dir) / "checkpoints"
    state = read_checkpoint_state(run_dir) or {}
    for entry in state.get("callbacks", {}).values():
        if isinstance(entry, dict) and entry.get("file"):
            model.load_weights(checkpoints / entry["file"])
            return True
    old = checkpoints / "best.weights.h5"  # runs whose checkpoints did not name it yet
    if old.exists():
        model.load_weights(old)
        return True
    return False
