"""``AdversarialModel``: one ``keras.Model`` that trains any registered generator x critic x
adversarial divergence, with two optimizers, the update schedule and the stabilising tricks.

Modes: ``unconditional``; ``conditional`` (the label goes to both networks: one-hot
concatenation or a projection critic); ``acgan`` (the critic's outputs are one adversarial
score and C class logits; both networks also minimise the class cross-entropy, Odena et al.
2017); ``ssgan`` (a C-output critic read as C real classes plus an implicit fake class with logit
0, so D(x) = Z / (Z + 1) with Z = sum_k exp(l_k): the adversarial logit is logsumexp(l);
labelled examples add a supervised cross-entropy, Salimans et al. 2016).

Schedule: ``alternating`` updates the critic on every batch and the generator on every
``critic_steps``-th one (each critic step sees a new batch, as in WGAN); ``simultaneous`` takes
both gradients from one forward pass.

Tricks (options): gradient penalty on interpolates (WGAN-GP), R1 penalty on real data, weight
clipping (WGAN), one-sided label smoothing (sigmoid losses), instance noise annealed to zero,
DiffAugment (translation, cutout, colour) applied to real and fake critic inputs, an
exponential moving average of the generator's weights used for sampling, and feature matching
(Salimans et al. 2016: the generator minimises ||E f(x) - E f(G(z))||^2 over the critic's last
hidden features ``critic.features``, instead of the divergence's generator loss).

Both optimizers are attributes, built on their own variables and saved with the model (in
``model.keras`` and in every checkpoint); ``get_compile_config``/``compile_from_config`` let
``load_model`` restore them.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from gentk.api import batch_rows, record_weighted, records_config, run_if
from gentk_gan.catalogue import SCHEDULES

__all__ = ["AdversarialModel", "MODES", "SCHEDULES", "diff_augment"]

MODES = ("unconditional", "conditional", "acgan", "ssgan")
AUGMENTS = ("translation", "cutout", "color")
SIGMOID_LOSSES = ("minimax", "nonsaturating")


def _scaled(model, optimizer):
    """``optimizer``, in a ``LossScaleOptimizer`` when the model computes in float16 (Keras
    wraps the one optimizer it is given; a GAN has two)."""
    optimizer = keras.optimizers.get(optimizer)
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    if model.dtype_policy.name == "mixed_float16" and not scaled:
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def diff_augment(x: tf.Tensor, policy: tuple[str, ...], seed: tf.Tensor):
    """Differentiable augmentation (Zhao et al., 2020) of images ``[B, H, W, C]``: random
    translation by up to 1/8 of the side (zero fill), a cutout of half the side, brightness,
    saturation and contrast jitter. Gradients flow through to the generator."""
    if not policy or len(x.shape) != 4:
        return x
    b = tf.shape(x)[0]
    h, w = x.shape[1], x.shape[2]
    if "color" in policy:
        x = x + (keras.random.uniform((b, 1, 1, 1), seed=seed) - 0.5)
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        x = (x - mean) * (keras.random.uniform((b, 1, 1, 1), seed=seed) * 2.0) + mean
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * (keras.random.uniform((b, 1, 1, 1), seed=seed) + 0.5) + mean
    if "translation" in policy:
        shift = max(1, h // 8)
        dy = tf.cast(keras.random.uniform((b,), -shift, shift + 1, seed=seed), tf.int32)
        dx = tf.cast(keras.random.uniform((b,), -shift, shift + 1, seed=seed), tf.int32)
        rows = tf.range(h)[None, :] - dy[:, None]  # [B, H] source row of each target row
        cols = tf.range(w)[None, :] - dx[:, None]
        valid = (
            tf.cast((rows >= 0) & (rows < h), x.dtype)[:, :, None, None]
            * tf.cast((cols >= 0) & (cols < w), x.dtype)[:, None, :, None]
        )
        x = tf.gather(x, tf.clip_by_value(rows, 0, h - 1), axis=1, batch_dims=1)
        x = tf.gather(x, tf.clip_by_value(cols, 0, w - 1), axis=2, batch_dims=1)
        x = x * valid
    if "cutout" in policy:
        ch, cw = max(1, h // 2), max(1, w // 2)
        cy = tf.cast(keras.random.uniform((b,), 0, h + 1 - ch % 2, seed=seed), tf.int32)
        cx = tf.cast(keras.random.uniform((b,), 0, w + 1 - cw % 2, seed=seed), tf.int32)
        ys = tf.range(h)[None, :]
        xs = tf.range(w)[None, :]
        in_y = (ys >= cy[:, None] - ch // 2) & (ys < cy[:, None] - ch // 2 + ch)
        in_x = (xs >= cx[:, None] - cw // 2) & (xs < cx[:, None] - cw // 2 + cw)
        hole = tf.cast(in_y[:, :, None] & in_x[:, None, :], x.dtype)[..., None]
        x = x * (1.0 - hole)
    return x


def _losses(name):
    from gentk.api import get_registry

    divergence = get_registry().get("divergence", name).create()
    if "adversarial" not in getattr(divergence, "supports", ()):
        raise ValueError(f"divergence {name!r} is not an adversarial divergence")
    return divergence


@keras.saving.register_keras_serializable(package="gentk_gan")
@records_config
class AdversarialModel(keras.Model):
    """A GAN: generator, critic, an adversarial divergence and the training schedule.

    Args:
        generator: a ``Generator`` layer (or its serialized config).
        critic: a ``Critic`` layer (or its serialized config).
        divergence: name of a registered adversarial divergence (``nonsaturating``,
            ``wasserstein``, ``hinge``, ``f-hellinger``, ...).
        latent_dim: size of z ~ N(0, I).
        mode: ``unconditional``, ``conditional``, ``acgan`` or ``ssgan``.
        num_classes: C, for every mode but ``unconditional``.
        critic_steps: critic updates per generator update (alternating schedule).
        schedule: ``alternating`` or ``simultaneous``.
        gradient_penalty: lambda of E[(||grad D(x_hat)|| - 1)^2] on real/fake interpolates.
        r1_penalty: gamma of gamma/2 E[||grad D(x_real)||^2].
        clip_value: clip every critic weight to [-c, c] after each update (WGAN); 0: off.
        label_smoothing: one-sided: real targets 1 - alpha (minimax / non-saturating only).
        instance_noise: sigma_0 of N(0, sigma_t^2) added to every critic input, annealed
            linearly to 0 over ``instance_noise_steps`` critic updates.
        ema_decay: decay of the generator weights' moving average used for sampling; 0: off.
        diffaugment: comma-separated subset of translation, cutout, color.
        aux_weight: weight of the class cross-entropy (acgan) or of the supervised term (ssgan).
        unroll_steps: k of the unrolled GAN (Metz et al., 2017): the generator's loss is taken
            against the critic after k differentiable gradient-descent steps on the current
            batch (step ``unroll_learning_rate``), so the generator sees how the critic would
            answer; the critic's own update is unchanged. 0: off.
        seed: seed of z, interpolation, noise and augmentation draws.

    #### Examples

    ```python
    gan = AdversarialModel(MLPGenerator((2,), 8, output_activation="linear"), MLPCritic(),
                           divergence="nonsaturating", latent_dim=8)
    gan.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                critic_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    gan.fit(points, batch_size=128, epochs=50)
    new_points = gan.sample(1000)
    ```
    """

    def __init__(
        self,
        generator: keras.Model,
        critic: keras.Model,
        divergence: str = "nonsaturating",
        latent_dim: int = 64,
        mode: str = "unconditional",
        num_classes: int = 0,
        critic_steps: int = 1,
        schedule: str = "alternating",
        gradient_penalty: float = 0.0,
        r1_penalty: float = 0.0,
        clip_value: float = 0.0,
        label_smoothing: float = 0.0,
        instance_noise: float = 0.0,
        instance_noise_steps: int = 0,
        ema_decay: float = 0.0,
        diffaugment: str = "",
        aux_weight: float = 1.0,
        unroll_steps: int = 0,
        unroll_learning_rate: float = 0.05,
        feature_matching: bool = False,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(critic, dict):
            critic = keras.saving.deserialize_keras_object(critic)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: {schedule!r}")
        if mode != "unconditional" and int(num_classes) < 2:
            raise ValueError(f"mode {mode!r} needs num_classes >= 2. Received: {num_classes}")
        if int(critic_steps) < 1 or (schedule == "simultaneous" and int(critic_steps) != 1):
            raise ValueError(
                "`critic_steps` must be >= 1 (and 1 with the simultaneous schedule). "
                f"Received: critic_steps={critic_steps}, schedule={schedule!r}"
            )
        if int(unroll_steps) < 0 or float(unroll_learning_rate) <= 0:
            raise ValueError(
                "`unroll_steps` must be >= 0 and `unroll_learning_rate` > 0. Received: "
                f"{unroll_steps}, {unroll_learning_rate}"
            )
        for name, value in (
            ("gradient_penalty", gradient_penalty),
            ("r1_penalty", r1_penalty),
            ("clip_value", clip_value),
            ("instance_noise", instance_noise),
            ("aux_weight", aux_weight),
        ):
            if float(value) < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {name}={value}")
        if not 0 <= float(label_smoothing) < 0.5:
            raise ValueError(f"`label_smoothing` must lie in [0, 0.5). Received: {label_smoothing}")
        if float(label_smoothing) and divergence not in SIGMOID_LOSSES:
            raise ValueError(
                "one-sided label smoothing applies to the sigmoid losses (minimax, "
                f"nonsaturating). Received: divergence={divergence!r}"
            )
        if feature_matching and not hasattr(critic, "features"):
            raise ValueError(
                f"feature matching reads the critic's features(x, condition, training), which "
                f"{type(critic).__name__} does not define"
            )
        if feature_matching and int(unroll_steps):
            raise ValueError("feature matching and the unrolled GAN do not combine")
        if not 0 <= float(ema_decay) < 1:
            raise ValueError(f"`ema_decay` must lie in [0, 1). Received: {ema_decay}")
        policy = tuple(p.strip() for p in str(diffaugment).split(",") if p.strip())
        unknown = set(policy) - set(AUGMENTS)
        if unknown:
            raise ValueError(
                f"`diffaugment` takes {', '.join(AUGMENTS)}. Received: {diffaugment!r}"
            )
        self.generator = generator
        self.critic = critic
        self.divergence_name = divergence
        self.divergence = _losses(divergence)
        self.latent_dim = int(latent_dim)
        self.mode = mode
        self.num_classes = int(num_classes)
        self.critic_steps = int(critic_steps)
        self.schedule = schedule
        self.gradient_penalty = float(gradient_penalty)
        self.r1_penalty = float(r1_penalty)
        self.clip_value = float(clip_value)
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = int(instance_noise_steps)
        self.ema_decay = float(ema_decay)
        self.policy = policy
        self.aux_weight = float(aux_weight)
        self.unroll_steps = int(unroll_steps)
        self.unroll_learning_rate = float(unroll_learning_rate)
        self.feature_matching = bool(feature_matching)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.ema_generator = None
        if self.ema_decay:
            self.ema_generator = keras.saving.deserialize_keras_object(
                keras.saving.serialize_keras_object(generator)
            )
            self.ema_generator.trainable = False
        self.critic_updates = keras.Variable(
            0, dtype="int64", trainable=False, name="critic_updates"
        )
        names = ["critic_loss", "generator_loss"]
        if self.gradient_penalty:
            names.append("gradient_penalty")
        if self.r1_penalty:
            names.append("r1_penalty")
        if mode in ("acgan", "ssgan"):
            names += ["class_loss", "class_accuracy"]
        self.loss_names = tuple(names)
        self._trackers = {n: keras.metrics.Mean(name=n) for n in self.loss_names}

    # -- compile, build, save -----------------------------------------------------------
    def compile(
        self,
        generator_optimizer: keras.optimizers.Optimizer | None = None,
        critic_optimizer: keras.optimizers.Optimizer | None = None,
        **kwargs,
    ):
        """Two optimizers (Adam(2e-4, beta_1=0.5) each by default); ``model.optimizer`` is the
        generator's. Other arguments (``jit_compile``, ``steps_per_execution``) go to Keras."""
        kwargs.pop("optimizer", None)
        self.generator_optimizer = _scaled(
            self, generator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        )
        self.critic_optimizer = _scaled(
            self, critic_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        )
        super().compile(optimizer=self.generator_optimizer, **kwargs)

    @property
    def optimizers(self):
        return [self.generator_optimizer, self.critic_optimizer]

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            "generator_optimizer": keras.saving.serialize_keras_object(self.generator_optimizer),
            "critic_optimizer": keras.saving.serialize_keras_object(self.critic_optimizer),
        }

    def compile_from_config(self, config: dict):
        self.compile(
            generator_optimizer=keras.saving.deserialize_keras_object(
                config["generator_optimizer"]
            ),
            critic_optimizer=keras.saving.deserialize_keras_object(config["critic_optimizer"]),
        )
        if self.built:
            self.build_optimizers()

    def training_contract(self):
        """The generator's optimizer on the generator (``generator_loss``, ``learning_rate``)
        and the critic's on the critic (``critic_loss``, ``critic_learning_rate``)."""
        from gentk.api import Optimized

        return [
            Optimized("generator", self.generator_optimizer, self.generator.trainable_variables,
                      "generator_loss", "learning_rate"),
            Optimized("critic", self.critic_optimizer, self.critic.trainable_variables,
                      "critic_loss", "critic_learning_rate"),
        ]  # fmt: skip

    def build_optimizers(self):
        """Create both optimizers' state on their own variables (before ``load_weights``, or
        Keras skips the saved optimizer state)."""
        for part in self.training_contract():
            part.optimizer.build(part.variables)

    def build(self, input_shape: tuple[int | None, ...]):
        x_shape = input_shape["x"] if isinstance(input_shape, dict) else input_shape
        # deserialized sub-layers arrive built (from their own build config)
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        if self.ema_generator is not None and not self.ema_generator.built:
            self.ema_generator.build((None, self.latent_dim))
            for a, b in zip(self.ema_generator.weights, self.generator.weights):
                a.assign(b)
        if not self.critic.built:
            self.critic.build(tuple(x_shape))
        self.built = True

    def fit(self, x: Any = None, *args, **kwargs):
        """``keras.Model.fit`` after building the networks and both optimizers on one batch."""
        if not self.built and x is not None:
            first = next(iter(x)) if isinstance(x, tf.data.Dataset) else x
            if isinstance(first, dict):
                self({k: v[:2] for k, v in first.items()})
            else:
                self(first[:2] if not isinstance(first, tuple) else first[0][:2])
        if getattr(self, "compiled", False) and not self.generator_optimizer.built:
            self.build_optimizers()
        return super().fit(x, *args, **kwargs)

    # -- the generative API ---------------------------------------------------------------
    @property
    def metrics(self):
        return list(self._trackers.values())

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            return data["x"], tf.cast(tf.reshape(data["label"], [-1]), tf.int32)
        return data, None

    def call(self, inputs: tf.Tensor | dict[str, tf.Tensor], training: bool = False):
        """The critic's scores of ``inputs`` (``x`` or ``{"x", "label"}``)."""
        x, labels = self._unpack(inputs)
        return self.critic(x, self._critic_condition(labels), training=training)

    def _critic_condition(self, labels):
        return labels if self.mode == "conditional" else None

    def _generator_condition(self, labels):
        return labels if self.mode in ("conditional", "acgan") else None

    def sample(self, n: int, seed: int = 0, label: int | None = None):
        """``n`` samples from the generator (its moving average when ``ema_decay``)."""
        gen = self.ema_generator if self.ema_generator is not None else self.generator
        z = keras.random.normal((int(n), self.latent_dim), seed=int(seed))
        condition = None
        if self._generator_condition(0) is not None:
            if label is None:
                condition = tf.range(int(n)) % self.num_classes
            else:
                condition = tf.fill([int(n)], int(label))
        return gen(z, condition, training=False)

    def classify(self, x: tf.Tensor):
        """Class probabilities from the critic (acgan, ssgan)."""
        if self.mode not in ("acgan", "ssgan"):
            raise ValueError(f"mode {self.mode!r} has no classifier")
        scores = self.critic(x, None, training=False)
        logits = scores[:, 1:] if self.mode == "acgan" else scores
        return tf.nn.softmax(logits, axis=-1)

    # -- losses -----------------------------------------------------------------------------
    def _split(self, scores):
        """(adversarial score [B], class logits [B, C] or None) of the critic's output."""
        if self.mode == "acgan":
            return scores[:, 0], scores[:, 1:]
        if self.mode == "ssgan":
            return tf.reduce_logsumexp(scores, axis=-1), scores
        return scores, None

    def _noise_scale(self):
        if not self.instance_noise:
            return None
        if self.instance_noise_steps <= 0:
            return tf.constant(self.instance_noise, tf.float32)
        left = 1.0 - tf.cast(self.critic_updates, tf.float32) / float(self.instance_noise_steps)
        return self.instance_noise * tf.maximum(left, 0.0)

    def _critic_input(self, x, sigma):
        x = diff_augment(x, self.policy, self.seed_generator)
        if sigma is not None:
            x = x + sigma * keras.random.normal(tf.shape(x), seed=self.seed_generator)
        return x

    def _fake(self, batch, labels, training):
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        return self.generator(z, self._generator_condition(labels), training=training)

    def _penalties(self, real, fake, labels):
        out = {}
        condition = self._critic_condition(labels)
        if self.gradient_penalty:
            shape = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], 0)
            eps = keras.random.uniform(shape, seed=self.seed_generator)
            mixed = eps * real + (1.0 - eps) * fake
            with tf.GradientTape() as tape:
                tape.watch(mixed)
                score = tf.reduce_sum(self._split(self.critic(mixed, condition, training=True))[0])
            grad = tape.gradient(score, mixed)
            norm = tf.sqrt(
                tf.reduce_sum(tf.square(tf.reshape(grad, (tf.shape(grad)[0], -1))), 1) + 1e-12
            )
            out["gradient_penalty"] = tf.reduce_mean(tf.square(norm - 1.0))
        if self.r1_penalty:
            with tf.GradientTape() as tape:
                tape.watch(real)
                score = tf.reduce_sum(self._split(self.critic(real, condition, training=True))[0])
            grad = tape.gradient(score, real)
            out["r1_penalty"] = tf.reduce_mean(
                tf.reduce_sum(tf.square(tf.reshape(grad, (tf.shape(grad)[0], -1))), 1)
            )
        return out

    def _class_terms(self, real_logits, fake_logits, labels):
        """AC-GAN: CE of real and fake; SSGAN: CE of the labelled real examples (label >= 0)."""
        if self.mode == "acgan":
            ce_real = keras.losses.sparse_categorical_crossentropy(labels, real_logits, True)
            ce_fake = keras.losses.sparse_categorical_crossentropy(labels, fake_logits, True)
            hit = tf.cast(tf.argmax(real_logits, -1, output_type=tf.int32) == labels, tf.float32)
            return tf.reduce_mean(ce_real) + tf.reduce_mean(ce_fake), tf.reduce_mean(hit)
        mask = tf.cast(labels >= 0, tf.float32)
        safe = tf.maximum(labels, 0)
        ce = keras.losses.sparse_categorical_crossentropy(safe, real_logits, True)
        hit = tf.cast(tf.argmax(real_logits, -1, output_type=tf.int32) == safe, tf.float32)
        count = tf.maximum(tf.reduce_sum(mask), 1.0)
        return tf.reduce_sum(ce * mask) / count, tf.reduce_sum(hit * mask) / count

    def compute_losses(self, data: Any, training: bool = False, generator: bool = True):
        """Every term for one batch: ``critic_loss`` (with penalties and class terms),
        ``generator_loss`` (unless ``generator`` is False: a critic step whose generator step
        draws its own) and the extras in ``loss_names``."""
        x, labels = self._unpack(data)
        x = tf.cast(x, tf.float32)
        fake = self._fake(tf.shape(x)[0], labels, training)
        sigma = self._noise_scale() if training else None
        real_in, fake_in = self._critic_input(x, sigma), self._critic_input(fake, sigma)
        condition = self._critic_condition(labels)
        real_adv, real_cls = self._split(self.critic(real_in, condition, training=training))
        fake_adv, fake_cls = self._split(self.critic(fake_in, condition, training=training))
        critic_loss = self.divergence.critic_loss(real_adv, fake_adv)
        if self.label_smoothing:
            # target 1 - a for real: a*softplus(s) + (1 - a)*softplus(-s) = softplus(-s) + a*s
            critic_loss += self.label_smoothing * tf.reduce_mean(real_adv)
        out = {}
        if generator:
            out["generator_loss"] = self._generator_objective(
                fake_adv, fake_cls, labels, (real_in, fake_in, condition, training)
            )
        penalties = self._penalties(real_in, fake_in, labels)
        out.update(penalties)
        critic_loss += self.gradient_penalty * penalties.get("gradient_penalty", 0.0)
        critic_loss += 0.5 * self.r1_penalty * penalties.get("r1_penalty", 0.0)
        if self.mode in ("acgan", "ssgan"):
            class_loss, accuracy = self._class_terms(real_cls, fake_cls, labels)
            critic_loss += self.aux_weight * class_loss
            out["class_loss"], out["class_accuracy"] = class_loss, accuracy
        out["critic_loss"] = critic_loss
        return out

    def _generator_objective(self, fake_adv, fake_cls, labels, inputs=None):
        """The generator's loss; ``inputs`` = (real_in, fake_in, condition, training) of the
        critic, read by feature matching."""
        if self.feature_matching:
            real_in, fake_in, condition, training = inputs
            real = tf.cast(self.critic.features(real_in, condition, training=training), "float32")
            fake = tf.cast(self.critic.features(fake_in, condition, training=training), "float32")
            gap = tf.stop_gradient(tf.reduce_mean(real, 0)) - tf.reduce_mean(fake, 0)
            loss = tf.reduce_sum(tf.square(gap))
        else:
            loss = self.divergence.generator_loss(fake_adv)
        if self.mode == "acgan":
            ce = keras.losses.sparse_categorical_crossentropy(labels, fake_cls, True)
            loss += self.aux_weight * tf.reduce_mean(ce)
        return loss

    def generator_loss(self, data: Any, training: bool = True):
        """The generator's objective on a fresh draw of z (against the unrolled critic when
        ``unroll_steps``)."""
        x, labels = self._unpack(data)
        fake = self._fake(tf.shape(x)[0], labels, training)
        sigma = self._noise_scale() if training else None
        fake_in = self._critic_input(fake, sigma)
        condition = self._critic_condition(labels)
        real_in = None
        if self.feature_matching or (self.unroll_steps and training):
            real_in = self._critic_input(tf.cast(x, tf.float32), sigma)
        if self.unroll_steps and training:
            weights = self.unrolled_critic_weights(real_in, fake_in, condition)
            scores = self._critic_with(weights, fake_in, condition)
        else:
            scores = self.critic(fake_in, condition, training=training)
        inputs = (real_in, fake_in, condition, training)
        return self._generator_objective(*self._split(scores), labels, inputs)

    def _critic_with(self, trainable, x, condition):
        non_trainable = [v.value for v in self.critic.non_trainable_variables]
        scores, _ = self.critic.stateless_call(trainable, non_trainable, x, condition)
        return scores

    def unrolled_critic_weights(
        self, real_in: tf.Tensor, fake_in: tf.Tensor, condition: tf.Tensor | None
    ):
        """The critic's trainable weights after ``unroll_steps`` steps of gradient descent on
        its loss for this batch, w_{k+1} = w_k - eta * grad L_D(w_k), kept differentiable
        with respect to the fake inputs (and so to the generator)."""
        weights = [tf.convert_to_tensor(v) for v in self.critic.trainable_variables]
        for _ in range(self.unroll_steps):
            with tf.GradientTape() as tape:
                tape.watch(weights)
                real = self._split(self._critic_with(weights, real_in, condition))[0]
                fake = self._split(self._critic_with(weights, fake_in, condition))[0]
                loss = self.divergence.critic_loss(real, fake)
            grads = tape.gradient(loss, weights)
            weights = [
                w if g is None else w - self.unroll_learning_rate * tf.convert_to_tensor(g)
                for w, g in zip(weights, grads)
            ]
        return weights

    # -- steps --------------------------------------------------------------------------
    def _apply(self, optimizer, loss, tape, variables):
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    def _record(self, losses, data):
        return record_weighted(self._trackers, losses, batch_rows(data))

    def _clip(self):
        if self.clip_value:
            for w in self.critic.trainable_variables:
                w.assign(tf.clip_by_value(w, -self.clip_value, self.clip_value))

    def ema_rate(self):
        """The EMA's decay after t generator updates: min(decay, (1 + t) / (10 + t)), the
        ramp of ``tf.train.ExponentialMovingAverage(num_updates=t)``. Without it the average
        kept 0.999^t of the untrained generator: 8% after 2,500 updates, enough to ruin it."""
        t = tf.cast(self.generator_optimizer.iterations, tf.float32)
        return tf.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))

    def _update_ema(self):
        if self.ema_generator is None:
            return
        d = self.ema_rate()
        for avg, w in zip(self.ema_generator.weights, self.generator.weights):
            if w.trainable:
                avg.assign(d * avg + (1.0 - d) * w)
            else:
                avg.assign(w)  # batch-norm statistics are copied

    def _generator_step(self, data):
        with tf.GradientTape() as tape:
            value = self.generator_loss(data, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = self.generator_optimizer.scale_loss(value / replicas)
        self._apply(self.generator_optimizer, loss, tape, self.generator.trainable_variables)
        self._update_ema()
        return value

    def train_step(self, data: Any):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        simultaneous = self.schedule == "simultaneous"
        # alternating with one critic step: the generator step computes (and logs) its own loss
        own_step = not simultaneous and self.critic_steps == 1
        with tf.GradientTape(persistent=simultaneous) as tape:
            losses = self.compute_losses(data, training=True, generator=not own_step)
            critic_loss = self.critic_optimizer.scale_loss(losses["critic_loss"] / replicas)
            if simultaneous:
                generator_loss = self.generator_optimizer.scale_loss(
                    losses["generator_loss"] / replicas
                )
        critic_vars = self.critic.trainable_variables
        generator_vars = self.generator.trainable_variables
        if simultaneous:
            g_grads = tape.gradient(generator_loss, generator_vars)
            c_grads = tape.gradient(critic_loss, critic_vars)
            del tape
            self.critic_optimizer.apply_gradients(zip(c_grads, critic_vars))
            self.generator_optimizer.apply_gradients(zip(g_grads, generator_vars))
            self._update_ema()
        else:
            self._apply(self.critic_optimizer, critic_loss, tape, critic_vars)
        self._clip()
        self.critic_updates.assign_add(1)
        if not simultaneous:
            if own_step:
                losses["generator_loss"] = self._generator_step(data)
            else:
                # the logged generator loss is then the one before this batch's updates
                due = tf.equal(self.critic_updates % self.critic_steps, 0)
                run_if(due, self._generator_step, data)
        return self._record(losses, data)

    def test_step(self, data: Any):
        return self._record(self.compute_losses(data, training=False), data)
