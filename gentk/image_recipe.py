"""``ImageRecipe``: the shared recipe for models of images or vectors (autoencoders, VAEs).

Data: ``--data`` takes an image file or folder (NPZ, IDX, PNGs) or a numeric CSV; without it
the recipe trains on scikit-learn's 8x8 digits. The data are split with the seed into
train/validation/test and fed through ``tf.data``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gentk.config import TrainConfig, option
from gentk.recipe import Recipe

__all__ = [
    "ImageConfig",
    "ImageDataConfig",
    "ImageSplits",
    "ImageRecipe",
    "LIKELIHOODS",
    "in_batches",
]

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned", "discretized-logistic")
# as in gentk.layers.stacks, which imports Keras; this module stays light
DOWNSAMPLE = ("stride", "max-pool", "avg-pool")
UPSAMPLE = ("transpose", "avg-unpool")
NET_INITS = ("glorot", "uniform")  # as gentk_autoencoders.components.INITS


def in_batches(fn, *arrays, size: int = 512, what: str = "evaluating") -> np.ndarray:
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
class ImageConfig(ImageDataConfig):
    """... and of the recipes built from registered encoder and decoder components."""

    encoder: str = option("mlp", "registered encoder (mlp, conv, ...)")
    decoder: str = option("mlp", "registered decoder (mlp, conv, ...)")
    latent_dim: int = option(2, "size of the code z", ge=1)
    hidden: tuple[int, ...] = option((256, 128), "MLP widths, input side first", ge=1)
    filters: tuple[int, ...] = option((32, 64), "conv filters per stride-2 stage", ge=1)
    activation: str = option("relu", "hidden activation")
    downsample: str = option("stride", "conv encoder: stride, max-pool or avg-pool")
    upsample: str = option("transpose", "conv decoder: transpose or avg-unpool")
    net_init: str = option(
        "glorot",
        "MLP components' starting weights: glorot (Keras) or uniform (PyTorch's nn.Linear: "
        "weights and biases U(+-1/sqrt(fan_in)))",
    )

    def validate(self):
        super().validate()
        if self.net_init not in NET_INITS:
            raise ValueError(
                f"`net_init` must be one of {', '.join(NET_INITS)}. "
                f"Received: net_init={self.net_init!r}"
            )
        if self.latent_dim < 1:
            raise ValueError(
                f"`latent_dim` must be a positive integer. Received: latent_dim={self.latent_dim}"
            )
        if self.downsample not in DOWNSAMPLE or self.upsample not in UPSAMPLE:
            raise ValueError(
                f"`downsample` must be one of {', '.join(DOWNSAMPLE)} and `upsample` one of "
                f"{', '.join(UPSAMPLE)}. Received: downsample={self.downsample!r}, "
                f"upsample={self.upsample!r}"
            )


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
    """Shared data handling and pictures; subclasses implement ``build``."""

    config = ImageConfig
    smoke = {"epochs": 1, "hidden": (16,), "batch_size": 64}

    def read_rows(self, config, path):
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

    def load_data(self, config, path):
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
            data.x[tr],
            held["validation"][0],
            held["test"][0],
            None if labels is None else labels[tr],
            held["test"][1],
            data.source,
            held["validation"][1],
        )

    def slices(self, x, labels, config):
        """The ``tf.data`` elements of one split: the rows alone (conditional recipes add the
        labels)."""
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(x)

    def train_dataset(self, config, data):
        import tensorflow as tf

        return (
            self.slices(data.train, data.train_labels, config)
            .shuffle(len(data.train), seed=config.seed, reshuffle_each_iteration=True)
            .batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )

    def eval_batch_size(self, config, data) -> int:
        """Rows per validation and test batch: vectors in batches of at least 1,024 (one graph
        call for a toy's validation split instead of four; the epoch means are weighted by
        rows, so the figures do not change), images at ``batch_size``."""
        return config.batch_size if len(data.shape) > 1 else max(config.batch_size, 1024)

    def validation_dataset(self, config, data):
        if len(data.validation) == 0:
            return None
        batch = self.eval_batch_size(config, data)
        return self.slices(data.validation, data.validation_labels, config).batch(batch)

    def test_dataset(self, config, data):
        batch = self.eval_batch_size(config, data)
        return self.slices(data.test, data.test_labels, config).batch(batch)

    def component(self, kind, name, **options):
        from gentk.plugins import get_registry

        return get_registry().get(kind, name).create(**options)

    def encoder_decoder(self, config, data, distribution: str):
        """The registered encoder (q(z|x) of ``distribution``: gaussian or deterministic) and
        decoder that ``config`` names, sized for ``data``."""
        encoder = self.component(
            "encoder", config.encoder, distribution=distribution, **self.encoder_options(config)
        )
        decoder = self.component(
            "decoder", config.decoder, **self.decoder_options(config, data.shape)
        )
        return encoder, decoder

    def encoder_options(self, config) -> dict:
        opts = {
            "latent_dim": config.latent_dim,
            "activation": config.activation,
            "hidden": config.hidden,
            "filters": config.filters,
            "downsample": config.downsample,
            "init": config.net_init,
        }
        return self._supported("encoder", config.encoder, opts, config)

    def decoder_options(self, config, shape) -> dict:
        opts = {
            "output_shape": shape,
            "activation": config.activation,
            "likelihood": config.likelihood,
            "sigma": config.sigma,
            "hidden": tuple(reversed(config.hidden)),
            "filters": tuple(reversed(config.filters)),
            "upsample": config.upsample,
            "init": config.net_init,
        }
        return self._supported("decoder", config.decoder, opts, config)

    REQUIRED = ("latent_dim", "output_shape")
    #: component options set by a config field of another name
    FIELDS = {"init": "net_init"}

    def _supported(self, kind, name, opts, config) -> dict:
        """``opts`` without the options a (third-party) component does not declare, as long as
        they are at their defaults; one the user set is an error naming it."""
        from gentk.errors import UserError
        from gentk.plugins import get_registry

        entry = get_registry().get(kind, name)
        known = entry.option_names()
        if known is None:
            return opts
        defaults = {f.name: f.default for f in dataclasses.fields(type(config))}
        out = {}
        for key, value in opts.items():
            field = self.FIELDS.get(key, key)
            if key in known or key in self.REQUIRED:
                out[key] = value
            elif field in defaults and getattr(config, field) != defaults[field]:
                raise UserError(
                    f"{field}={getattr(config, field)!r} was set, but {kind} {name!r} has no "
                    f"option {key!r} and would ignore it; its options: {', '.join(sorted(known))}"
                )
        return out

    def evaluate(self, model, config, data):
        results = model.evaluate(self.test_dataset(config, data), verbose=0, return_dict=True)
        out = {f"test_{k}": float(v) for k, v in results.items()}
        # direct calls: predict would trace one more graph (0.3 s of a digits run) for this
        recon = in_batches(model, data.test, what="reconstructing")
        out["test_reconstruction_mse"] = float(np.mean((recon - data.test) ** 2))
        out.update(self.cluster_metrics(model, data))
        out["n_train"], out["n_test"] = len(data.train), len(data.test)
        return out

    # -- what users do with a trained model (gentk encode / decode / score) ----------------
    def latents(self, model, x, labels=None) -> np.ndarray:
        """Float features of each row (the code, flattened), in batches."""
        if len(x) == 0:
            return np.zeros((0, 0), np.float32)
        return in_batches(model.encode, x).reshape(len(x), -1)

    def codes(self, model, x, labels=None) -> np.ndarray:
        """What ``gentk encode`` writes: by default the latent means."""
        return self.latents(model, x, labels)

    def decode_codes(self, model, codes, labels=None) -> np.ndarray:
        """Images (decoder means) for what ``codes`` returned."""
        return in_batches(model.decode, codes)

    def scores(self, model, config, x, labels=None) -> tuple[str, np.ndarray]:
        """Per-row anomaly scores (higher is more anomalous) and their name: the negative
        ELBO for likelihood models (averaged over 10 draws of z), else the mean squared
        reconstruction error."""
        if hasattr(model, "elbo"):
            return "negative_elbo", -in_batches(lambda b: model.elbo(b, n_samples=10), x)

        def mse(batch):
            recon = np.asarray(model(batch))
            return np.mean((recon - batch) ** 2, axis=tuple(range(1, batch.ndim)))

        return "reconstruction_mse", in_batches(mse, x)

    def cluster_metrics(self, model, data) -> dict:
        """k-means (k = number of classes) on the test latents, scored by the adjusted Rand
        index against the labels; empty without labels."""
        labels = data.test_labels
        if labels is None or len(np.unique(labels)) < 2 or not hasattr(model, "encode"):
            return {}
        from sklearn.cluster import KMeans
        from sklearn.metrics import adjusted_rand_score

        z = self.latents(model, data.test, labels)
        k = len(np.unique(labels))
        clusters = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(z)
        return {"test_latent_kmeans_ari": float(adjusted_rand_score(labels, clusters))}

    def write_artifacts(self, model, config, data, run_dir: Path):
        from gentk import plots

        shape = data.shape
        written = []
        if len(shape) >= 2:
            recon = np.asarray(model(data.test[:8]))
            plots.reconstructions(data.test[:8], recon, run_dir / "reconstructions.png")
            written.append("reconstructions.png")
            try:
                samples = self.sample(model, 64, config, seed=config.seed)
            except NotImplementedError:
                samples = None
            if samples is not None:
                plots.image_grid(samples, run_dir / "samples.png", title=f"{self.name} samples")
                written.append("samples.png")
        z = np.asarray(model.encode(data.test))
        plots.latent_scatter(
            z,
            run_dir / "latent.png",
            labels=data.test_labels,
            title=f"{self.name}: test set in latent space",
        )
        written.append("latent.png")
        return written

    def sample(self, model, n, config, *, seed=0, label=None, **options):
        if not hasattr(model, "sample"):
            raise NotImplementedError(f"model {self.name!r} does not draw samples")
        if label is not None:
            from gentk.errors import UserError

            raise UserError(
                f"model {self.name!r} is not class-conditional; --label needs e.g. cvae"
            )
        return np.asarray(model.sample(n, seed=seed))

    def write_samples(self, samples, path, config):
        from gentk import plots

        super().write_samples(samples, path, config)
        if samples.ndim >= 3:
            plots.image_grid(samples[:64], Path(path).with_suffix(".png"))
