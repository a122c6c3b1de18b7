"""Reusable Keras 3 layers for components: MLP and conv stacks, pooling with argmax, unpooling."""

from gentk.layers.pooling import AverageUnpooling2D, MaxPoolingWithArgmax2D, MaxUnpooling2D
from gentk.layers.stacks import DOWNSAMPLE, UPSAMPLE, conv_down, conv_up, dense_stack

__all__ = [
    "AverageUnpooling2D",
    "DOWNSAMPLE",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "UPSAMPLE",
    "conv_down",
    "conv_up",
    "dense_stack",
]
