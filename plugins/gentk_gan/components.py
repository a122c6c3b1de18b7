"""Generators and critics for the GAN family: MLP and DCGAN stacks, with spectral normalisation,
the minibatch standard-deviation feature, label conditioning (one-hot concatenation or a
projection critic) and multi-output heads (AC-GAN's classes, the C-class semi-supervised
discriminator).

Labels arrive as integer tensors ``[B]`` in ``condition``; the layers one-hot or embed them.
A critic returns ``[B]`` scores when ``outputs == 1`` and ``[B, outputs]`` otherwise.

#### References
Radford, Metz and Chintala, Unsupervised Representation Learning with Deep Convolutional GANs
(DCGAN), ICLR 2016. Miyato and Koyama, cGANs with Projection Discriminator, ICLR 2018. Karras et
al., Progressive Growing of GANs (minibatch standard deviation), ICLR 2018.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from gentk.api import Critic, Generator

__all__ = [
    "MLPGenerator",
    "DCGANGenerator",
    "MLPCritic",
    "DCGANCritic",
    "MinibatchStdDev",
    "VirtualBatchNorm",
    "CONDITIONING",
    "OUTPUT_ACTIVATIONS",
]

CONDITIONING = ("concat", "projection")
OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "linear")


def _positive_ints(name, values):
    values = tuple(int(v) for v in values)
    if any(v < 1 for v in values):
        raise ValueError(f"`{name}` must hold positive integers. Received: {name}={values}")
    return values


def _check(condition, message):
    if not condition:
        raise ValueError(message)


@keras.saving.register_keras_serializable(package="gentk_gan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one more feature (or channel),
    so the critic can see a collapsed, too-uniform batch (Karras et al., 2018)."""

    def call(self, h: tf.Tensor):
        mean = tf.reduce_mean(h, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(h - mean), axis=0) + 1e-8)
        stat = tf.reduce_mean(std)
        extra = tf.ones_like(h[..., :1]) * stat
        return tf.concat([h, extra], axis=-1)

    def compute_output_shape(self, shape: tuple[int | None, ...]):
        return (*shape[:-1], None if shape[-1] is None else shape[-1] + 1)


@keras.saving.register_keras_serializable(package="gentk_gan")
class VirtualBatchNorm(keras.layers.Layer):
    """Virtual batch normalisation (Salimans et al., 2016): the first ``reference`` rows of the
    input are a fixed reference batch; every other row is normalised with the moments of the
    reference batch and itself, mu_i = (R mu_ref + x_i) / (R + 1) (and likewise for the second
    moment), so an example's output never depends on the other examples of its batch.
    gamma and beta are learned as in batch normalisation."""

    def __init__(self, reference: tf.Tensor, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.reference = int(reference)
        self.epsilon = float(epsilon)

    def build(self, shape: tuple[int | None, ...]):
        width = int(shape[-1])
        self.gamma = self.add_weight(shape=(width,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(width,), initializer="zeros", name="beta")

    def call(self, h: tf.Tensor):
        ref = h[: self.reference]
        r = float(self.reference)
        mean_ref = tf.reduce_mean(ref, axis=0, keepdims=True)
        sq_ref = tf.reduce_mean(tf.square(ref), axis=0, keepdims=True)
        mean = (r * mean_ref + h) / (r + 1.0)
        var = (r * sq_ref + tf.square(h)) / (r + 1.0) - tf.square(mean)
        return self.gamma * (h - mean) * tf.math.rsqrt(var + self.epsilon) + self.beta

    def compute_output_shape(self, shape: tuple[int | None, ...]):
        return shape

    def get_config(self):
        return {**super().get_config(), "reference": self.reference, "epsilon": self.epsilon}


class _Conditioned:
    """One-hot labels for layers that take ``num_classes``."""

    def _one_hot(self, condition, dtype):
        return tf.one_hot(
            tf.cast(tf.reshape(condition, [-1]), tf.int32), self.num_classes, dtype=dtype
        )


@keras.saving.register_keras_serializable(package="gentk_gan")
class MLPGenerator(_Conditioned, Generator):
    """z (and a one-hot label when ``num_classes``) -> an MLP -> samples of ``output_shape``.

    Args:
        output_shape: shape of one sample, e.g. ``(8, 8, 1)`` or ``(2,)``.
        latent_dim: size of z.
        hidden: widths of the hidden layers.
        activation: hidden activation.
        output_activation: ``sigmoid`` (pixels in [0, 1]), ``tanh`` or ``linear`` (vectors).
        batch_norm: batch normalisation after each hidden layer.
        num_classes: > 0 for a class-conditional generator.
        virtual_batch_norm: R > 0: virtual batch normalisation after each hidden layer with a
            fixed reference batch of R noise vectors (saved with the weights).
    """

    def __init__(
        self,
        output_shape: tuple[int, int, int] = (8, 8, 1),
        latent_dim: int = 64,
        hidden: tuple[int, ...] = (128, 128),
        activation: str = "relu",
        output_activation: str = "sigmoid",
        batch_norm: bool = False,
        num_classes: int = 0,
        virtual_batch_norm: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_shape = _positive_ints("output_shape", output_shape)
        self.latent_dim = int(latent_dim)
        self.hidden = _positive_ints("hidden", hidden)
        self.virtual_batch_norm = int(virtual_batch_norm)
        _check(
            not (self.virtual_batch_norm and batch_norm),
            "choose batch_norm or virtual_batch_norm, not both",
        )
        _check(self.latent_dim >= 1, f"`latent_dim` must be >= 1. Received: {latent_dim}")
        _check(
            output_activation in OUTPUT_ACTIVATIONS,
            f"`output_activation` must be one of {OUTPUT_ACTIVATIONS}. "
            f"Received: {output_activation!r}",
        )
        self.activation = activation
        self.output_activation = output_activation
        self.batch_norm = bool(batch_norm)
        self.num_classes = int(num_classes)
        self.body = []
        for width in self.hidden:
            normalised = self.batch_norm or self.virtual_batch_norm
            self.body.append(keras.layers.Dense(width, use_bias=not normalised))
            if self.batch_norm:
                self.body.append(keras.layers.BatchNormalization())
            if self.virtual_batch_norm:
                self.body.append(VirtualBatchNorm(self.virtual_batch_norm))
            self.body.append(keras.layers.Activation(activation))
        size = 1
        for s in self.sample_shape:
            size *= s
        act = None if output_activation == "linear" else output_activation
        self.head = keras.layers.Dense(size, activation=act, dtype="float32")

    def build(self, z_shape: tuple[int | None, ...]):
        shape = (None, self.latent_dim + self.num_classes)
        if self.virtual_batch_norm:  # the fixed reference batch of noise (and labels)
            self.reference_z = self.add_weight(
                shape=(self.virtual_batch_norm, self.latent_dim + self.num_classes),
                initializer=_ReferenceNoise(self.latent_dim, self.num_classes),
                trainable=False,
                name="reference_z",
            )
        for layer in self.body:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.head.build(shape)

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = z
        if self.num_classes:
            h = tf.concat([h, self._one_hot(condition, h.dtype)], axis=-1)
        if self.virtual_batch_norm:
            h = tf.concat([tf.cast(self.reference_z, h.dtype), h], axis=0)
        for layer in self.body:
            h = layer(h, training=training)
        if self.virtual_batch_norm:
            h = h[self.virtual_batch_norm :]
        return tf.reshape(self.head(h), (-1, *self.sample_shape))

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.sample_shape,
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "batch_norm": self.batch_norm,
            "num_classes": self.num_classes,
            "virtual_batch_norm": self.virtual_batch_norm,
        }


@keras.saving.register_keras_serializable(package="gentk_gan")
class _ReferenceNoise(keras.initializers.Initializer):
    """N(0, I) noise, then one-hot labels cycling through the classes (the VBN reference)."""

    def __init__(self, latent_dim, num_classes=0, seed=1234):
        self.latent_dim, self.num_classes, self.seed = int(latent_dim), int(num_classes), seed

    def __call__(self, shape, dtype=None):
        z = keras.random.normal((shape[0], self.latent_dim), seed=self.seed, dtype=dtype)
        if not self.num_classes:
            return z
        labels = tf.range(shape[0]) % self.num_classes
        return tf.concat([z, tf.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=-1)

    def get_config(self):
        return {"latent_dim": self.latent_dim, "num_classes": self.num_classes, "seed": self.seed}


@keras.saving.register_keras_serializable(package="gentk_gan")
class DCGANGenerator(_Conditioned, Generator):
    """DCGAN: z -> dense -> reshape -> stride-2 transposed convolutions with batch norm and ReLU
    -> ``output_activation``. Each of ``filters`` is one stage that doubles the size, so the
    image side must be divisible by ``2 ** len(filters)``.

    Args:
        output_shape: ``(H, W, C)``.
        latent_dim: size of z.
        filters: filters of the first ... last hidden stage (the last stage outputs C channels).
        batch_norm: batch normalisation in the hidden stages (the DCGAN recipe).
        output_activation: ``sigmoid``, ``tanh`` or ``linear``.
        num_classes: > 0 for a class-conditional generator (one-hot label concatenated to z).
    """

    def __init__(
        self,
        output_shape: tuple[int, int, int] = (8, 8, 1),
        latent_dim: int = 64,
        filters: tuple[int, ...] = (64, 32),
        batch_norm: bool = True,
        output_activation: str = "sigmoid",
        num_classes: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_shape = _positive_ints("output_shape", output_shape)
        _check(
            len(self.sample_shape) == 3, f"DCGAN needs (H, W, C) images. Received: {output_shape}"
        )
        self.latent_dim = int(latent_dim)
        self.filters = _positive_ints("filters", filters)
        _check(len(self.filters) >= 1, "`filters` needs at least one stage")
        h, w, c = self.sample_shape
        k = 2 ** len(self.filters)
        _check(
            h % k == 0 and w % k == 0,
            f"image side {h}x{w} is not divisible by 2**len(filters) = {k}; use fewer filters",
        )
        _check(
            output_activation in OUTPUT_ACTIVATIONS,
            f"`output_activation` must be one of {OUTPUT_ACTIVATIONS}. "
            f"Received: {output_activation!r}",
        )
        self.batch_norm = bool(batch_norm)
        self.output_activation = output_activation
        self.num_classes = int(num_classes)
        self.start = (h // k, w // k, self.filters[0])
        self.project = keras.layers.Dense(
            self.start[0] * self.start[1] * self.start[2], use_bias=not self.batch_norm
        )
        self.stages = []
        widths = self.filters[1:]
        for f in widths:
            self.stages.append(
                keras.layers.Conv2DTranspose(
                    f, 4, strides=2, padding="same", use_bias=not self.batch_norm
                )
            )
            if self.batch_norm:
                self.stages.append(keras.layers.BatchNormalization())
            self.stages.append(keras.layers.ReLU())
        act = None if output_activation == "linear" else output_activation
        self.out = keras.layers.Conv2DTranspose(
            c, 4, strides=2, padding="same", activation=act, dtype="float32"
        )
        self.project_norm = keras.layers.BatchNormalization() if self.batch_norm else None

    def build(self, z_shape: tuple[int | None, ...]):
        self.project.build((None, self.latent_dim + self.num_classes))
        if self.project_norm is not None:
            self.project_norm.build((None, *self.start))
        shape = (None, *self.start)
        for layer in self.stages:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.out.build(shape)

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        h = z
        if self.num_classes:
            h = tf.concat([h, self._one_hot(condition, h.dtype)], axis=-1)
        h = tf.reshape(self.project(h), (-1, *self.start))
        if self.project_norm is not None:
            h = self.project_norm(h, training=training)
        h = tf.nn.relu(h)
        for layer in self.stages:
            h = layer(h, training=training)
        return self.out(h)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.sample_shape,
            "latent_dim": self.latent_dim,
            "filters": self.filters,
            "batch_norm": self.batch_norm,
            "output_activation": self.output_activation,
            "num_classes": self.num_classes,
        }


class _CriticBase(_Conditioned, Critic):
    """Shared options and the output head of the MLP and DCGAN critics."""

    def _init_head(
        self,
        spectral_norm,
        minibatch_std,
        num_classes,
        conditioning,
        outputs,
        leaky_slope,
        output_bias,
    ):
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_std = bool(minibatch_std)
        self.num_classes = int(num_classes)
        self.conditioning = conditioning
        self.outputs = int(outputs)
        self.leaky_slope = float(leaky_slope)
        self.output_bias = bool(output_bias)
        _check(
            conditioning in CONDITIONING,
            f"`conditioning` must be one of {CONDITIONING}. Received: {conditioning!r}",
        )
        _check(self.outputs >= 1, f"`outputs` must be >= 1. Received: {outputs}")
        _check(
            not (conditioning == "projection" and self.num_classes and self.outputs != 1),
            "a projection critic has one output",
        )
        self.mbstd = MinibatchStdDev() if self.minibatch_std else None
        self.head = self._wrap(
            keras.layers.Dense(self.outputs, use_bias=self.output_bias, dtype="float32")
        )
        self.embed = None
        if self.num_classes and conditioning == "projection":
            self.embed = keras.layers.Embedding(self.num_classes, 1)  # resized in build

    def _wrap(self, layer):
        if self.spectral_norm:
            return keras.layers.SpectralNormalization(layer, power_iterations=1)
        return layer

    def _build_head(self, width):
        if self.mbstd is not None:
            width += 1
        self.head.build((None, width))
        if self.embed is not None:
            self.embed = keras.layers.Embedding(self.num_classes, width)
            self.embed.build((None,))

    def _finish(self, h, condition, training):
        if self.mbstd is not None:
            h = self.mbstd(h)
        scores = self.head(h, training=training)
        if self.embed is not None:
            labels = tf.cast(tf.reshape(condition, [-1]), tf.int32)
            scores = scores + tf.reduce_sum(self.embed(labels) * h, axis=-1, keepdims=True)
        return scores[:, 0] if self.outputs == 1 else scores

    def _head_config(self):
        return {
            "spectral_norm": self.spectral_norm,
            "minibatch_std": self.minibatch_std,
            "num_classes": self.num_classes,
            "conditioning": self.conditioning,
            "outputs": self.outputs,
            "leaky_slope": self.leaky_slope,
            "output_bias": self.output_bias,
        }


@keras.saving.register_keras_serializable(package="gentk_gan")
class MLPCritic(_CriticBase):
    """x (flattened; a one-hot label concatenated when ``conditioning='concat'``) -> an MLP
    with LeakyReLU -> scores.

    Args:
        hidden: hidden widths.
        leaky_slope: LeakyReLU slope.
        spectral_norm: wrap every dense layer in spectral normalisation.
        minibatch_std: append the minibatch standard-deviation feature before the head.
        num_classes: > 0 for a class-conditional critic.
        conditioning: ``concat`` (one-hot into the input) or ``projection`` (Miyato & Koyama).
        outputs: 1 (a logit), 2 (two-class softmax), 1 + C (AC-GAN) or C (semi-supervised).
        output_bias: a bias on the scores (a Wasserstein critic's cancels out: leave it off).
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (128, 128),
        leaky_slope: float = 0.2,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        num_classes: int = 0,
        conditioning: str = "concat",
        outputs: int = 1,
        output_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden = _positive_ints("hidden", hidden)
        self._init_head(
            spectral_norm,
            minibatch_std,
            num_classes,
            conditioning,
            outputs,
            leaky_slope,
            output_bias,
        )
        self.body = [self._wrap(keras.layers.Dense(w)) for w in self.hidden]

    def build(self, x_shape: tuple[int | None, ...]):
        width = 1
        for s in x_shape[1:]:
            width *= int(s)
        if self.num_classes and self.conditioning == "concat":
            width += self.num_classes
        for layer in self.body:
            layer.build((None, width))
            width = layer.layer.units if self.spectral_norm else layer.units
        self._build_head(width)

    def features(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        """The last hidden layer ``[B, hidden[-1]]`` (feature matching reads it)."""
        h = tf.reshape(x, (tf.shape(x)[0], -1))
        if self.num_classes and self.conditioning == "concat":
            h = tf.concat([h, self._one_hot(condition, h.dtype)], axis=-1)
        for layer in self.body:
            h = tf.nn.leaky_relu(layer(h, training=training), self.leaky_slope)
        return h

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        return self._finish(self.features(x, condition, training), condition, training)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, **self._head_config()}


@keras.saving.register_keras_serializable(package="gentk_gan")
class DCGANCritic(_CriticBase):
    """DCGAN discriminator: stride-2 4x4 convolutions with LeakyReLU (batch norm after all but
    the first when ``batch_norm``), flattened into the head. A ``concat`` label enters as
    one-hot channels tiled over the image.

    Args:
        filters: filters per stride-2 stage.
        batch_norm: batch norm in the later stages (DCGAN); keep it off with a gradient penalty.
        (the rest as ``MLPCritic``)
    """

    def __init__(
        self,
        filters: tuple[int, ...] = (32, 64),
        batch_norm: bool = False,
        leaky_slope: float = 0.2,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        num_classes: int = 0,
        conditioning: str = "concat",
        outputs: int = 1,
        output_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _positive_ints("filters", filters)
        self.batch_norm = bool(batch_norm)
        self._init_head(
            spectral_norm,
            minibatch_std,
            num_classes,
            conditioning,
            outputs,
            leaky_slope,
            output_bias,
        )
        self.convs = [
            self._wrap(keras.layers.Conv2D(f, 4, strides=2, padding="same")) for f in self.filters
        ]
        self.norms = [
            keras.layers.BatchNormalization() if self.batch_norm and i > 0 else None
            for i in range(len(self.filters))
        ]

    def build(self, x_shape: tuple[int | None, ...]):
        shape = (None, *x_shape[1:])
        if self.num_classes and self.conditioning == "concat":
            shape = (*shape[:-1], shape[-1] + self.num_classes)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if norm is not None:
                norm.build(shape)
        width = 1
        for s in shape[1:]:
            width *= int(s)
        self._build_head(width)

    def features(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        """The last convolution's activations, flattened (feature matching reads them)."""
        h = x
        if self.num_classes and self.conditioning == "concat":
            onehot = self._one_hot(condition, h.dtype)[:, None, None, :]
            h = tf.concat([h, tf.ones_like(h[..., :1]) * onehot], axis=-1)
        for conv, norm in zip(self.convs, self.norms):
            h = conv(h, training=training)
            if norm is not None:
                h = norm(h, training=training)
            h = tf.nn.leaky_relu(h, self.leaky_slope)
        return tf.reshape(h, (tf.shape(h)[0], -1))

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None, training: bool = False):
        return self._finish(self.features(x, condition, training), condition, training)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "batch_norm": self.batch_norm,
            **self._head_config(),
        }
