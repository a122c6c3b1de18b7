"""Reusable Keras 3 layer stacks for components: MLPs and strided conv / transposed-conv stacks."""

from gentk.layers.stacks import conv_down, conv_up, dense_stack

__all__ = ["conv_down", "conv_up", "dense_stack"]
