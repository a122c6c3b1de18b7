"""Flow recipes: ``nice``, ``realnvp``, ``glow``, ``maf``, ``iaf``, ``nsf``, ``ffjord`` on the
shared ``FlowRecipe``.

Every recipe builds a ``FlowModel`` from registered bijector components named in
``bijectors`` (one flow step, in the normalising direction: data side first), repeated
``steps`` times, then ``final``. A third-party bijector joins any recipe with
``--set bijectors=mine,reverse``. Data come through ``ImageRecipe``: images (dequantised with
their detected number of levels, then a logit transform) or vectors (2-D toys, CSV tables:
standardised by a fixed affine map). The log-likelihood is always in the data's own units.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gentk.api import (
    ImageDataConfig,
    ImageRecipe,
    UserError,
    in_batches,
    option,
    parse_step,
    validate_step,
    with_defaults,
)

if TYPE_CHECKING:
    import keras

    from gentk.api import ImageSplits

__all__ = ["FlowConfig", "FlowRecipe", "RECIPES", "detect_levels"]


@dataclasses.dataclass
class FlowConfig(ImageDataConfig):
    bijectors: str = option(
        "affine-coupling,reverse",
        "one flow step: registered bijectors, data side first, comma-separated",
    )
    steps: int = option(4, "flow steps (the step is repeated; per scale and stage on images)", ge=1)
    image_layout: str = option(
        "flat", "images: multiscale (conv couplings, squeeze, factor-out) or flat (vectors)"
    )
    scales: int = option(2, "multiscale images: scales (each but the last factors out half)", ge=1)
    filters: int = option(32, "multiscale images: width of the coupling conv nets", ge=1)
    final: str = option("", "a bijector after the last step, base side (NICE: diagonal-scale)")
    hidden: tuple[int, ...] = option((64, 64), "widths of the coupling / MADE networks", ge=1)
    activation: str = option("relu", "hidden activation of the networks")
    scale_bound: float = option(3.0, "soft bound of affine log-scales", gt=0)
    scale_clamp: str = option(
        "rational",
        "vectors: how affine log-scales a are bounded by b: rational (a / (1 + |a| / b), as "
        "zuko; MAF on two moons level with zuko's) or tanh (b tanh(a / b))",
    )
    net_init: str = option(
        "uniform",
        "vectors: the coupling / MADE networks start as uniform (every layer U(+-1/sqrt(fan_in)), "
        "as PyTorch's Linear; 0.6 nats better on two moons in 20 epochs) or identity (output "
        "layers at zero)",
    )
    bins: int = option(8, "spline bins", ge=2)
    spline_bound: float = option(4.0, "splines act on [-bound, bound], identity outside", gt=0)
    dequantize: str = option("auto", "levels of quantised data: auto (images), none or a number")
    logit_alpha: float = option(0.05, "boundary of the logit transform of images", ge=0, lt=0.5)
    standardize: bool = option(
        True, "vectors: fixed affine map to zero mean, unit variance", data=True
    )
    temperature: float = option(1.0, "base-distribution scale when sampling", gt=0)
    conditional: bool = option(False, "class-conditional flow: the one-hot label enters every net")
    learning_rate: float = option(1e-3, "Adam step size", gt=0)
    batch_size: int = option(128, "examples per update", ge=1)
    epochs: int = option(150, "passes over the data", ge=1)
    jit_compile: str = option(
        "auto",
        "XLA for the train step: auto (GPU/TPU only: 0.4-0.8x the speed on CPU), true, false",
    )
    validation_every: int = option(
        1, "validate every N epochs and after the last (the best validated epoch is kept)", ge=1
    )

    def validate(self):
        validate_step(self.bijectors)
        if self.net_init not in ("identity", "uniform"):
            raise ValueError(
                f"`net_init` must be identity or uniform. Received: net_init={self.net_init!r}"
            )
        if self.scale_clamp not in ("rational", "tanh"):
            raise ValueError(
                "`scale_clamp` must be rational or tanh. "
                f"Received: scale_clamp={self.scale_clamp!r}"
            )
        if self.final:
            validate_step(self.final, "final")
        if self.image_layout not in ("multiscale", "flat"):
            raise ValueError(
                f"`image_layout` must be multiscale or flat. Received: {self.image_layout!r}"
            )
        if self.dequantize not in ("auto", "none") and not self.dequantize.isdigit():
            raise ValueError(
                f"`dequantize` must be auto, none or a number of levels. "
                f"Received: dequantize={self.dequantize!r}"
            )


def _declares(step: str, option: str) -> bool:
    """Whether the registered bijector ``step`` takes ``option`` (an unknown name: assume so,
    the config's validation names it)."""
    from gentk.api import get_registry

    registry = get_registry()
    if ("bijector", step) not in registry:
        return True
    names = registry.get("bijector", step).option_names()
    return names is None or option in names


def detect_levels(x: np.ndarray) -> int:
    """The number of levels ``L`` of data on the grid ``k / (L - 1)`` in [0, 1], or 0."""
    values = np.unique(np.asarray(x, dtype=np.float64))
    if len(values) < 2 or len(values) > 65536 or values[0] < 0 or values[-1] > 1:
        return 0
    steps = int(round(1.0 / np.min(np.diff(values))))
    on_grid = np.allclose(values * steps, np.round(values * steps), atol=1e-4)
    return steps + 1 if on_grid else 0


class FlowRecipe(ImageRecipe):
    """Normalizing flow trained by maximum likelihood on images or vectors."""

    name = "realnvp"
    config = FlowConfig
    toy = True
    image_kind = "realnvp"  # the multiscale architecture for images
    defaults: dict = {}
    smoke = {"epochs": 1, "hidden": (8,), "steps": 2, "batch_size": 64}
    supports_jit = True
    supports_mixed_precision = False  # log-determinants and dequantisation need float32
    tune_metric = ("val_nll", "minimize")
    keeps_best_epoch = True  # BestWeights on val_nll

    def inactive_options(self, config: FlowConfig) -> dict[str, str]:
        flow = "a flow's likelihood is its exact density, with no pixel likelihood"
        out = {"likelihood": flow, "sigma": flow}
        if not any("spline" in step for step in parse_step(config.bijectors)):
            why = f"no spline step among bijectors={config.bijectors}"
            out.update(bins=why, spline_bound=why)
        steps = [*parse_step(config.bijectors), *parse_step(config.final)]
        for name, declared in (("scale_bound", "scale_bound"), ("scale_clamp", "clamp")):
            if not any(_declares(step, declared) for step in steps):
                out[name] = f"no step among bijectors={config.bijectors} has an affine log-scale"
        return out

    def jit_supported(self, config: FlowConfig) -> bool:
        """FFJORD's ODE solver keeps a TensorArray of unbounded size, which XLA cannot
        compile; every other step can be compiled."""
        return "ffjord" not in parse_step(config.bijectors)

    # -- data -------------------------------------------------------------------------------
    def read_rows(self, config: FlowConfig, path: str | os.PathLike | None):
        if path is None and self.toy:
            from gentk_flows.datasets import two_moons

            return two_moons()
        return super().read_rows(config, path)

    def load_data(self, config: FlowConfig, path: str | os.PathLike | None):
        data = super().load_data(config, path)
        for split in (data.train, data.validation, data.test):
            if len(split) and not np.all(np.isfinite(split)):
                raise UserError(f"{data.source}: the data hold NaN or infinite values")
        levels = self._levels(config, data.train)
        if levels and (data.train.min() < 0 or data.train.max() > 1):
            raise UserError(
                f"{data.source}: dequantize={config.dequantize} needs data in [0, 1]; these lie "
                f"in [{data.train.min():g}, {data.train.max():g}] (use --set dequantize=none)"
            )
        data.levels = levels
        if config.conditional:
            if data.train_labels is None:
                raise UserError(
                    f"{data.source}: conditional=true needs labels (digits, a 2-D toy, an NPZ "
                    "with 'y', or a CSV with --set label_column=NAME)"
                )
            data.num_classes = int(max(data.train_labels.max(), data.test_labels.max()) + 1)
        return data

    def slices(self, x: np.ndarray, labels: np.ndarray | None, config: FlowConfig):
        import tensorflow as tf

        if config.conditional:
            return tf.data.Dataset.from_tensor_slices((x, labels.astype("int32")))
        return tf.data.Dataset.from_tensor_slices(x)

    def _levels(self, config, x) -> int:
        if config.dequantize == "none":
            return 0
        if config.dequantize != "auto":
            return int(config.dequantize)
        return detect_levels(x) if x.ndim >= 3 else 0

    # -- model ------------------------------------------------------------------------------
    def layer_names(self, config: FlowConfig) -> list[str]:
        names = parse_step(config.bijectors) * config.steps
        if config.final:
            names.append(config.final)
        return names

    def build(self, config: FlowConfig, data: ImageSplits):
        from gentk.api import build_layers

        if len(data.shape) == 3 and config.image_layout == "multiscale":
            return self._finish(self._multiscale(config, data), config, data, flatten=False)
        dim = int(np.prod(data.shape))
        wanted = {
            "dim": dim,
            "condition_dim": getattr(data, "num_classes", 0) if config.conditional else 0,
            "hidden": config.hidden,
            "activation": config.activation,
            "scale_bound": config.scale_bound,
            "clamp": config.scale_clamp,
            "net_init": config.net_init,
            "bins": config.bins,
            "bound": config.spline_bound,
        }
        layers = build_layers(
            self.layer_names(config), wanted, seed=config.seed, conditional=config.conditional
        )
        return self._finish(layers, config, data, flatten=True)

    def _multiscale(self, config, data) -> list:
        from gentk.api import get_registry

        defaults = {f.name: f.default for f in dataclasses.fields(type(config))}
        for name in ("bijectors", "scale_clamp"):  # the multiscale couplings clamp with tanh
            if getattr(config, name) != defaults[name]:
                raise UserError(
                    f"{name}={getattr(config, name)!r} applies to vectors; these images use the "
                    "multiscale layout (add --set image_layout=flat to flatten them)"
                )
        h, w, _ = data.shape
        if h % 2 ** (config.scales - 1) or w % 2 ** (config.scales - 1):
            raise UserError(
                f"{h}x{w} images cannot be squeezed {config.scales - 1} times: lower scales"
            )
        entry = get_registry().get("bijector", "multiscale")
        return [
            entry.create(
                shape=data.shape,
                kind=self.image_kind,
                scales=config.scales,
                steps=config.steps,
                filters=config.filters,
                scale_bound=config.scale_bound,
                seed=config.seed,
                condition_dim=getattr(data, "num_classes", 0) if config.conditional else 0,
            )
        ]

    def _finish(self, layers, config, data, flatten: bool):
        from gentk_flows.model import FlowModel

        levels = getattr(data, "levels", 0)
        standardize = None
        if not levels and config.standardize and data.train.ndim == 2:
            std = data.train.std(axis=0)
            standardize = (data.train.mean(axis=0).tolist(), np.where(std > 0, std, 1.0).tolist())
        model = FlowModel(
            layers,
            data.shape,
            dequantize=levels,
            logit_alpha=config.logit_alpha if levels else 0.0,
            standardize=standardize,
            seed=config.seed,
            flatten=flatten,
            num_classes=getattr(data, "num_classes", 0) if config.conditional else 0,
            name=self.name.replace("-", "_"),
        )
        model.build()
        head = slice(0, min(len(data.train), 1024))
        labels = data.train_labels[head] if model.num_classes else None
        model.initialize(data.train[head], labels)
        return model

    def _log_prob(self, model, x, labels):
        if model.num_classes:
            return in_batches(lambda b, y: model.compiled_log_prob(b, y), x, labels, size=512)
        return in_batches(lambda b: model.compiled_log_prob(b), x, size=512)

    def callbacks(self, model: keras.Model, config: FlowConfig, data: ImageSplits, run_dir: Path):
        from gentk.api import BestWeights

        if len(data.validation) == 0:
            return []  # no model selection: the last epoch is the model
        return [BestWeights(run_dir, "val_nll")]

    def finish_training(
        self, model: keras.Model, config: FlowConfig, data: ImageSplits, run_dir: Path
    ):
        """Keep the epoch with the best validation NLL (a late unstable epoch is not kept)."""
        from gentk.api import BestWeights

        BestWeights.restore(model, run_dir)

    # -- results ----------------------------------------------------------------------------
    def _nll(self, model, config, data, x, labels) -> float:
        """Mean NLL of rows ``x`` through the model's own test step: the graph the validation
        already traced, where a separate log-density function took NSF 7 s more to trace."""
        batches = self.slices(x, labels, config).batch(self.eval_batch_size(config, data))
        return float(model.evaluate(batches, verbose=0, return_dict=True)["nll"])

    def evaluate(self, model: keras.Model, config: FlowConfig, data: ImageSplits):
        nll = self._nll(model, config, data, data.test, data.test_labels)
        out = {
            "test_nll": nll,
            "test_nll_per_dim": nll / model.dim,
            "n_train": len(data.train),
            "n_test": len(data.test),
            "dims": model.dim,
        }
        if model.dequantize:
            out["test_bits_per_dim"] = float(model.nats_to_bits_per_dim(nll))
            out["dequantize_levels"] = model.dequantize
        labels = None if data.train_labels is None else data.train_labels[:2000]
        out["train_nll"] = self._nll(model, config, data, data.train[:2000], labels)
        return out

    def write_artifacts(
        self, model: keras.Model, config: FlowConfig, data: ImageSplits, run_dir: Path
    ):
        from gentk.api import plots

        run_dir = Path(run_dir)
        samples = self.sample(model, 64 if len(data.shape) >= 2 else 2000, config, seed=config.seed)
        written = []
        z = self.latents(model, data.test, data.test_labels)
        if len(data.shape) >= 2:
            plots.image_grid(samples, run_dir / "samples.png", title=f"{self.name} samples")
            written.append("samples.png")
        else:
            plots.scatter_over(samples, data.test, run_dir / "samples.png", f"{self.name} samples")
            written.append("samples.png")
            if data.shape == (2,) and not model.num_classes:
                plots.density_2d(  # the 200 x 200 grid in one eager call: TFP's flows cost
                    # ~0.2 s of Python a call whatever its size (ten calls took 2 s)
                    lambda pts: in_batches(lambda b: model.log_prob(b), pts, size=65536),
                    data.test,
                    run_dir / "density.png",
                    title=f"{self.name}: density",
                )
                written.append("density.png")
        plots.latent_scatter(
            z[:, :2] if z.shape[1] >= 2 else np.pad(z, ((0, 0), (0, 1))),
            run_dir / "latent.png",
            labels=data.test_labels,
            title=f"{self.name}: test data in the base space (first two dimensions)",
        )
        written.append("latent.png")
        return written

    def sample(
        self,
        model: keras.Model,
        n: int,
        config: FlowConfig,
        *,
        seed: int = 0,
        label: int | None = None,
        temperature: float | None = None,
        **options,
    ):
        if label is not None and not model.num_classes:
            raise UserError(f"model {self.name!r} is not class-conditional (conditional=true)")
        if label is not None and not 0 <= int(label) < model.num_classes:
            raise UserError(f"--label must lie in 0..{model.num_classes - 1}. Received: {label}")
        labels = None
        if model.num_classes:  # without --label: every class in turn
            labels = (
                np.full(n, int(label)) if label is not None else np.arange(n) % model.num_classes
            )
        t = config.temperature if temperature is None else float(temperature)
        return np.asarray(model.sample(n, temperature=t, labels=labels, seed=int(seed)))

    def _labels(self, model, labels, n):
        if not model.num_classes:
            return None
        if labels is None:
            raise UserError("this flow is class-conditional: the rows need labels")
        return np.asarray(labels)[:n]

    def codes(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        """What ``gentk encode`` writes: the rows mapped to the base space."""
        return self.latents(model, x, labels)

    def latents(self, model: keras.Model, x: np.ndarray, labels: np.ndarray | None = None):
        y = self._labels(model, labels, len(x))
        return in_batches(model.encode, x, y).reshape(len(x), -1)

    def decode_codes(self, model: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None):
        codes = np.asarray(codes, dtype=np.float32)
        return in_batches(model.decode, codes, self._labels(model, labels, len(codes)))

    def scores(
        self,
        model: keras.Model,
        config: FlowConfig,
        x: np.ndarray,
        labels: np.ndarray | None = None,
    ):
        """Exact negative log-likelihood per row (higher: more anomalous)."""
        return "negative_log_likelihood", -self._log_prob(
            model, x, self._labels(model, labels, len(x))
        )


def _variant(name, help_text, toy=True, image_kind="realnvp", **defaults):
    title = name.replace("-", "_").title().replace("_", "")
    config = with_defaults(FlowConfig, title + "Config", __name__, **defaults)
    cls = type(
        title + "Recipe",
        (FlowRecipe,),
        {"name": name, "help": help_text, "config": config, "toy": toy, "image_kind": image_kind},
    )
    return cls()


RECIPES = {
    recipe.name: recipe
    for recipe in (
        _variant("nice", "", bijectors="additive-coupling,reverse", final="diagonal-scale"),
        _variant("realnvp", "", bijectors="affine-coupling,reverse", image_layout="multiscale"),
        _variant(
            "glow",
            "",
            toy=False,
            bijectors="actnorm,invertible-linear,affine-coupling",
            image_layout="multiscale",
            image_kind="glow",
        ),
        _variant("maf", "", bijectors="maf,reverse", steps=5),
        _variant("iaf", "", bijectors="iaf,reverse", steps=5),
        _variant("nsf", "", bijectors="spline-coupling,reverse", steps=4),
        _variant("ffjord", "", bijectors="ffjord", steps=1, activation="tanh", epochs=60),
    )
}
