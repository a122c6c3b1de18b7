"""Pure loss functions: KL (analytic with a Monte-Carlo fallback), ELBO and multinomial terms."""

from gentk.objectives.kl import kl_divergence, monte_carlo_kl, standard_normal
from gentk.objectives.likelihood import (
    elbo,
    iwae_bound,
    multinomial_log_likelihood,
    sampled_multinomial_log_likelihood,
)

__all__ = [
    "elbo",
    "iwae_bound",
    "kl_divergence",
    "monte_carlo_kl",
    "multinomial_log_likelihood",
    "sampled_multinomial_log_likelihood",
    "standard_normal",
]
