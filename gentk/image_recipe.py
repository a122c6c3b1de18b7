"""``ImageRecipe``: the data side every recipe of images or vectors shares (autoencoders, VAEs,
VQ-VAE, flows, GANs), with nothing of any one family in it.

Data: ``--data`` takes an image file or folder (NPZ, IDX, PNGs) or a numeric CSV; without it
the recipe trains on scikit-learn's 8x8 digits. The data are split with the seed into
train/validation/test (or take ``--validation``/``--test`` files) and fed through ``tf.data``.
Models built from a registered encoder and decoder add ``gentk.encoder_decoder``'s options,
metrics and pictures on top.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gentk.config import TrainConfig, option
from gentk.recipe import Recipe

if TYPE_CHECKING:
    import keras

__all__ = [
    "ImageDataConfig",
    "ImageSplits",
    "ImageRecipe",
    "LIKELIHOODS",
    "in_batches",
]

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned", "discretized-logistic")


def in_batches(
    fn: Callable[..., Any], *arrays, size: int = 512, what: str = "evaluating"
) -> np.ndarray:
    """``fn`` on aligned slices of ``arrays`` (a None array stays None), results concatenated;
    a progress bar (``what``) once it has run 2 s."""
    from gentk.progress import task

    n = len(arrays[0])
    parts = []
    with task(what, total=n, unit="rows") as advance:
        for i in range(0, n, size):
            parts.append(np.asarray(fn(*(None if a is None else a[i : i + size] for a in arrays))))
            advance(min(size, n - i))
    return np.concatenate(parts)


@dataclasses.dataclass
class ImageDataConfig(TrainConfig):
    """Options of every image/vector recipe: the pixel likelihood and the data."""

    likelihood: str = option(
        "bernoulli",
        "bernoulli, gaussian (fixed sigma), gaussian-learned or discretized-logistic (8-bit)",
    )
    sigma: float = option(1.0, "observation noise of the fixed-sigma Gaussian likelihood", gt=0)
    label_column: str | None = option(
        None, "label column of a CSV input (coloured latent plot)", data=True
    )
    validation_data: str | None = option(
        None,
        "file of validation rows (--validation), read as the data are: used instead of a "
        "validation split of them",
        data=True,
    )
    test_data: str | None = option(
        None,
        "file of test rows (--test), read as the data are: used instead of a test split of them",
        data=True,
    )
    validation_every: int = option(
        5,
        "validate every N epochs and after the last (the validation loss is logged, not used "
        "to pick an epoch; on digits each validation cost 15% of an epoch)",
        ge=1,
    )

    def validate(self):
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(
                f"`likelihood` must be one of {', '.join(LIKELIHOODS)}. "
                f"Received: likelihood={self.likelihood!r}"
            )
        if self.sigma <= 0:
            raise ValueError(f"`sigma` must be positive. Received: sigma={self.sigma}")


@dataclasses.dataclass
class ImageSplits:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray | None
    test_labels: np.ndarray | None
    source: str
    validation_labels: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])


class ImageRecipe(Recipe):
    """Shared data handling (reading, splitting, ``tf.data`` pipelines), components by name
    and sampling; subclasses implement ``build`` and their own results (``evaluate``,
    ``write_artifacts``, and ``latents``/``codes`` where the model encodes rows)."""

    config = ImageDataConfig
    smoke = {"epochs": 1, "batch_size": 64}

    def read_rows(self, config: ImageDataConfig, path: str | os.PathLike | None):
        """All rows of ``path`` (or the default digits, or a dataset object), unsplit: an
        object with ``x``, ``labels`` (or None) and ``source``."""
        from gentk.data import digits, load_images, read_tabular

        if path is None:
            return digits()
        if hasattr(path, "x"):  # what a registered dataset's loader returned
            return path
        if str(path).lower().endswith((".csv", ".tsv", ".txt")):
            return read_tabular(path, label_column=config.label_column)
        return load_images(path)

    def load_data(self, config: ImageDataConfig, path: str | os.PathLike | None):
        """The data split into train, validation and test rows (seeded), or, where
        ``validation_data`` / ``test_data`` name files (``--validation`` / ``--test``), those
        files' rows as that split and the data's rows for the others."""
        from gentk.data import split_indices
        from gentk.errors import UserError

        data = self.read_rows(config, path)
        held_out = {  # recipes whose config declares no such option take none
            "validation": getattr(config, "validation_data", None),
            "test": getattr(config, "test_data", None),
        }
        tr, va, te = split_indices(
            len(data.x),
            0.0 if held_out["validation"] else config.validation_fraction,
            0.0 if held_out["test"] else config.test_fraction,
            config.seed,
        )
        if len(te) == 0 and not held_out["test"]:
            raise UserError(
                f"the test split of {len(data.x)} examples is empty (test_fraction="
                f"{config.test_fraction}); the run reports test metrics: give more data, a "
                "larger test_fraction or a --test file"
            )
        labels = data.labels

        def part(index):
            return data.x[index], None if labels is None else labels[index]

        train = part(tr)
        held = {"validation": part(va), "test": part(te)}
        for split, file in held_out.items():
            if not file:
                continue
            rows = self.read_rows(config, file)
            if rows.x.shape[1:] != data.x.shape[1:]:
                raise UserError(
                    f"{file}: {split} rows of shape {rows.x.shape[1:]} do not match the "
                    f"training data's {data.x.shape[1:]} ({data.source})"
                )
            if len(rows.x) == 0:
                raise UserError(f"{file}: the {split} file holds no rows")
            if (rows.labels is None) != (labels is None):
                has = "has" if labels is not None else "has no"
                raise UserError(
                    f"{file}: the training data {has} labels and the {split} rows must match "
                    "(the same label_column, or images saved with or without their labels)"
                )
            held[split] = (rows.x.astype(data.x.dtype, copy=False), rows.labels)
        return ImageSplits(
            train[0],
            held["validation"][0],
            held["test"][0],
            train[1],
            held["test"][1],
            data.source,
            held["validation"][1],
        )

    def slices(self, x: np.ndarray, labels: np.ndarray | None, config: ImageDataConfig):
        """The ``tf.data`` elements of one split: the rows alone (conditional recipes add the
        labels)."""
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(x)

    def train_dataset(self, config: ImageDataConfig, data: ImageSplits):
        import tensorflow as tf

        return (
            self.slices(data.train, data.train_labels, config)
            .shuffle(len(data.train), seed=config.seed, reshuffle_each_iteration=True)
            .batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )

    def eval_batch_size(self, config: ImageDataConfig, data: ImageSplits) -> int:
        """Rows per validation and test batch: vectors in batches of at least 1,024 (one graph
        call for a toy's validation split instead of four; the epoch means are weighted by
        rows, so the figures do not change), images at ``batch_size``."""
        return config.batch_size if len(data.shape) > 1 else max(config.batch_size, 1024)

    def validation_dataset(self, config: ImageDataConfig, data: ImageSplits):
        if len(data.validation) == 0:
            return None
        batch = self.eval_batch_size(config, data)
        return self.slices(data.validation, data.validation_labels, config).batch(batch)

    def test_dataset(self, config: ImageDataConfig, data: ImageSplits):
        batch = self.eval_batch_size(config, data)
        return self.slices(data.test, data.test_labels, config).batch(batch)

    def component(self, kind: str, name: str, **options):
        from gentk.plugins import get_registry

        return get_registry().get(kind, name).create(**options)

    def sample(
        self,
        model: keras.Model,
        n: int,
        config: ImageDataConfig,
        *,
        seed: int = 0,
        label: int | None = None,
        **options,
    ):
        if not hasattr(model, "sample"):
            raise NotImplementedError(f"model {self.name!r} does not draw samples")
        if label is not None:
            from gentk.errors import UserError

            raise UserError(
                f"model {self.name!r} is not class-conditional; --label needs e.g. cvae"
            )
        return np.asarray(model.sample(n, seed=seed))

    def write_samples(self, samples: np.ndarray, path: str | os.PathLike, config: ImageDataConfig):
        from gentk import plots

        super().write_samples(samples, path, config)
        if samples.ndim >= 3:
            plots.image_grid(samples[:64], Path(path).with_suffix(".png"))
