"""The VAE family's recipes and options: ``vae`` (and beta-VAE), ``iwae``, ``cvae`` and
``cvae-classifier``. Importable without TensorFlow (``gentk info`` reads the options from
here); the models are imported when a recipe builds one.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gentk.api import (
    EncoderDecoderRecipe,
    ImageConfig,
    UserError,
    constructor_options,
    in_batches,
    option,
)

if TYPE_CHECKING:
    import keras

    from gentk.api import ImageSplits

__all__ = [
    "ESTIMATORS",
    "CVAEClassifierConfig",
    "CVAEClassifierRecipe",
    "CVAEConfig",
    "CVAERecipe",
    "IWAEConfig",
    "IWAERecipe",
    "VAEConfig",
    "VAERecipe",
]

ESTIMATORS = ("reparameterization", "score-function")


@dataclasses.dataclass
class VAEConfig(ImageConfig):
    beta: float = dataclasses.field(default=1.0, metadata={"help": "KL weight (beta-VAE)"})
    n_samples: int = dataclasses.field(default=1, metadata={"help": "z draws per example", "ge": 1})
    kl_anneal_steps: int = dataclasses.field(
        default=0, metadata={"help": "updates over which the KL weight rises from 0 to beta"}
    )
    gradient_estimator: str = dataclasses.field(
        default="reparameterization",
        metadata={"help": "reparameterization or score-function (REINFORCE with a baseline)"},
    )
    nll_samples: int = option(
        1000, "importance samples for the test NLL (0 skips it)", ge=0, le=100_000
    )
    prior: str = dataclasses.field(
        default="standard-normal",
        metadata={"help": "registered prior over z: standard-normal, realnvp, maf (flows), ..."},
    )
    posterior: str = dataclasses.field(
        default="gaussian",
        metadata={
            "help": "q(z|x): gaussian, or a flow step of registered bijectors applied to its "
            "draws, conditioned on its mean and log-scale (iaf,reverse: IAF)"
        },
    )
    posterior_steps: int = dataclasses.field(
        default=2, metadata={"help": "flow posterior: steps", "ge": 1}
    )
    posterior_hidden: tuple[int, ...] = dataclasses.field(
        default=(64, 64), metadata={"help": "flow posterior: widths of its networks", "ge": 1}
    )
    epochs: int = dataclasses.field(default=60, metadata={"help": "passes over the data"})
    net_init: str = option(
        "uniform",
        "MLP components' starting weights: uniform (PyTorch's nn.Linear: weights and biases "
        "U(+-1/sqrt(fan_in)); 0.2 nats better test NLL on digits than glorot) or glorot (Keras)",
    )

    def validate(self):
        super().validate()
        if self.posterior != "gaussian":
            from gentk.api import validate_step

            validate_step(self.posterior, "posterior")
        if self.gradient_estimator not in ESTIMATORS:
            raise ValueError(
                f"`gradient_estimator` must be one of {', '.join(ESTIMATORS)}. "
                f"Received: gradient_estimator={self.gradient_estimator!r}"
            )
        if self.n_samples < 1 or self.kl_anneal_steps < 0 or self.beta < 0:
            raise ValueError(
                "`n_samples` must be >= 1, `kl_anneal_steps` >= 0 and `beta` >= 0. Received: "
                f"n_samples={self.n_samples}, kl_anneal_steps={self.kl_anneal_steps}, "
                f"beta={self.beta}"
            )


class VAERecipe(EncoderDecoderRecipe):
    name = "vae"
    config = VAEConfig
    smoke = {**EncoderDecoderRecipe.smoke, "nll_samples": 20}

    def build(self, config: VAEConfig, data: ImageSplits):
        from gentk_vae.model import VAE

        return VAE(**self.model_options(VAE, config, data, name="vae"))

    def model_options(self, model_class: type, config: VAEConfig, data: ImageSplits, **given):
        """The constructor arguments of ``model_class`` (the VAE family's helper): its encoder,
        decoder, prior and posterior from the config, every option it names from the config
        by the same name, then ``given``."""
        encoder, decoder = self.encoder_decoder(config, data, "gaussian")
        return constructor_options(
            model_class,
            config,
            encoder=encoder,
            decoder=decoder,
            prior=self.prior_layer(config),
            posterior=self.posterior_layers(config),
            **given,
        )

    def prior_layer(self, config: VAEConfig):
        """The registered prior ``config.prior`` over ``latent_dim`` (None: N(0, I))."""
        if config.prior == "standard-normal":
            return None
        return self.component("prior", config.prior, latent_dim=config.latent_dim)

    def posterior_layers(self, config: VAEConfig) -> list:
        """The flow posterior's bijector layers (none for the Gaussian q), each conditioned
        on q's mean and log-scale (``2 * latent_dim`` values)."""
        if config.posterior == "gaussian":
            return []
        from gentk.api import build_layers, parse_step

        options = {
            "dim": config.latent_dim,
            "condition_dim": 2 * config.latent_dim,
            "hidden": config.posterior_hidden,
        }
        names = parse_step(config.posterior) * config.posterior_steps
        return build_layers(names, options, seed=config.seed)

    def evaluate(self, model: keras.Model, config: VAEConfig, data: ImageSplits):
        out = super().evaluate(model, config, data)
        if config.nll_samples > 0:
            lp = in_batches(
                lambda x: model.log_prob(x, n_samples=config.nll_samples),
                data.test,
                size=max(1, min(256, 1_000_000 // config.nll_samples)),  # bounded memory
                what=f"test NLL ({config.nll_samples:,} importance samples)",
            )
            out["test_nll"] = float(-lp.mean())
            out["nll_importance_samples"] = config.nll_samples
        return out


@dataclasses.dataclass
class IWAEConfig(VAEConfig):
    n_samples: int = dataclasses.field(default=5, metadata={"help": "K: importance samples"})

    def validate(self):
        super().validate()
        if self.gradient_estimator != "reparameterization":
            raise ValueError("`gradient_estimator` must be reparameterization for the IWAE")


class IWAERecipe(VAERecipe):
    name = "iwae"
    config = IWAEConfig

    def build(self, config: VAEConfig, data: ImageSplits):
        from gentk_vae.iwae import IWAE

        return IWAE(**self.model_options(IWAE, config, data, name="iwae"))


@dataclasses.dataclass
class CVAEConfig(VAEConfig):
    classifier: bool = dataclasses.field(
        default=False, metadata={"help": "a parallel classifier, so encoding needs no label"}
    )
    classifier_hidden: tuple[int, ...] = dataclasses.field(
        default=(256,), metadata={"help": "classifier MLP widths", "ge": 1}
    )
    classifier_weight: float = dataclasses.field(
        default=1.0, metadata={"help": "alpha: weight of the classifier's cross-entropy"}
    )


@dataclasses.dataclass
class CVAEClassifierConfig(CVAEConfig):
    classifier: bool = dataclasses.field(
        default=True, metadata={"help": "a parallel classifier, so encoding needs no label"}
    )


class CVAERecipe(VAERecipe):
    name = "cvae"
    config = CVAEConfig

    # -- data -------------------------------------------------------------------------
    def load_data(self, config: VAEConfig, path: str | os.PathLike | None):
        data = super().load_data(config, path)
        if data.train_labels is None:
            raise UserError(
                f"{self.name} needs labels: give a labelled dataset (digits, IDX with labels, "
                "NPZ with 'y', or a CSV with --set label_column=NAME)"
            )
        labels = np.concatenate(
            [
                v
                for v in (data.train_labels, data.validation_labels, data.test_labels)
                if v is not None
            ]
        )
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise UserError(f"{self.name} needs integer class labels 0..C-1 in {data.source}")
        return data

    def slices(self, x: np.ndarray, labels: np.ndarray | None, config: VAEConfig):
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices({"x": x, "label": labels.astype("int32")})

    # -- model --------------------------------------------------------------------------
    def build(self, config: VAEConfig, data: ImageSplits):
        from gentk_vae.cvae import CVAE

        n_classes = int(max(data.train_labels.max(), data.test_labels.max()) + 1)
        options = self.model_options(
            CVAE,
            config,
            data,
            n_classes=max(n_classes, 2),
            classifier_hidden=config.classifier_hidden if config.classifier else None,
            name=self.name.replace("-", "_"),
        )
        return CVAE(**options)

    # -- results ------------------------------------------------------------------------
    def evaluate(self, model: keras.Model, config: VAEConfig, data: ImageSplits):
        results = model.evaluate(self.test_dataset(config, data), verbose=0, return_dict=True)
        out = {f"test_{k}": float(v) for k, v in results.items()}
        inputs = {"x": data.test, "label": data.test_labels}
        recon = np.asarray(model.predict(inputs, verbose=0, batch_size=256))
        out["test_reconstruction_mse"] = float(np.mean((recon - data.test) ** 2))
        if model.classifier is not None:
            guess = np.asarray(model.predict_label(data.test))
            out["test_classifier_accuracy"] = float(np.mean(guess == data.test_labels))
            unlabelled = np.asarray(model.predict(data.test, verbose=0, batch_size=256))
            out["test_reconstruction_mse_without_labels"] = float(
                np.mean((unlabelled - data.test) ** 2)
            )
        if config.nll_samples > 0:
            lp = in_batches(
                lambda x, y: model.log_prob(x, y, n_samples=config.nll_samples),
                data.test,
                data.test_labels,
                size=max(1, min(256, 1_000_000 // config.nll_samples)),  # bounded memory
                what=f"test NLL ({config.nll_samples:,} importance samples)",
            )
            out["test_nll"] = float(-lp.mean())
            out["nll_importance_samples"] = config.nll_samples
        out.update(self.cluster_metrics(model, data))
        out["n_train"], out["n_test"] = len(data.train), len(data.test)
        return out

    def write_artifacts(
        self, model: keras.Model, config: VAEConfig, data: ImageSplits, run_dir: Path
    ):
        from gentk.api import plots

        written = []
        if len(data.shape) >= 2:
            inputs = {"x": data.test[:8], "label": data.test_labels[:8]}
            recon = np.asarray(model.predict(inputs, verbose=0))
            plots.reconstructions(data.test[:8], recon, run_dir / "reconstructions.png")
            per_class = np.concatenate(
                [
                    np.asarray(model.sample(8, seed=config.seed + k, label=k))
                    for k in range(model.n_classes)
                ]
            )
            plots.image_grid(
                per_class,
                run_dir / "samples.png",
                columns=8,
                title=f"{self.name} samples, one row per class",
                row_labels=[str(k) for k in range(model.n_classes)],
            )
            written += ["reconstructions.png", "samples.png"]
        z = np.asarray(model.encode(data.test, data.test_labels))
        plots.latent_scatter(
            z, run_dir / "latent.png", labels=data.test_labels, title=f"{self.name}: q(z|x, c)"
        )
        return written + ["latent.png"]

    def _labels(self, model, labels, what):
        if labels is None and model.classifier is None:
            raise UserError(
                f"{self.name} {what} with labels: the data need labels "
                "(or train cvae-classifier, which infers them)"
            )
        return labels

    def latents(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        labels = self._labels(model, labels, "encodes")
        return in_batches(model.encode, x, labels)

    def decode_codes(self, model: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None):
        if labels is None:
            raise UserError(f"{self.name} decodes with labels: give codes written with labels")
        return np.asarray(model.decode(codes, labels))

    def scores(
        self, model: keras.Model, config: VAEConfig, x: np.ndarray, labels: np.ndarray | None = None
    ):
        labels = self._labels(model, labels, "scores")
        return "negative_elbo", -in_batches(lambda a, b: model.elbo(a, b, n_samples=10), x, labels)

    def sample(
        self,
        model: keras.Model,
        n: int,
        config: VAEConfig,
        *,
        seed: int = 0,
        label: int | None = None,
        **options,
    ):
        if label is not None and not 0 <= label < model.n_classes:
            raise UserError(
                f"--label must be a class in 0..{model.n_classes - 1}. Received: {label}"
            )
        return np.asarray(model.sample(n, seed=seed, label=label))


class CVAEClassifierRecipe(CVAERecipe):
    name = "cvae-classifier"
    config = CVAEClassifierConfig
