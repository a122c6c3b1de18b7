"""TFP distributions and heads gentk adds: the discretised logistic for 8-bit pixels, and the
q(z|x) and p(x|z) heads every image/vector component builds (``heads``)."""

from gentk.distributions.discretized import DiscretizedLogistic
from gentk.distributions.heads import LIKELIHOODS, latent_distribution, pixel_likelihood

__all__ = ["DiscretizedLogistic", "LIKELIHOODS", "latent_distribution", "pixel_likelihood"]
