"""``EncoderDecoderRecipe``: recipes whose model is a registered encoder and decoder
(autoencoders, VAEs; the VQ-VAE and the unpooling autoencoder reuse its results): the
component options (``encoder``, ``decoder``, ``latent_dim``, widths, filters, activation,
pooling, starts), the test reconstruction error and the k-means ARI of the test latents,
``gentk encode``/``decode``/``score``, and the reconstructions and latent-space pictures.
Shared by several plugins, so it lives in the core (``gentk.api``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gentk.config import option
from gentk.image_recipe import ImageDataConfig, ImageRecipe, in_batches

if TYPE_CHECKING:
    import keras

    from gentk.image_recipe import ImageSplits

__all__ = ["EncoderDecoderConfig", "EncoderDecoderRecipe", "ImageConfig"]

# as in gentk.layers.stacks, which imports Keras; this module stays light
DOWNSAMPLE = ("stride", "max-pool", "avg-pool")
UPSAMPLE = ("transpose", "avg-unpool")
NET_INITS = ("glorot", "uniform")  # as gentk_autoencoders.components.INITS


@dataclasses.dataclass
class EncoderDecoderConfig(ImageDataConfig):
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


ImageConfig = EncoderDecoderConfig  # its name before the split


class EncoderDecoderRecipe(ImageRecipe):
    """``ImageRecipe`` plus the encoder/decoder options, metrics and pictures."""

    config = EncoderDecoderConfig
    smoke = {**ImageRecipe.smoke, "hidden": (16,)}

    def encoder_decoder(self, config: EncoderDecoderConfig, data: ImageSplits, distribution: str):
        """The registered encoder (q(z|x) of ``distribution``: gaussian or deterministic) and
        decoder that ``config`` names, sized for ``data``."""
        encoder = self.component(
            "encoder", config.encoder, distribution=distribution, **self.encoder_options(config)
        )
        decoder = self.component(
            "decoder", config.decoder, **self.decoder_options(config, data.shape)
        )
        return encoder, decoder

    def encoder_options(self, config: EncoderDecoderConfig) -> dict:
        opts = {
            "latent_dim": config.latent_dim,
            "activation": config.activation,
            "hidden": config.hidden,
            "filters": config.filters,
            "downsample": config.downsample,
            "init": config.net_init,
        }
        return self._supported("encoder", config.encoder, opts, config)

    def decoder_options(self, config: EncoderDecoderConfig, shape: tuple[int, ...]) -> dict:
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

    def evaluate(self, model: keras.Model, config: EncoderDecoderConfig, data: ImageSplits):
        results = model.evaluate(self.test_dataset(config, data), verbose=0, return_dict=True)
        out = {f"test_{k}": float(v) for k, v in results.items()}
        # direct calls: predict would trace one more graph (0.3 s of a digits run) for this
        recon = in_batches(model, data.test, what="reconstructing")
        out["test_reconstruction_mse"] = float(np.mean((recon - data.test) ** 2))
        out.update(self.cluster_metrics(model, data))
        out["n_train"], out["n_test"] = len(data.train), len(data.test)
        return out

    # -- what users do with a trained model (gentk encode / decode / score) ----------------
    def latents(
        self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """Float features of each row (the code, flattened), in batches."""
        if len(x) == 0:
            return np.zeros((0, 0), np.float32)
        return in_batches(model.encode, x).reshape(len(x), -1)

    def codes(
        self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """What ``gentk encode`` writes: by default the latent means."""
        return self.latents(model, x, labels)

    def decode_codes(
        self, model: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """Images (decoder means) for what ``codes`` returned."""
        return in_batches(model.decode, codes)

    def scores(
        self,
        model: keras.Model,
        config: EncoderDecoderConfig,
        x: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> tuple[str, np.ndarray]:
        """Per-row anomaly scores (higher is more anomalous) and their name: the negative
        ELBO for likelihood models (averaged over 10 draws of z), else the mean squared
        reconstruction error."""
        if hasattr(model, "elbo"):
            return "negative_elbo", -in_batches(lambda b: model.elbo(b, n_samples=10), x)

        def mse(batch):
            recon = np.asarray(model(batch))
            return np.mean((recon - batch) ** 2, axis=tuple(range(1, batch.ndim)))

        return "reconstruction_mse", in_batches(mse, x)

    def cluster_metrics(self, model: keras.Model, data: ImageSplits) -> dict:
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

    def write_artifacts(
        self, model: keras.Model, config: EncoderDecoderConfig, data: ImageSplits, run_dir: Path
    ):
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
