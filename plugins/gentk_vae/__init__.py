"""Built-in plugin: the VAE / beta-VAE, IWAE, conditional VAEs and the KL divergence component.

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from gentk import hookimpl

__all__ = ["register_components", "register_models"]


def _kl_example():
    import numpy as np
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    rng = np.random.default_rng(0)
    q = tfd.MultivariateNormalDiag(
        rng.normal(size=(4, 3)).astype("float32"),
        rng.uniform(0.5, 2, size=(4, 3)).astype("float32"),
    )
    p = tfd.MultivariateNormalDiag(np.zeros(3, "float32"), np.ones(3, "float32"))
    from gentk_vae.model import KLDivergence

    return KLDivergence(), (q, p)


@dataclasses.dataclass
class PriorOptions:
    latent_dim: int = dataclasses.field(
        default=2, metadata={"help": "size of z", "set_by": "the recipe"}
    )


def _prior_example():
    from gentk_vae.model import StandardNormalPrior

    return StandardNormalPrior(latent_dim=3), ()


@hookimpl
def register_components(register: Callable[..., None]):
    register(
        "prior",
        "standard-normal",
        "gentk_vae.model:StandardNormalPrior",
        config=PriorOptions,
        help="N(0, I) over z (the VAE's default; closed-form KL)",
        example=_prior_example,
    )
    register(
        "divergence",
        "kl",
        "gentk_vae.model:KLDivergence",
        help="KL(q || p): closed form where TFP has it, Monte-Carlo otherwise",
        example=_kl_example,
    )


@hookimpl
def register_models(register: Callable[..., None]):
    register(
        "gentk_vae.recipe:VAERecipe",
        name="vae",
        help="Variational autoencoder / beta-VAE: Gaussian q(z|x), N(0, I) prior, closed-form KL",
    )
    register(
        "gentk_vae.recipe:IWAERecipe",
        name="iwae",
        help="Importance-weighted autoencoder: trains on the K-sample bound L_K (K = n_samples)",
    )
    register(
        "gentk_vae.recipe:CVAERecipe",
        name="cvae",
        help="Conditional VAE: one-hot label into encoder and decoder; `gentk sample --label K`",
    )
    register(
        "gentk_vae.recipe:CVAEClassifierRecipe",
        name="cvae-classifier",
        help="CVAE with a parallel classifier r(c|x): encodes without labels, samples by class",
    )
