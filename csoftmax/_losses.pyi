"""Type stubs of csoftmax/_losses.py, which gathers the loss families."""
from ._elementwise_losses import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits, kl_div as kl_div,
    log_sigmoid as log_sigmoid, sigmoid as sigmoid, sigmoid_focal_loss as sigmoid_focal_loss,
)
from ._labels import hardmax as hardmax, one_hot as one_hot
from ._nll_backward import (
    log_softmax_backward as log_softmax_backward, nll_loss as nll_loss,
    softmax_backward as softmax_backward,
)
from ._softmax_losses import (
    cross_entropy as cross_entropy, entropy as entropy, focal_loss as focal_loss,
)

__all__ = [
    "cross_entropy", "nll_loss", "kl_div", "entropy", "binary_cross_entropy_with_logits",
    "sigmoid", "log_sigmoid", "focal_loss", "sigmoid_focal_loss", "softmax_backward",
    "log_softmax_backward", "one_hot", "hardmax",
]
