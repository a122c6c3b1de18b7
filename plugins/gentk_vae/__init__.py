"""Built-in plugin: the VAE / beta-VAE, IWAE, conditional VAEs and the KL divergence component.

Registered through the ``gentk.plugins`` entry point exactly as a third-party plugin would be.
"""

from __future__ import annotations

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


@hookimpl
def register_components(register):
    from gentk_vae.model import KLDivergence

    register(
        "divergence",
        "kl",
        KLDivergence,
        help="KL(q || p): closed form where TFP has it, Monte-Carlo otherwise",
        example=_kl_example,
    )


@hookimpl
def register_models(register):
    from gentk_vae.cvae import CVAEClassifierRecipe, CVAERecipe
    from gentk_vae.iwae import IWAERecipe
    from gentk_vae.model import VAERecipe

    register(VAERecipe())
    register(IWAERecipe())
    register(CVAERecipe())
    register(CVAEClassifierRecipe())
