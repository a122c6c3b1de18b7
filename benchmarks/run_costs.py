"""Where a run's time goes, per recipe with its defaults: train steps, validation, checkpoints,
progress pictures, best-epoch weights and TensorBoard, measured inside one ``gentk.run`` on the
recipe's default data (#23 item 1: the fixed costs should stay under 10% of training time).

    python benchmarks/run_costs.py                          # gan, realnvp, maf, nsf, vae, dcgan
    python benchmarks/run_costs.py gan vae --set checkpoint_every=1   # the old every-epoch cadence

The first epoch (tracing) is reported apart; shares are of the fit time after it.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from _common import table

DEFAULT = ["gan", "realnvp", "maf", "nsf", "vae", "dcgan"]


def _timed(cls, method, bucket, spent):
    original = getattr(cls, method)

    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            if spent["epoch"] > 0:  # the first epoch is reported apart
                spent[bucket] += time.perf_counter() - start
                spent[bucket + "_n"] += 1

    setattr(cls, method, wrapper)


SPENT: collections.defaultdict = collections.defaultdict(float)


def instrument() -> None:
    """Time the callbacks' epoch work into ``SPENT`` (once per process)."""
    import keras

    from gentk.training import callbacks as gentk_callbacks

    spent = SPENT
    _timed(gentk_callbacks.AtomicCheckpoint, "on_epoch_end", "checkpoint", spent)
    _timed(gentk_callbacks.AtomicCheckpoint, "on_train_end", "checkpoint", spent)
    _timed(gentk_callbacks.AtomicCheckpoint, "_save", "writes", spent)
    _timed(gentk_callbacks.BestWeights, "on_epoch_end", "best_epoch", spent)
    _timed(keras.callbacks.TensorBoard, "on_epoch_end", "tensorboard", spent)
    try:
        from gentk_gan.progress import SampleGrid

        _timed(SampleGrid, "on_epoch_end", "pictures", spent)
    except ImportError:
        pass


def measure(name: str, overrides: list[str]) -> dict:
    import keras

    import gentk
    from gentk.plugins import get_registry

    SPENT.clear()
    spent = SPENT

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            spent["epoch"] = epoch
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            took = time.perf_counter() - self.epoch_start
            spent["first_epoch" if epoch == 0 else "fit"] += took

        def on_train_batch_begin(self, batch, logs=None):
            self.batch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if spent["epoch"] > 0:
                spent["train_steps"] += time.perf_counter() - self.batch_start

        def on_test_begin(self, logs=None):
            self.test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            took = time.perf_counter() - self.test_start
            if spent["validations"] == 0:  # the first traces the test step: a one-time cost
                spent["first_validation"] = took
                if spent["epoch"] > 0:  # inside a timed epoch: taken out of the fit time
                    spent["fit"] -= took
            elif spent["epoch"] > 0:
                spent["validation"] += took
            spent["validations"] += 1

    recipe = get_registry().get("model", name).factory
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = gentk.run(
            recipe, output=Path(tmp) / "run", verbose=0, overrides=overrides, callbacks=[clock]
        )
        total = time.perf_counter() - start
    # the clock is the last callback: the time of the ones before it is inside its epoch
    fit = spent["fit"]
    fixed = sum(spent[k] for k in ("validation", "checkpoint", "pictures", "best_epoch"))
    row = {
        "recipe": name,
        "epochs": len(result.history),
        "run_s": f"{total:.1f}",
        "first_epoch_s": f"{spent['first_epoch']:.2f}",
        "fit_s": f"{fit:.2f}",
        "steps_s": f"{spent['train_steps']:.2f}",
        "first_val_s": f"{spent['first_validation']:.2f}",
        "validations": int(spent["validations"]),
        "checkpoints": int(spent["writes_n"]),
        "writes_s": f"{spent['writes']:.2f}",
    }
    for key in ("validation", "checkpoint", "pictures", "best_epoch", "tensorboard"):
        row[key] = f"{100 * spent[key] / fit:.1f}%" if fit else "-"
    row["fixed"] = f"{100 * fixed / fit:.1f}%" if fit else "-"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=DEFAULT)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    instrument()
    rows = [measure(name, args.overrides) for name in args.recipes]
    columns = ["recipe", "epochs", "run_s", "first_epoch_s", "first_val_s", "fit_s", "steps_s",
               "validations", "validation", "checkpoints", "writes_s", "checkpoint", "pictures",
               "best_epoch", "tensorboard", "fixed"]  # fmt: skip
    print(table(rows, columns))
    print("shares of the fit time after the first epoch (and the first validation, which traces "
          "the test step); checkpoint: history rows, the in-memory copy and the checkpoint "
          "writes (always one at the end); fixed = validation + checkpoint + pictures + "
          "best_epoch")  # fmt: skip


if __name__ == "__main__":
    main()
