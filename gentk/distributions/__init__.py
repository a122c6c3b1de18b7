"""TFP distributions gentk adds where TFP has none: the discretised logistic for 8-bit pixels."""

from gentk.distributions.discretized import DiscretizedLogistic

__all__ = ["DiscretizedLogistic"]
