"""Built-in plugin: normalizing flows on TFP bijectors — bijector components (affine, actnorm,
invertible linear, reverse, additive/affine/spline couplings, MAF, IAF, spline autoregressive,
batch norm, diagonal scale, sinh-arcsinh, FFJORD), the
``FlowModel`` and the recipes ``nice``, ``realnvp``, ``glow``, ``maf``, ``iaf``, ``nsf``,
``ffjord``, and the 2-D datasets ``two-moons``, ``rings``, ``checkerboard`` (the 8 Gaussians
are the core's ``gaussian-ring``).

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be;
everything heavy is registered by reference and imported on first use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gentk import hookimpl
from gentk.api import option as _field

__all__ = ["register_components", "register_datasets", "register_models"]


@dataclasses.dataclass
class VectorOptions:
    dim: int = _field(2, "dimensions D of the (flattened) data", "the data")
    condition_dim: int = _field(0, "width of a one-hot condition (0: none)", "the recipe")


@dataclasses.dataclass
class LinearOptions(VectorOptions):
    seed: int = _field(0, "seed of the initial random rotation", "the recipe")


@dataclasses.dataclass
class NetworkOptions(VectorOptions):
    hidden: tuple[int, ...] = _field((64, 64), "widths of the network")
    activation: str = _field("relu", "hidden activation")


@dataclasses.dataclass
class ConditionerOptions(NetworkOptions):
    net_init: str = _field(
        "identity",
        "how the network starts: identity (output layer at zero) or uniform (every layer "
        "U(+-1/sqrt(fan_in)), as PyTorch's Linear)",
    )


@dataclasses.dataclass
class AffineNetworkOptions(ConditionerOptions):
    scale_bound: float = _field(3.0, "soft bound of the log-scale")
    clamp: str = _field(
        "tanh", "how the log-scale is bounded: tanh (b tanh(a / b)) or rational (a / (1 + |a| / b))"
    )


@dataclasses.dataclass
class SplineOptions(ConditionerOptions):
    bins: int = _field(8, "spline bins")
    bound: float = _field(4.0, "the spline acts on [-bound, bound]")


@dataclasses.dataclass
class BatchNormOptions(VectorOptions):
    momentum: float = _field(0.9, "weight of the old moving statistics per training pass")


BIJECTORS = (
    ("affine", "AffineLayer", VectorOptions, "elementwise z * exp(s) + b"),
    ("actnorm", "ActNorm", VectorOptions, "Glow's actnorm: affine, initialised from data"),
    ("invertible-linear", "InvertibleLinear", LinearOptions,
     "Glow's invertible 1x1 convolution on vectors: W = PLU, log|det| = sum log|diag U|"),
    ("reverse", "Reverse", VectorOptions, "reverses the dimensions (between couplings)"),
    ("diagonal-scale", "DiagonalScale", VectorOptions, "NICE's final diagonal scaling"),
    ("sinh-arcsinh", "SinhArcsinhLayer", VectorOptions,
     "elementwise sinh-arcsinh: learned skewness and tail weight per dimension"),
    ("additive-coupling", "AdditiveCoupling", ConditionerOptions,
     "NICE additive coupling: y2 = x2 + m(x1)"),
    ("affine-coupling", "AffineCoupling", AffineNetworkOptions,
     "RealNVP affine coupling: y2 = x2 * exp(s(x1)) + t(x1)"),
    ("spline-coupling", "SplineCoupling", SplineOptions,
     "rational-quadratic neural spline coupling (Durkan et al., 2019)"),
    ("maf", "MaskedAutoregressive", AffineNetworkOptions,
     "masked autoregressive flow layer with a Keras 3 MADE (density in one pass)"),
    ("iaf", "InverseAutoregressive", AffineNetworkOptions,
     "inverse autoregressive flow layer (sampling in one pass)"),
    ("spline-autoregressive", "SplineAutoregressive", SplineOptions,
     "autoregressive rational-quadratic neural spline layer (a MADE gives the splines)"),
    ("batch-norm", "BatchNorm", BatchNormOptions,
     "RealNVP's batch normalisation: batch statistics in training, moving averages otherwise"),
    ("ffjord", "FFJORDLayer", NetworkOptions,
     "continuous flow (FFJORD): ODE with a Keras 3 dynamics net, Hutchinson or exact trace"),
)  # fmt: skip

MODELS = (
    ("nice", "NICE on 2-D toys (or images): additive couplings, reversals, final diagonal scale"),
    ("realnvp", "RealNVP on 2-D toys (two moons by default): affine couplings with reversals"),
    ("glow", "Glow on digits: actnorm, invertible linear (LU) and affine coupling per step"),
    ("maf", "Masked autoregressive flow (Keras 3 MADE) on 2-D toys or a CSV table"),
    ("iaf", "Inverse autoregressive flow: one-pass sampling, D-pass density"),
    ("nsf", "Neural spline flow: rational-quadratic spline couplings with reversals"),
    ("ffjord", "FFJORD continuous flow on 2-D toys or tables (ODE solver, adjoint gradients)"),
)


def _example(cls_name: str, dim: int = 4, **options):
    def example():
        from gentk_flows import bijectors

        x = np.random.default_rng(0).normal(size=(3 if cls_name == "FFJORDLayer" else 5, dim))
        x = x.astype("float32")
        return getattr(bijectors, cls_name)(dim=dim, **options), (x,)

    return example


@hookimpl
def register_components(register: Callable[..., None]):
    for name, cls_name, options, text in BIJECTORS:
        extra = {"hidden": (8,)} if issubclass(options, NetworkOptions) else {}
        if name == "ffjord":  # every check solves ODEs eagerly: small, looser tolerance
            extra.update(dim=2, atol=1e-3)
        register(
            "bijector",
            name,
            f"gentk_flows.bijectors:{cls_name}",
            config=options,
            help=text,
            example=_example(cls_name, **extra),
        )
    register(
        "bijector",
        "multiscale",
        "gentk_flows.image:MultiscaleFlow",
        config=MultiscaleOptions,
        help="multiscale RealNVP / Glow on images: conv couplings, squeeze, factor-out",
        example=_multiscale_example,
    )
    _register_priors(register)


@dataclasses.dataclass
class MultiscaleOptions:
    shape: tuple[int, ...] = _field((8, 8, 1), "image shape (H, W, C)", "the data")
    kind: str = _field(
        "realnvp", "realnvp (checkerboard + channel couplings) or glow", "the recipe"
    )
    scales: int = _field(2, "scales: each but the last squeezes and factors out half")
    steps: int = _field(3, "couplings (Glow steps) per scale and stage")
    filters: int = _field(32, "width of the coupling conv nets")
    scale_bound: float = _field(3.0, "soft bound of the log-scales")
    seed: int = _field(0, "seed of the 1x1 convolutions' rotations", "the recipe")
    condition_dim: int = _field(0, "width of a one-hot condition (0: none)", "the recipe")


def _multiscale_example():
    from gentk_flows.image import MultiscaleFlow

    x = np.random.default_rng(0).normal(size=(3, 4, 4, 2)).astype("float32")
    return MultiscaleFlow((4, 4, 2), kind="glow", scales=2, steps=1, filters=4), (x,)


@dataclasses.dataclass
class FlowPriorOptions:
    latent_dim: int = _field(2, "size of z", "the recipe")
    bijectors: str = _field("affine-coupling,reverse", "one flow step (see the flow recipes)")
    steps: int = _field(4, "flow steps")
    hidden: tuple[int, ...] = _field((64, 64), "widths of the networks")


PRIORS = (
    ("realnvp", "affine-coupling,reverse", "RealNVP flow prior over z, learned with the VAE"),
    ("maf", "maf,reverse", "MAF flow prior over z (Keras 3 MADE), learned with the VAE"),
)


def _flow_prior(bijectors):
    def factory(**options):
        from gentk_flows.priors import FlowPrior

        return FlowPrior(**{"bijectors": bijectors, **options})

    return factory


def _prior_example(bijectors):
    def example():
        from gentk_flows.priors import FlowPrior

        return FlowPrior(latent_dim=3, bijectors=bijectors, steps=2, hidden=(8,)), ()

    return example


def _register_priors(register):
    for name, bijectors, text in PRIORS:
        options = dataclasses.make_dataclass(
            f"{name.title()}PriorOptions",
            [("bijectors", str, _field(bijectors, "one flow step (see the flow recipes)"))],
            bases=(FlowPriorOptions,),
        )
        register(
            "prior",
            name,
            _flow_prior(bijectors),
            config=options,
            help=text,
            example=_prior_example(bijectors),
        )


@hookimpl
def register_datasets(register: Callable[..., None]):
    from gentk_flows import datasets

    register("two-moons", datasets.two_moons, help="2-D: scikit-learn's two moons")
    register("rings", datasets.rings, help="2-D: three concentric rings")
    register("checkerboard", datasets.checkerboard, help="2-D: uniform on a 4x4 checkerboard")


@hookimpl
def register_models(register: Callable[..., None]):
    for name, text in MODELS:
        register(f"gentk_flows.recipe:RECIPES.{name}", name=name, help=text)
