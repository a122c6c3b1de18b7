"""The GAN's progress pictures: samples of fixed noise drawn on a cadence (a grid of images, or
a scatter of 2-D points over the data)."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

__all__ = ["SampleGrid", "picture"]


class SampleGrid(keras.callbacks.Callback):
    """Samples of the same fixed noise on a cadence (``every``: ``"5"`` epochs or ``"30s"`` of
    training, see ``gentk.config.parse_every``) and after the last epoch:
    ``progress/epoch-NNNN.png`` (a grid of images, or a scatter of 2-D points over the data)."""

    def __init__(self, run_dir, data, n: int = 64, seed: int = 0, every: str = "1"):
        from gentk.config import parse_every

        super().__init__()
        self.dir = Path(run_dir) / "progress"
        self.data = data
        self.n = n
        self.seed = seed
        self.unit, self.every = parse_every(every, "progress_every")
        self._clock = None

    def _due(self, epoch) -> bool:
        if epoch + 1 >= self.params.get("epochs", 0):
            return True
        if self.unit == "epochs":
            return (epoch + 1) % int(self.every) == 0
        if self._clock is None:  # the first picture comes after `every` seconds
            self._clock = time.monotonic()
        return time.monotonic() - self._clock >= self.every

    def on_epoch_end(self, epoch, logs=None):
        if not self._due(epoch):
            return
        self._clock = time.monotonic()
        samples = np.asarray(self.model.sample(self.n if self._images() else 500, seed=self.seed))
        if not np.all(np.isfinite(samples)):
            return  # a diverged epoch: the NaN guard reports it; nothing to draw
        picture(samples, self.data, self.dir / f"epoch-{epoch + 1:04d}.png", f"epoch {epoch + 1}")

    def _images(self):
        return len(self.data.shape) >= 2


def picture(samples, data, path, title):
    from gentk import plots

    if samples.ndim >= 3:
        plots.image_grid(samples[:64], path, title=title)
    else:
        plots.scatter_over(samples, data.test, path, title=title)
