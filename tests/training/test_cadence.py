"""Checkpoints, validation and progress pictures on a cadence (#23 item 1): checkpoints every N
epochs or seconds and always at the end, the last good epoch checkpointed when the NaN guard
stops, a requested stop (SIGINT/SIGTERM) checkpointed before it stops, the best epoch's weights
written with the checkpoint that chose them, and SIGTERM on a real run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from gentk.config import parse_every
from gentk.training.callbacks import (
    AtomicCheckpoint,
    BestWeights,
    NanGuard,
    ValidationEpochs,
    restore_best,
)


class _Watch(keras.callbacks.Callback):
    """After each epoch: the checkpointed epoch and the model's weights."""

    def __init__(self, run_dir):
        super().__init__()
        self.state = Path(run_dir) / "checkpoints" / "state.json"
        self.saved, self.weights = [], []

    def on_epoch_end(self, epoch, logs=None):
        saved = json.loads(self.state.read_text())["epoch"] if self.state.exists() else None
        self.saved.append(saved)
        self.weights.append([w.numpy().copy() for w in self.model.weights])


class _At(keras.callbacks.Callback):
    """Runs ``action(model)`` when epoch ``epoch`` (0-based) begins."""

    def __init__(self, epoch, action):
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.action(self)


def _fit(run_dir, epochs, every, before=lambda checkpoint: [], stateful=()):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    guard, watch = NanGuard(), _Watch(run_dir)
    checkpoint = AtomicCheckpoint(
        run_dir,
        [],
        guard,
        stateful,
        every=every,
        variables=lambda: [*model.weights, *model.optimizer.variables],
    )
    callbacks = [guard, *before(checkpoint), *stateful, checkpoint, watch]
    model.fit(x, x.sum(1, keepdims=True), batch_size=16, epochs=epochs, callbacks=callbacks,
              verbose=0)  # fmt: skip
    return model, checkpoint, watch


def test_the_cadence_grammar():
    assert parse_every("5") == ("epochs", 5)
    assert parse_every(" 60s") == ("seconds", 60.0)
    assert parse_every("1.5m") == ("seconds", 90.0)
    for bad in ("0", "-1", "s", "5x", "1.5", ""):
        with pytest.raises(ValueError, match="checkpoint_every"):
            parse_every(bad, "checkpoint_every")
    every_3 = ValidationEpochs(3, 10)
    assert [e for e in range(1, 11) if e in every_3] == [3, 6, 9, 10]


def test_checkpoints_every_n_epochs_and_always_at_the_end(tmp_path):
    _, _, watch = _fit(tmp_path, 7, "3")
    assert watch.saved == [None, None, 3, 3, 3, 6, 7]
    rows = (tmp_path / "checkpoints" / "history.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == list(range(1, 8))  # every epoch's row
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch-0007.weights.h5",
        "history.jsonl",
        "state.json",
    ]
    _, _, watch = _fit(tmp_path / "b", 4, "1h")
    assert watch.saved == [None, None, None, 4]


def test_the_nan_guard_checkpoints_the_last_good_epoch_from_memory(tmp_path):
    def poison(cb):
        cb.model.weights[0].assign(np.full((3, 1), np.nan, "float32"))

    model, checkpoint, watch = _fit(tmp_path, 8, "100", before=lambda _: [_At(3, poison)])
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 3 and state["history_rows"] == 3
    model.load_weights(tmp_path / "checkpoints" / state["weights"])
    for saved, good in zip(model.weights, watch.weights[2]):
        np.testing.assert_array_equal(saved.numpy(), good)


def test_a_requested_stop_checkpoints_the_epoch_in_progress_and_stops(tmp_path):
    def stop(checkpoint):
        return [_At(2, lambda _: checkpoint.request_stop("SIGTERM"))]

    _, checkpoint, watch = _fit(tmp_path, 50, "1h", before=stop)
    assert watch.saved == [None, None, 3] and checkpoint.saved_epoch == 3


def test_the_best_epoch_is_written_with_the_checkpoint_that_chose_it(tmp_path):
    best = BestWeights(tmp_path, "loss")
    model, _, watch = _fit(tmp_path, 6, "4", stateful=[best])
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    kept = state["callbacks"]["BestWeights"]
    assert kept["epoch"] == best.best_epoch
    assert kept["file"] == f"best-epoch-{best.best_epoch:04d}.weights.h5"
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == [kept["file"], "epoch-0006.weights.h5", "history.jsonl", "state.json"]
    for w, last in zip(model.weights, watch.weights[-1]):  # flushing put the model's back
        np.testing.assert_array_equal(w.numpy(), last)
    assert restore_best(model, tmp_path)
    for w, chosen in zip(model.weights, watch.weights[best.best_epoch - 1]):
        np.testing.assert_array_equal(w.numpy(), chosen)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_checkpoints_the_epoch_in_progress_and_resume_goes_on(tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "r"
    args = ["run", "gan", "-o", out, "--set", "hidden=8", "--epochs", "10000", "-q"]
    exe = Path(sys.executable).with_name("gentk")
    proc = subprocess.Popen([str(exe), *map(str, args)], stderr=subprocess.PIPE, text=True)
    rows = out / "checkpoints" / "history.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if rows.exists() and len(rows.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    assert not (out / "checkpoints" / "state.json").exists()  # the 60 s cadence: none yet
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert f"stopped by SIGTERM after epoch {state['epoch']}" in err
    assert state["history_rows"] == state["epoch"] >= 2
    resumed = run_cli("run", "gan", "-o", out, "--resume", "--epochs", state["epoch"] + 1, "-q")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((out / "metrics.json").read_text())["epochs"] == state["epoch"] + 1
