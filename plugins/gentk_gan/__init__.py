"""Built-in plugin: the GAN family — generators, critics, adversarial divergences (minimax,
non-saturating, softmax forms, Wasserstein, hinge, least squares, f-GANs) and the recipes
``gan``, ``dcgan``, ``wgan``, ``wgan-gp``, ``sngan``, ``lsgan``, ``fgan``, ``cgan``, ``acgan``,
``ssgan``.

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be;
TensorFlow is imported inside the hooks.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from gentk import hookimpl
from gentk.api import option as _field
from gentk_gan.catalogue import F_NAMES, HELP, LOSS_PAIRS, RECIPE_HELP

__all__ = ["register_components", "register_models"]


@dataclasses.dataclass
class MLPGeneratorOptions:
    output_shape: tuple[int, ...] = _field((8, 8, 1), "shape of one sample", "the data")
    latent_dim: int = _field(64, "size of z")
    hidden: tuple[int, ...] = _field((128, 128), "hidden widths")
    activation: str = _field("relu", "hidden activation")
    output_activation: str = _field("sigmoid", "sigmoid, tanh or linear")
    batch_norm: bool = _field(False, "batch norm after hidden layers")
    num_classes: int = _field(0, "classes of a conditional generator (0: none)", "the data")
    virtual_batch_norm: int = _field(0, "virtual batch norm with R reference noise vectors")


@dataclasses.dataclass
class DCGANGeneratorOptions:
    output_shape: tuple[int, ...] = _field((8, 8, 1), "(H, W, C)", "the data")
    latent_dim: int = _field(64, "size of z")
    filters: tuple[int, ...] = _field((64, 32), "filters per stage (each doubles the size)")
    batch_norm: bool = _field(True, "batch norm in the hidden stages")
    output_activation: str = _field("sigmoid", "sigmoid, tanh or linear")
    num_classes: int = _field(0, "classes of a conditional generator (0: none)", "the data")


@dataclasses.dataclass
class _CriticOptions:
    leaky_slope: float = _field(0.2, "LeakyReLU slope")
    spectral_norm: bool = _field(False, "spectral normalisation of every layer")
    minibatch_std: bool = _field(False, "minibatch standard-deviation feature")
    num_classes: int = _field(0, "classes of a conditional critic (0: none)", "the data")
    conditioning: str = _field("concat", "concat or projection")
    outputs: int = _field(1, "1, 2 (softmax), 1 + C (AC-GAN) or C (semi-supervised)", "the recipe")
    output_bias: bool = _field(True, "bias on the scores (off for a Wasserstein critic)")


@dataclasses.dataclass
class MLPCriticOptions(_CriticOptions):
    hidden: tuple[int, ...] = _field((128, 128), "hidden widths")


@dataclasses.dataclass
class DCGANCriticOptions(_CriticOptions):
    filters: tuple[int, ...] = _field((32, 64), "filters per stride-2 stage")
    batch_norm: bool = _field(False, "batch norm after all but the first stage")


def _rng():
    return np.random.default_rng(0)


def _z(n=4, d=3):
    return _rng().normal(size=(n, d)).astype("float32")


def _images(n=4):
    return _rng().random((n, 8, 8, 1)).astype("float32")


def _components():
    from gentk_gan import components

    return components


def _divergence(name, **options):
    from gentk_gan.divergences import AdversarialDivergence

    return AdversarialDivergence(name, **options)


@hookimpl
def register_components(register: Callable[..., None]):
    register(
        "generator",
        "mlp-generator",
        "gentk_gan.components:MLPGenerator",
        config=MLPGeneratorOptions,
        help="MLP generator: z (+ one-hot label) -> samples",
        example=lambda: (
            _components().MLPGenerator(
                (8, 8, 1), 3, hidden=(8,), num_classes=2, virtual_batch_norm=4
            ),
            (_z(), np.array([0, 1, 0, 1])),
        ),
    )
    register(
        "generator",
        "dcgan",
        "gentk_gan.components:DCGANGenerator",
        config=DCGANGeneratorOptions,
        help="DCGAN generator: dense, then stride-2 transposed convs with batch norm and ReLU",
        example=lambda: (_components().DCGANGenerator((8, 8, 1), 3, filters=(8, 4)), (_z(),)),
    )
    register(
        "critic",
        "mlp-critic",
        "gentk_gan.components:MLPCritic",
        config=MLPCriticOptions,
        help="MLP critic with LeakyReLU; spectral norm, minibatch std, concat/projection labels",
        example=lambda: (
            _components().MLPCritic(
                hidden=(8,), minibatch_std=True, num_classes=3, conditioning="projection"
            ),
            (_images(), np.array([0, 1, 2, 1])),
        ),
    )
    register(
        "critic",
        "dcgan-critic",
        "gentk_gan.components:DCGANCritic",
        config=DCGANCriticOptions,
        help="DCGAN critic: stride-2 convs with LeakyReLU; spectral norm, minibatch std, labels",
        example=lambda: (
            _components().DCGANCritic(
                filters=(4, 8), batch_norm=True, spectral_norm=True, outputs=3
            ),
            (_images(),),
        ),
    )

    def scores():
        rng = _rng()
        return rng.normal(size=(6,)).astype("float32"), rng.normal(size=(6,)).astype("float32")

    def two_class():
        rng = _rng()
        return (
            rng.normal(size=(6, 2)).astype("float32"),
            rng.normal(size=(6, 2)).astype("float32"),
        )

    for name in LOSS_PAIRS:
        register(
            "divergence",
            name,
            functools.partial(_divergence, name),
            help=HELP[name],
            example=lambda name=name: (
                _divergence(name),
                two_class() if name.startswith("softmax-") else scores(),
            ),
        )
    for name in F_NAMES:
        register(
            "divergence",
            f"f-{name}",
            functools.partial(_divergence, f"f-{name}"),
            help=f"f-GAN bound of the {name} divergence (Nowozin et al., 2016)",
            example=lambda name=name: (_divergence(f"f-{name}"), scores()),
        )


@hookimpl
def register_models(register: Callable[..., None]):
    for name, text in RECIPE_HELP.items():
        register(f"gentk_gan.recipe:RECIPES.{name}", name=name, help=text)
