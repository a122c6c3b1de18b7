"""Runner callbacks: atomic checkpoints with resume state, the NaN/inf guard, and history.csv."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import keras

from gentk.saving import append_text, atomic_write_json, atomic_write_text, save_weights

__all__ = [
    "AtomicCheckpoint",
    "BestWeights",
    "NanGuard",
    "read_checkpoint_state",
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

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if not _finite(value):
                self.tripped = (self._epoch + 1, batch + 1, key, float(value))
                self.model.stop_training = True
                return


def read_checkpoint_state(run_dir) -> dict | None:
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


def read_history(checkpoints, rows: int) -> list[dict]:
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


def write_history_csv(path, history: list[dict]) -> None:
    """``history.csv``: ``epoch`` first, then the other columns in alphabetical order (rows
    read back from ``state.json`` after a resume carry no order of their own)."""
    atomic_write_text(path, _csv_lines(_csv_columns(history), history, header=True))


class AtomicCheckpoint(keras.callbacks.Callback):
    """After every complete epoch: weights (with optimizer state) and ``state.json``, atomically.

    ``checkpoints/epoch-NNNN.weights.h5`` is written under a temporary name and renamed; then
    ``state.json`` (epoch, history, extra state of stateful callbacks) is replaced the same way
    and points at it; only then is the previous file removed. A SIGKILL at any moment leaves a
    ``state.json`` that names a complete file.

    Args:
        run_dir: the run directory.
        history: rows already trained (from a resumed run); extended in place.
        guard: the ``NanGuard``; an epoch that tripped it is not saved.
        stateful: callbacks with ``get_state()`` / ``set_state(dict)`` whose state is saved too.
    """

    def __init__(self, run_dir, history: list[dict], guard: NanGuard | None = None, stateful=()):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.history = history
        self.guard = guard
        self.stateful = list(stateful)
        self._csv_keys: list[str] | None = None
        self._started = False

    def _start(self) -> None:
        """The history files hold exactly the rows already trained (a killed run may have
        appended a row whose checkpoint it never completed)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(row) + "\n" for row in self.history)
        atomic_write_text(self.dir / HISTORY_FILE, text)
        write_history_csv(self.run_dir / "history.csv", self.history)
        self._csv_keys = _csv_columns(self.history) if self.history else None
        self._started = True

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.tripped:
            return
        if not self._started:
            self._start()
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        for cb in self.stateful:
            row.update(getattr(cb, "epoch_logs", lambda: {})())
        self.history.append(row)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        save_weights(self.model, self.dir / name)
        # one row appended per epoch (the state stays a few hundred bytes however long the run)
        append_text(self.dir / HISTORY_FILE, json.dumps(row) + "\n")
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "history_rows": len(self.history),
            "callbacks": {type(cb).__name__: cb.get_state() for cb in self.stateful},
        }
        atomic_write_json(self.dir / "state.json", state)
        if _csv_columns([row]) == self._csv_keys:  # same columns: one more line
            append_text(self.run_dir / "history.csv", _csv_lines(self._csv_keys, [row]))
        else:
            write_history_csv(self.run_dir / "history.csv", self.history)
            self._csv_keys = _csv_columns(self.history)
        # only now may older checkpoints go, and any left by a run killed mid-write
        for old in self.dir.iterdir():
            if old.name != name and (old.name.startswith("epoch-") or ".tmp-" in old.name):
                old.unlink(missing_ok=True)


class BestWeights(keras.callbacks.Callback):
    """Model selection on a logged validation value: after every epoch whose ``monitor`` (e.g.
    ``val_loss``) beats the best so far, the weights are written atomically to
    ``checkpoints/best.weights.h5``; ``restore`` loads them after training. Its state (best
    value and epoch) is saved with each checkpoint, so a resumed run keeps selecting."""

    def __init__(self, run_dir, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        self.path = Path(run_dir) / "checkpoints" / "best.weights.h5"
        self.monitor, self.sign = monitor, (1.0 if mode == "min" else -1.0)
        self.best, self.best_epoch = math.inf, 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not _finite(value):
            return
        if self.sign * float(value) < self.best:
            self.best, self.best_epoch = self.sign * float(value), epoch + 1
            save_weights(self.model, self.path)

    def get_state(self):
        return {"best": self.best if math.isfinite(self.best) else None, "epoch": self.best_epoch}

    def set_state(self, state):
        best = state.get("best")
        self.best = math.inf if best is None else float(best)
        self.best_epoch = int(state.get("epoch", 0))

    @staticmethod
    def restore(model, run_dir) -> bool:
        """Load the best weights into ``model`` if a run wrote them; whether it did."""
        path = Path(run_dir) / "checkpoints" / "best.weights.h5"
        if path.exists():
            model.load_weights(path)
            return True
        return False
