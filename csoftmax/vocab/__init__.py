"""Large-vocabulary softmax: sampled softmax, negative sampling, hierarchical and
adaptive softmax, each with a compiled forward pass and a fused gradient.

A full softmax over 50k-250k classes dominates the cost of training language
models and recommenders; these approximations touch only a few rows of the
output layer per example.
"""
from ._adaptive import AdaptiveSoftmax
from ._hierarchical import HierarchicalSoftmax
from ._sampled import negative_sampling_loss, sampled_softmax_loss

__all__ = ["sampled_softmax_loss", "negative_sampling_loss", "HierarchicalSoftmax",
           "AdaptiveSoftmax"]
