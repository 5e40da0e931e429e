"""Large-vocabulary softmax: sampled softmax, negative sampling, hierarchical and
adaptive softmax, each with a compiled forward pass and a fused gradient.

A full softmax over 50k-250k classes dominates the cost of training language
models and recommenders; these approximations touch only a few rows of the
output layer per example.
"""
from ._adaptive import AdaptiveSoftmax
from ._hierarchical import HierarchicalSoftmax

__all__ = ["HierarchicalSoftmax", "AdaptiveSoftmax"]
