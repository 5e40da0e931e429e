"""Losses on logits and their gradients, with PyTorch's semantics: the one
module that gathers the loss families.

- csoftmax._softmax_losses: cross_entropy, focal_loss, entropy (row kernels
  over the softmax of each row);
- csoftmax._elementwise_losses: kl_div, binary_cross_entropy_with_logits,
  sigmoid_focal_loss, sigmoid, log_sigmoid;
- csoftmax._nll_backward: nll_loss, softmax_backward, log_softmax_backward;
- csoftmax._labels: one_hot, hardmax.

Argument checks live in csoftmax._validate, the operands' layouts in
csoftmax._layout, the reductions in csoftmax._reductions.
"""
from ._elementwise_losses import (
    binary_cross_entropy_with_logits, kl_div, log_sigmoid, sigmoid, sigmoid_focal_loss,
)
from ._labels import hardmax, one_hot
from ._nll_backward import log_softmax_backward, nll_loss, softmax_backward
from ._softmax_losses import cross_entropy, entropy, focal_loss

__all__ = [
    "cross_entropy", "nll_loss", "kl_div", "entropy", "binary_cross_entropy_with_logits",
    "sigmoid", "log_sigmoid", "focal_loss", "sigmoid_focal_loss", "softmax_backward",
    "log_softmax_backward", "one_hot", "hardmax",
]
