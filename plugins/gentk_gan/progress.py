"""The GAN's progress pictures: samples of fixed noise drawn on a cadence (a grid of images, or
a scatter of 2-D points over the data)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gentk.api import Cadence

__all__ = ["SampleGrid", "picture"]


class SampleGrid(keras.callbacks.Callback):
    """Samples of the same fixed noise on a cadence (``every``: ``"5"`` epochs or ``"30s"`` of
    training, see ``gentk.config.parse_every``) and after the last epoch:
    ``progress/epoch-NNNN.png`` (a grid of images, or a scatter of 2-D points over the data)."""

    def __init__(self, run_dir: Path, data: Any, n: int = 64, seed: int = 0, every: str = "1"):
        super().__init__()
        self.dir = Path(run_dir) / "progress"
        self.data = data
        self.n = n
        self.seed = seed
        self.cadence = Cadence(every, "progress_every")

    def on_train_begin(self, logs: dict | None = None):
        self.cadence.restart()  # the first picture comes after `every` of training

    def on_epoch_end(self, epoch: int, logs: dict | None = None):
        if not self.cadence.due(epoch, self.params.get("epochs", 0)):
            return
        self.cadence.restart()
        samples = np.asarray(self.model.sample(self.n if self._images() else 500, seed=self.seed))
        if not np.all(np.isfinite(samples)):
            return  # a diverged epoch: the NaN guard reports it; nothing to draw
        picture(samples, self.data, self.dir / f"epoch-{epoch + 1:04d}.png", f"epoch {epoch + 1}")

    def _images(self):
        return len(self.data.shape) >= 2


def picture(samples: np.ndarray, data: Any, path: str | os.PathLike, title: str):
    from gentk.api import plots

    if samples.ndim >= 3:
        plots.image_grid(samples[:64], path, title=title)
    else:
        plots.scatter_over(samples, data.test, path, title=title)
