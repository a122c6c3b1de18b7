"""The GAN recipes: one ``GANRecipe`` over registered generators, critics and adversarial
divergences, and the named variants (``gan``, ``dcgan``, ``wgan``, ``wgan-gp``, ``sngan``,
``lsgan``, ``fgan``, ``cgan``, ``acgan``, ``ssgan``) that differ only in their defaults.

Data come through ``ImageRecipe`` (digits by default; the toy recipe defaults to the ring of 8
Gaussians). Metrics: the Fréchet distance (with its bootstrap standard error), KID and
precision/recall in the feature space of a classifier trained on the held-out rows
(``fd_<data>``), against training rows, beside the same figures for other training rows (the
floor); on 2-D data, modes covered and the high-quality share; for
``ssgan``, the test accuracy of its classifier beside the same critic trained on the labelled
examples alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gentk.api import (
    ImageRecipe,
    Recipe,
    TrainConfig,
    UserError,
    check_active_options,
    constructor_options,
    option,
    parse_every,
    with_defaults,
)
from gentk_gan.catalogue import RECIPE_HELP, SCHEDULES

if TYPE_CHECKING:
    import keras

    from gentk.api import ImageSplits

__all__ = ["GANConfig", "GANRecipe", "RECIPES"]


@dataclasses.dataclass
class GANConfig(TrainConfig):
    epochs: int = option(30, "passes over the training data")
    batch_size: int = option(64, "examples per update")
    learning_rate: float = option(2e-4, "generator Adam step size")
    critic_learning_rate: float = option(2e-4, "critic Adam step size", gt=0)
    beta_1: float = option(0.5, "Adam beta_1 of both optimizers", ge=0, lt=1)
    beta_2: float = option(0.999, "Adam beta_2 of both optimizers", ge=0, lt=1)
    generator: str = option(
        "auto", "registered generator: auto (dcgan for images, mlp-generator for vectors), ..."
    )
    critic: str = option(
        "auto", "registered critic: auto (dcgan-critic for images, mlp-critic for vectors), ..."
    )
    divergence: str = option("nonsaturating", "registered adversarial divergence")
    latent_dim: int = option(32, "size of z ~ N(0, I)", ge=1)
    hidden: tuple[int, ...] = option((128, 128), "MLP widths (generator and critic)", ge=1)
    filters: tuple[int, ...] = option((64, 32), "DCGAN generator filters per stage", ge=1)
    critic_filters: tuple[int, ...] = option((32, 64), "DCGAN critic filters per stage", ge=1)
    batch_norm: bool = option(True, "batch norm in the DCGAN generator")
    virtual_batch_norm: int = option(
        0, "MLP generator: virtual batch norm with R reference noise vectors (0: off)"
    )
    critic_batch_norm: bool = option(False, "batch norm in the DCGAN critic")
    spectral_norm: bool = option(False, "spectral normalisation of every critic layer")
    minibatch_std: bool = option(False, "minibatch standard-deviation feature in the critic")
    critic_steps: int = option(1, "critic updates per generator update", ge=1)
    schedule: str = option("alternating", "alternating or simultaneous updates")
    gradient_penalty: float = option(0.0, "WGAN-GP lambda (0: off)")
    r1_penalty: float = option(0.0, "R1 gamma on real data (0: off)")
    clip_value: float = option(0.0, "WGAN weight clipping c (0: off)")
    label_smoothing: float = option(0.0, "one-sided label smoothing (sigmoid losses)", ge=0, lt=0.5)
    instance_noise: float = option(0.0, "instance noise sigma, annealed to 0")
    instance_noise_epochs: int = option(0, "epochs to anneal instance noise (0: all)")
    ema_decay: float = option(0.0, "generator weight EMA for sampling (0: off)", ge=0, lt=1)
    diffaugment: str = option("", "DiffAugment policy: translation,cutout,color")
    conditioning: str = option("concat", "label into the critic: concat or projection")
    labelled: int = option(
        100, "ssgan: labelled training examples (the rest unlabelled)", ge=1, data=True
    )
    aux_weight: float = option(1.0, "weight of the class terms (acgan, ssgan)")
    unroll_steps: int = option(0, "unrolled GAN: differentiable critic steps seen by G (0: off)")
    feature_matching: bool = option(
        False, "G matches the mean of the critic's last hidden features on real data"
    )
    unroll_learning_rate: float = option(0.05, "step size of the unrolled critic steps", gt=0)
    validation_every: int = option(
        5, "validate every N epochs and after the last (the losses are logged only)", ge=1
    )
    progress_every: str = option(
        "30s",
        "progress pictures (progress/epoch-NNNN.png): every N epochs (1) or after N seconds of "
        "training (30s); always after the last epoch",
    )
    quality_samples: int = option(
        1000,
        "generated samples for the quality metrics (against as many training rows: at most "
        "half the training split)",
        ge=10,
    )
    jit_compile: str = option(
        "auto",
        "XLA for the train steps: auto (GPU/TPU only: on CPU it ran at 0.65-0.72x the speed "
        "without it, benchmarks/gan_family.py images), true or false",
    )
    label_column: str | None = option(None, "label column of a CSV input", data=True)
    validation_data: str | None = option(
        None, "file of validation rows (--validation) instead of a validation split", data=True
    )
    test_data: str | None = option(
        None, "file of test rows (--test) instead of a test split", data=True
    )

    def validate(self):
        parse_every(self.progress_every, "progress_every")
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"`schedule` must be one of {', '.join(SCHEDULES)}. Received: {self.schedule!r}"
            )
        if self.conditioning not in ("concat", "projection"):
            raise ValueError(
                f"`conditioning` must be concat or projection. Received: {self.conditioning!r}"
            )
        for name in ("learning_rate", "critic_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"`{name}` must be positive. Received: {getattr(self, name)}")
        if self.latent_dim < 1 or self.critic_steps < 1 or self.quality_samples < 10:
            raise ValueError("`latent_dim` and `critic_steps` must be >= 1, quality_samples >= 10")


class GANRecipe(ImageRecipe):
    name = "gan"
    config = GANConfig
    mode = "unconditional"
    toy = True
    smoke = {"epochs": 1, "hidden": (16,), "filters": (8, 4), "critic_filters": (4, 8),
             "batch_size": 64, "latent_dim": 4, "quality_samples": 50}  # fmt: skip
    tune_metric = None  # GAN losses say little: tune on metrics.json (fd_*, high_quality_share)

    def mirrored_supported(self, config: GANConfig) -> bool:
        """n critic steps per generator step update the generator conditionally."""
        return config.critic_steps == 1 or config.schedule == "simultaneous"

    # -- data ---------------------------------------------------------------------------
    def read_rows(self, config: GANConfig, path: str | os.PathLike | None):
        if path is None and self.toy:
            from gentk.api import gaussian_ring

            return gaussian_ring()
        return super().read_rows(config, path)

    def load_data(self, config: GANConfig, path: str | os.PathLike | None):
        data = super().load_data(config, path)
        if self.mode != "unconditional":
            if data.train_labels is None:
                raise UserError(
                    f"{self.name} needs labels: digits, an NPZ with 'y', IDX with labels, or a "
                    "CSV with --set label_column=NAME"
                )
            for labels in (data.train_labels, data.validation_labels, data.test_labels):
                if (
                    labels is not None
                    and len(labels)
                    and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0)
                ):
                    raise UserError(f"{self.name} needs integer class labels 0..C-1")
        # the options that act depend on the components the data choose (auto): refuse the
        # others now, before the run directory is touched
        check_active_options(self, self.with_components(config, data.shape))
        if self.mode == "ssgan":
            # the quality metrics' feature extractor still learns from every label, so that
            # fd_<data> means the same for every recipe on these data
            data.extractor_labels = data.train_labels
            data.train_labels = _keep_labelled(data.train_labels, config.labelled, config.seed)
        return data

    def slices(self, x: np.ndarray, labels: np.ndarray | None, config: GANConfig):
        import tensorflow as tf

        if self.mode == "unconditional" or labels is None:
            return tf.data.Dataset.from_tensor_slices(x)
        return tf.data.Dataset.from_tensor_slices({"x": x, "label": labels.astype("int32")})

    def _classes(self, data):
        labels = [v for v in (data.train_labels, data.test_labels) if v is not None]
        return int(max(int(v.max()) for v in labels) + 1) if labels else 0

    @staticmethod
    def with_components(config: GANConfig, shape: tuple[int, ...] = None):
        """``config`` with ``generator``/``critic`` ``auto`` resolved by the data's ``shape``
        (images: DCGAN, vectors: MLP); they stay ``auto`` while the shape is not known."""
        if shape is None:
            return config
        images = len(shape) == 3
        auto = {
            "generator": "dcgan" if images else "mlp-generator",
            "critic": "dcgan-critic" if images else "mlp-critic",
        }
        chosen = {k: v for k, v in auto.items() if getattr(config, k) == "auto"}
        return dataclasses.replace(config, **chosen) if chosen else config

    def inactive_options(self, config: GANConfig) -> dict[str, str]:
        """Component options act only for their component; with ``auto`` the data decide, and
        ``load_data`` checks again once their shape is known."""
        out = {}
        generator, critic = config.generator, config.critic
        if generator == "dcgan":
            out["virtual_batch_norm"] = "the dcgan generator has no MLP"
            if critic == "dcgan-critic":
                out["hidden"] = "the dcgan generator and critic have no MLP widths"
        elif generator != "auto":
            why = f"options of the dcgan generator; generator={generator}"
            out.update(filters=why, batch_norm=why)
        if critic not in ("dcgan-critic", "auto"):
            why = f"options of the dcgan critic; critic={critic}"
            out.update(critic_filters=why, critic_batch_norm=why)
        if self.mode != "ssgan":
            out["labelled"] = "the semi-supervised GAN's (ssgan) option"
        if self.mode not in ("acgan", "ssgan"):
            out["aux_weight"] = "the class terms of acgan and ssgan"
        if self.mode != "conditional":
            out["conditioning"] = "how cgan feeds labels to its critic"
        if self.mode == "unconditional":
            out["label_column"] = "an unconditional GAN reads no labels"
        if not config.unroll_steps:
            out["unroll_learning_rate"] = "unroll_steps=0"
        if not config.instance_noise:
            out["instance_noise_epochs"] = "instance_noise=0"
        return out

    # -- model --------------------------------------------------------------------------
    def build(self, config: GANConfig, data: ImageSplits):
        from gentk.api import get_registry
        from gentk_gan.model import AdversarialModel

        divergence = config.divergence
        registry = get_registry()
        if ("divergence", divergence) not in registry and ("divergence", f"f-{divergence}") in (
            registry
        ):
            divergence = f"f-{divergence}"  # fgan --set divergence=hellinger
        shape = data.shape
        images = len(shape) == 3
        config = self.with_components(config, shape)
        classes = self._classes(data) if self.mode != "unconditional" else 0
        gen_opts = {
            "output_shape": shape,
            "latent_dim": config.latent_dim,
            "output_activation": "sigmoid" if images else "linear",
            "num_classes": classes if self.mode in ("conditional", "acgan") else 0,
        }
        if config.generator == "dcgan":
            gen_opts.update(filters=config.filters, batch_norm=config.batch_norm)
        else:
            gen_opts.update(hidden=config.hidden, virtual_batch_norm=config.virtual_batch_norm)
        outputs = {"acgan": 1 + classes, "ssgan": classes}.get(self.mode, 1)
        if divergence.startswith("softmax-"):
            outputs = 2
        critic_opts = {
            "spectral_norm": config.spectral_norm,
            "minibatch_std": config.minibatch_std,
            "num_classes": classes if self.mode == "conditional" else 0,
            "conditioning": config.conditioning,
            "outputs": outputs,
            # E[s(fake)] - E[s(real)] ignores a constant shift of the scores, and hinge's two
            # margins pull a shift equally while the scores lie in (-1, 1): no score bias
            "output_bias": divergence not in ("wasserstein", "hinge"),
        }
        if config.critic == "dcgan-critic":
            critic_opts.update(filters=config.critic_filters, batch_norm=config.critic_batch_norm)
        else:
            critic_opts["hidden"] = tuple(reversed(config.hidden))
        generator = self.component("generator", config.generator, **gen_opts)
        critic = self.component("critic", config.critic, **critic_opts)
        steps_per_epoch = -(-len(data.train) // config.batch_size)
        noise_epochs = config.instance_noise_epochs or config.epochs
        try:
            # every option the model takes by the same name comes from the config
            options = constructor_options(
                AdversarialModel,
                config,
                generator=generator,
                critic=critic,
                divergence=divergence,
                mode=self.mode,
                num_classes=classes,
                instance_noise_steps=noise_epochs * steps_per_epoch,
                name=self.name.replace("-", "_"),
            )
            return AdversarialModel(**options)
        except ValueError as err:
            raise UserError(str(err)) from None

    def component(self, kind: str, name: str, **options):
        """The registered component with the options it declares (a third-party critic need
        not take every option gentk passes); a bad combination is a one-line UserError."""
        from gentk.api import get_registry

        entry = get_registry().get(kind, name)
        try:
            return entry.create(**entry.declared(options))
        except ValueError as err:
            raise UserError(f"{kind} {name!r}: {err}") from None

    # a GAN has no encoder: these commands say so in one line
    codes = Recipe.codes
    decode_codes = Recipe.decode_codes
    scores = Recipe.scores

    def compile(self, model: keras.Model, config: GANConfig, *, jit_compile: bool):
        from gentk.api import FusedAdam

        def adam(lr):
            return FusedAdam(
                lr,
                beta_1=config.beta_1,
                beta_2=config.beta_2,
                weight_decay=config.weight_decay or None,
            )

        model.compile(
            generator_optimizer=adam(config.learning_rate),
            critic_optimizer=adam(config.critic_learning_rate),
            jit_compile=jit_compile,
            steps_per_execution=config.steps_per_execution,
        )

    def callbacks(self, model: keras.Model, config: GANConfig, data: ImageSplits, run_dir: Path):
        from gentk_gan.progress import SampleGrid

        return [SampleGrid(run_dir, data, seed=config.seed, every=config.progress_every)]

    # -- results ------------------------------------------------------------------------
    def evaluate(self, model: keras.Model, config: GANConfig, data: ImageSplits):
        out = {"n_train": len(data.train), "n_test": len(data.test)}
        fake = np.asarray(model.sample(config.quality_samples, seed=config.seed + 1))
        if len(data.shape) == 1 and data.shape[0] == 2 and data.test_labels is not None:
            from gentk.api import mode_coverage

            centers, stds = _modes(data)
            out.update(mode_coverage(fake, centers, stds))
            out.update({f"real_{k}": v for k, v in mode_coverage(data.test, centers, stds).items()})
        out.update(self.quality(config, data, fake))
        if self.mode in ("acgan", "ssgan") and data.test_labels is not None:
            probs = np.asarray(model.classify(data.test))
            out["test_classifier_accuracy"] = float(np.mean(probs.argmax(1) == data.test_labels))
            if self.mode == "ssgan":
                out["labelled"] = int((data.train_labels >= 0).sum())
                out["supervised_only_accuracy"] = _supervised_baseline(
                    model, config, data, self._classes(data)
                )
        return out

    def quality(self, config: GANConfig, data: ImageSplits, fake: np.ndarray) -> dict:
        """FD (with its bootstrap standard error), KID and precision/recall of generated samples
        against real training rows, beside the same figures for other real training rows (the
        real-vs-real floor), all at one sample size: n = min(quality_samples, half the training
        split). The features come from a classifier trained on the held-out rows (validation
        and test splits), so the rows compared were never its training images."""
        from gentk.api import (
            FeatureExtractor,
            bootstrap_se,
            frechet_distance,
            kernel_distance,
            precision_recall,
        )

        n = min(len(fake), len(data.train) // 2)
        if n < 10:
            return {}
        order = np.random.default_rng(config.seed).permutation(len(data.train))
        real_a, real_b = data.train[order[:n]], data.train[order[n : 2 * n]]
        held_x, held_y = _held_out(data)
        name = _data_name(data)
        if held_y is not None and len(np.unique(held_y)) > 1:
            feats = FeatureExtractor(held_x, held_y, seed=0).features
            space = name
            features = "a classifier trained on the validation and test splits"
        else:

            def feats(x):
                return np.asarray(x, np.float64).reshape(len(x), -1)

            # no labels to train a feature classifier: FD of the raw values, named for them
            space = f"{name}_pixels" if len(data.shape) >= 2 else f"{name}_coordinates"
            features = "the raw values"
        ref, other, generated = feats(real_a), feats(real_b), feats(fake[:n])
        p, r = precision_recall(ref, generated)
        fp, fr = precision_recall(ref, other)
        se_seed = config.seed + 2
        return {
            f"fd_{space}": frechet_distance(ref, generated),
            f"fd_{space}_se": bootstrap_se(frechet_distance, ref, generated, seed=se_seed),
            f"fd_{space}_real_floor": frechet_distance(ref, other),
            f"kid_{space}": kernel_distance(ref, generated),
            f"kid_{space}_se": bootstrap_se(kernel_distance, ref, generated, seed=se_seed),
            f"kid_{space}_real_floor": kernel_distance(ref, other),
            "quality_samples_used": int(n),
            "quality_reference": f"training split, {n} rows per side; features of {features}",
            "precision": p,
            "recall": r,
            "precision_real_floor": fp,
            "recall_real_floor": fr,
        }

    def write_artifacts(
        self, model: keras.Model, config: GANConfig, data: ImageSplits, run_dir: Path
    ):
        samples = np.asarray(model.sample(64 if len(data.shape) >= 2 else 1000, seed=config.seed))
        from gentk_gan.progress import picture

        picture(samples, data, Path(run_dir) / "samples.png", f"{self.name} samples")
        return ["samples.png", "progress/"]

    def sample(
        self,
        model: keras.Model,
        n: int,
        config: GANConfig,
        *,
        seed: int = 0,
        label: int | None = None,
        **options,
    ):
        if label is not None and self.mode not in ("conditional", "acgan"):
            raise UserError(f"model {self.name!r} is not class-conditional; --label needs cgan")
        if label is not None and not 0 <= int(label) < model.num_classes:
            raise UserError(f"--label must lie in 0..{model.num_classes - 1}. Received: {label}")
        return np.asarray(model.sample(n, seed=seed, label=label))


def _held_out(data):
    """The validation and test rows with their labels (labels None when a split has none)."""
    x = np.concatenate([data.validation, data.test])
    labels = [getattr(data, "validation_labels", None), data.test_labels]
    if len(data.validation) == 0:
        labels = labels[1:]
    if any(v is None for v in labels):
        return x, None
    return x, np.concatenate(labels)


def _data_name(data) -> str:
    """The data's name in metric keys (``fd_<name>``): a dataset's name, else the file's stem;
    for a file with an IDX set's generic name (``train-images-idx3-ubyte.gz``: MNIST and
    Fashion-MNIST alike) the folder that holds it."""
    source = str(data.source)
    if ":" in source and not Path(source).exists():
        base = source.split(":")[-1]
    else:
        path = Path(source)
        base = path.name.split(".")[0]
        if re.fullmatch(r"(train|t10k)-images-idx\d-ubyte", base) and path.parent.name:
            base = path.parent.name
    return "".join(c if c.isalnum() else "_" for c in base.lower()) or "data"


def _modes(data):
    labels = np.concatenate([data.train_labels, data.test_labels])
    x = np.concatenate([data.train, data.test])
    classes = np.unique(labels)
    centers = np.stack([x[labels == k].mean(0) for k in classes])
    stds = np.array([x[labels == k].std(0).mean() for k in classes])
    return centers, stds


def _keep_labelled(labels, n, seed):
    """Labels of ``n`` training examples, stratified by class; -1 for the rest."""
    rng = np.random.default_rng(seed)
    out = np.full_like(labels, -1)
    classes = np.unique(labels)
    per = max(1, n // len(classes))
    for k in classes:
        idx = np.flatnonzero(labels == k)
        keep = rng.choice(idx, size=min(per, len(idx)), replace=False)
        out[keep] = k
    return out


def _supervised_baseline(model, config, data, classes) -> float:
    """The ssgan critic's architecture trained on the labelled examples alone (same run, as
    many updates as the GAN's critic had). The updates run in a graph, a thousand at a time (a
    ``tf.while_loop`` over batch indices drawn first): one Python call per update made it 37%
    of an ssgan run on the ring (13.4 s of 36 s for 8,000 updates)."""
    import keras
    import tensorflow as tf

    keep = data.train_labels >= 0
    critic = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model.critic)
    )
    x = tf.constant(data.train[keep])
    y = tf.constant(data.train_labels[keep].astype("int32"))
    if not critic.built:
        critic.build((None, *data.shape))
    opt = keras.optimizers.Adam(config.critic_learning_rate, beta_1=config.beta_1)
    opt.build(critic.trainable_variables)
    steps = max(200, config.epochs * (-(-len(data.train) // config.batch_size)))
    rng = np.random.default_rng(config.seed)
    batch = min(config.batch_size, len(y))

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None, batch], tf.int32)])
    def train(batches):
        def step(i):
            xb, yb = tf.gather(x, batches[i]), tf.gather(y, batches[i])
            with tf.GradientTape() as tape:
                logits = critic(xb, None, training=True)
                loss = keras.losses.sparse_categorical_crossentropy(yb, logits, True)
                loss = tf.reduce_mean(loss)
            grads = tape.gradient(loss, critic.trainable_variables)
            opt.apply_gradients(zip(grads, critic.trainable_variables))
            return (i + 1,)

        tf.while_loop(lambda i: i < tf.shape(batches)[0], step, (tf.constant(0),))

    for start in range(0, steps, 1000):  # indices a thousand updates at a time
        chunk = [rng.integers(0, len(y), size=batch) for _ in range(min(1000, steps - start))]
        train(tf.constant(np.stack(chunk), tf.int32))
    logits = np.asarray(critic(data.test, None, training=False))
    return float(np.mean(logits.argmax(1) == data.test_labels))


def _variant(name, mode="unconditional", toy=False, vectors=None, images=None, **defaults):
    """A named variant: ``defaults`` for any data, ``vectors`` and ``images`` for data of that
    kind (``data_defaults``); its config's own defaults are those of its default data (the
    ring for the toy recipes, digits for the others)."""
    shaped = {"vectors": {**defaults, **(vectors or {})}, "images": {**defaults, **(images or {})}}
    own = shaped["vectors" if toy else "images"]
    cls = type(
        name.replace("-", "_").upper() + "Recipe",
        (GANRecipe,),
        {"name": name, "help": RECIPE_HELP[name], "mode": mode, "toy": toy,
         "shaped_defaults": shaped},
    )  # fmt: skip
    cls.config = with_defaults(GANConfig, f"{cls.__name__[:-6]}Config", __name__, **own)
    recipe = cls()
    # the smoke options that act for this variant on its default data (hidden: MLPs only,
    # filters: DCGAN only)
    default = recipe.with_components(cls.config(), (2,) if toy else (8, 8, 1))
    inactive = recipe.inactive_options(default)
    cls.smoke = {k: v for k, v in GANRecipe.smoke.items() if k not in inactive}
    return recipe


# The budget and step sizes by kind of data. Digits (8x8, 1,437 training images, 23 updates an
# epoch) learn in 30 epochs at Adam 2e-4 (GANConfig's defaults); the 2-D toys (3,200 training
# points, 50 updates an epoch) need 1e-3 and 160 epochs: at the digits' settings every variant
# covered 0-1 of the ring's 8 modes (seeds 1-3). Each variant's ``vectors`` entry is what
# covered the ring with its defaults, modes / high-quality share, mean of seeds 1-3
# (benchmarks/gan_family.py variants).
DIGITS = {"learning_rate": 2e-4, "critic_learning_rate": 2e-4, "epochs": 30}
TOY = {"learning_rate": 1e-3, "critic_learning_rate": 1e-3, "epochs": 160}
# Adam's beta_1 = 0 for the non-saturating / Jensen-Shannon MLP GANs: at 0.5 the default seed
# (0) collapsed to a blob between the modes (0 of 8 modes, 0.1% high-quality, for gan, dcgan
# and fgan alike; seed 4: 7 modes); at 0 every seed 0-7 covered 8 of 8, high-quality share
# 0.881 on the mean (0.5: 0.867 over the seeds that covered the ring), at no cost in time (the
# minibatch standard-deviation feature also covered seed 0, for 17% more training time).
TOY_GAN = {**TOY, "beta_1": 0.0}

RECIPES = {
    recipe.name: recipe
    for recipe in (
        # 8 of 8 modes, 83-88% high-quality samples in 10 s of training (30 epochs, 1,500
        # updates, covered 0.3 modes; 2e-4 had not left its first blob after 5k steps)
        _variant("gan", toy=True, vectors=TOY_GAN, images={**DIGITS, "beta_1": 0.5}),
        _variant("dcgan", images={"critic_batch_norm": True}, vectors=TOY_GAN),  # 8 / 0.85
        # No vector defaults: weight clipping left every ring mode uncovered (0 of 8, 1-5% of
        # samples near a mode) at every setting tried (clip 0.01-1, Adam 5e-5-1e-3, 5-10 critic
        # steps, 160-400 epochs, the EMA, a 512x3 critic): its critic matches the first
        # moments only (Gulrajani et al. 2017, fig. 1); wgan-gp is the Wasserstein GAN for them
        _variant(
            "wgan",
            divergence="wasserstein",
            clip_value=0.01,
            critic_steps=5,
            learning_rate=5e-5,
            critic_learning_rate=5e-5,
            beta_1=0.0,
        ),
        _variant(
            "wgan-gp",
            divergence="wasserstein",
            critic_steps=5,
            images={
                "gradient_penalty": 10.0,
                "learning_rate": 1e-4,
                "critic_learning_rate": 1e-4,
                "beta_1": 0.0,
                "beta_2": 0.9,
            },
            # 8 / 0.80; Gulrajani et al.'s toy penalty 0.1 (10: 6.7 modes, 0.21); 300 epochs:
            # 8 / 0.68
            vectors={
                **TOY,
                "epochs": 400,
                "gradient_penalty": 0.1,
                "beta_1": 0.5,
                "beta_2": 0.9,
                "ema_decay": 0.999,
            },
        ),
        _variant(
            "sngan",
            divergence="hinge",
            spectral_norm=True,
            beta_1=0.0,
            beta_2=0.9,
            vectors={**TOY, "ema_decay": 0.999},  # 8 / 0.83 (without the EMA: 8 / 0.54)
        ),
        _variant(
            "lsgan",
            divergence="least-squares",
            # 7.7 / 0.80 (without the minibatch-std feature and the EMA: 7.3 / 0.83, one
            # seed losing modes)
            vectors={**TOY, "minibatch_std": True, "ema_decay": 0.999},
        ),
        _variant(
            "fgan",
            toy=True,
            divergence="f-jensen-shannon",
            vectors=TOY_GAN,  # as gan
            images={**DIGITS, "beta_1": 0.5},
        ),
        _variant("cgan", mode="conditional", vectors=TOY),  # 8 / 0.97
        # 8 / 0.96 (without the EMA: 8 / 0.68, one seed at 0.25)
        _variant("acgan", mode="acgan", vectors={**TOY, "ema_decay": 0.999}),
        _variant(
            "ssgan",
            mode="ssgan",
            # Salimans et al. 2016; on digits with 100 labels: 87.2 +- 1.6% test accuracy
            # against 79.1 +- 3.9% with the non-saturating loss (benchmarks/gan_family.py ssgan)
            feature_matching=True,
            # on the ring the generator collapses: 1 / 0.19 with feature matching, 3.3-6 of 8
            # modes without it (with the minibatch-std feature and the EMA, 160-320 epochs;
            # with beta_1 0: 1.67 without it, 1.00 with it, seeds 1-3); feature matching
            # stays, for the classifier this recipe is for
            vectors=TOY,
        ),
    )
}
