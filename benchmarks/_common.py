"""Helpers shared by the benchmark scripts: locating ../shared/data, printing tables, timing
epochs, a timed gentk run, and running a peer library's script in its own environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def movielens_file(name: str) -> Path:
    """A path the interaction loader reads for ``ml-100k``, ``ml-1m`` or ``ml-latest-small``.

    ML-1M is stored as five disjoint folds (see shared/data/README.md); they are joined into a
    temporary file, never into the repository.
    """
    if name == "ml-100k":
        return SHARED / "ml-100k" / "u.data"
    if name == "ml-latest-small":
        return SHARED / "ml-latest-small" / "ratings.csv"
    if name == "ml-1m":
        parts = sorted((SHARED / "ml-1m").glob("test_1m*.dat"))
        if not parts:
            raise SystemExit(f"ML-1M folds not found under {SHARED / 'ml-1m'}")
        joined = Path(tempfile.gettempdir()) / "gentk-ml-1m-ratings.csv"
        if not joined.exists():
            joined.write_text("".join(p.read_text() for p in parts))
        return joined
    raise SystemExit(f"unknown dataset {name!r}")


def mnist_files() -> tuple[Path, Path]:
    """(train images, test images) IDX paths of MNIST from ../shared/data, labels beside them.

    The training images are stored in parts (no file over 4 MiB); they are joined into a
    temporary folder with the labels, never into the repository.
    """
    folder = SHARED / "mnist"
    parts = sorted(folder.glob("train-images-idx3-ubyte.gz.part-*"))
    if not parts or not (folder / "t10k-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"MNIST not found under {folder}")
    out = Path(tempfile.gettempdir()) / "gentk" / "mnist"  # fd_mnist: named by its folder
    out.mkdir(parents=True, exist_ok=True)
    train = out / "train-images-idx3-ubyte.gz"
    if not train.exists():
        train.write_bytes(b"".join(p.read_bytes() for p in parts))
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if not (out / name).exists():
            (out / name).write_bytes((folder / name).read_bytes())
    return train, folder / "t10k-images-idx3-ubyte.gz"


def table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(f"{r.get(c, '')}") for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        lines.append("  ".join(f"{r.get(c, '')}".ljust(widths[c]) for c in columns))
    return "\n".join(lines)


def epoch_timer():
    """A Keras callback recording each epoch's seconds in ``.seconds`` (the first epoch
    traces the step: time the others)."""
    import time

    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    return EpochTimer()


def require_peer(python: str, modules: list[str]) -> None:
    """Stop with one line, before any run, unless ``python`` is an interpreter that imports
    every one of ``modules`` (the peer benchmarks' ``--peer-python``)."""
    import subprocess

    try:
        done = subprocess.run([python, "-c", f"import {', '.join(modules)}"],
                              capture_output=True, text=True, check=False)  # fmt: skip
    except OSError as error:
        raise SystemExit(f"--peer-python {python}: cannot run it ({error.strerror})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["it failed"])[-1]
        raise SystemExit(f"--peer-python {python}: needs {', '.join(modules)} ({last})")


def run_peer(python: str, script: str, spec: dict, arrays: dict, what: str) -> dict:
    """Run a peer's ``script`` under ``python`` (an interpreter of another environment, e.g.
    with torch) as ``python -c script SPEC``: ``spec`` as JSON, with ``spec["data"]`` the path
    of an NPZ file of ``arrays`` and ``spec["out"]`` a path the script may save one array to
    (returned as ``result["out"]``). The script prints its JSON result on its last line."""
    import json
    import subprocess

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "out.npy"
        np.savez(data, **arrays)
        spec = {**spec, "data": str(data), "out": str(out)}
        done = subprocess.run([python, "-c", script, json.dumps(spec)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the {what} run failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if out.exists():
            result["out"] = np.load(out)
    return result


def run_gentk(model: str, data, epochs: int, seed: int, overrides: list[str]):
    """``gentk.run`` of the registered ``model`` on ``data`` into a temporary folder, timed
    whole: (its ``RunResult``, a dict of ``seconds``, ``first_epoch`` and ``steady_epoch``,
    the median of the later epochs). The libraries a run imports are imported before the
    clock starts, as a peer script's ``import torch, zuko`` is: TensorFlow Probability loads
    its distributions and bijectors on first use (0.6 s here, 0.3 s of it ``distutils`` and
    ``tf_keras`` that TFP pulls in), so they are touched here."""
    import statistics
    import time

    import matplotlib.pyplot  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import tensorflow_probability as tfp

    tfp.distributions.Normal, tfp.bijectors.Shift  # noqa: B018 (lazy modules: load them now)

    import gentk
    from gentk.plugins import get_registry

    clock = epoch_timer()
    recipe = get_registry().get("model", model).factory
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = gentk.run(recipe, data=data, verbose=0, output=f"{tmp}/run", epochs=epochs,
                           seed=seed, overrides=overrides, callbacks=[clock])  # fmt: skip
        seconds = time.perf_counter() - started
    later = clock.seconds[1:] or clock.seconds
    return result, {"seconds": seconds, "first_epoch": clock.seconds[0],
                    "steady_epoch": statistics.median(later)}  # fmt: skip
