"""csoftmax: fast, exact softmax, log_softmax and logsumexp for NumPy arrays.

>>> import numpy as np
>>> import csoftmax
>>> csoftmax.softmax(np.array([[1.0, 2.0], [3.0, 3.0]]))
array([[0.26894142, 0.73105858],
       [0.5       , 0.5       ]])

See csoftmax.special for drop-in replacements of scipy.special's functions.
"""
__version__ = "0.1.0"

from typing import TYPE_CHECKING

from ._source_tree import use_installed_build_if_unbuilt

# A source checkout without its compiled core (python run from a clone's root
# after `pip install .`) hands over to the installed build; the imports below
# then resolve to that build's modules.
use_installed_build_if_unbuilt(__name__, __path__[0])

from . import special
from ._api import log_softmax, logsumexp, softmax
from ._config import show_config
from ._linear_ce import linear_cross_entropy
from ._losses import (
    binary_cross_entropy_with_logits, cross_entropy, entropy, focal_loss, hardmax, kl_div,
    log_sigmoid, log_softmax_backward, nll_loss, one_hot, sigmoid, sigmoid_focal_loss,
    softmax_backward,
)
from ._sparse import (
    entmax15, entmax15_backward, entmax15_loss, entmax_bisect, entmax_bisect_backward,
    entmax_bisect_loss, sparsemax, sparsemax_backward, sparsemax_loss,
)
from ._segments import (
    logcumsumexp, segment_log_softmax, segment_logsumexp, segment_softmax,
    segment_softmax_backward,
)
from ._sampling import gumbel_softmax, sample, top_logprobs
from ._threads import get_num_threads, set_num_threads

if TYPE_CHECKING:  # type checkers see the class; at runtime __getattr__ imports it
    from ._regression import SoftmaxRegression

__all__ = [
    "softmax", "log_softmax", "logsumexp", "special",
    "cross_entropy", "nll_loss", "kl_div", "entropy", "binary_cross_entropy_with_logits",
    "sigmoid", "log_sigmoid", "focal_loss", "sigmoid_focal_loss", "softmax_backward",
    "log_softmax_backward", "one_hot", "hardmax",
    "sparsemax", "entmax15", "entmax_bisect", "sparsemax_backward", "entmax15_backward",
    "entmax_bisect_backward", "sparsemax_loss", "entmax15_loss", "entmax_bisect_loss",
    "segment_softmax", "segment_log_softmax", "segment_logsumexp", "segment_softmax_backward",
    "logcumsumexp",
    "sample", "top_logprobs", "gumbel_softmax",
    "linear_cross_entropy",
    "set_num_threads", "get_num_threads", "show_config", "__version__",
    "SoftmaxRegression",
]


def __getattr__(name):
    # SoftmaxRegression needs scikit-learn: import it on first use only, so that
    # `import csoftmax` stays free of that optional dependency.
    if name == "SoftmaxRegression":
        from ._regression import SoftmaxRegression

        return SoftmaxRegression
    raise AttributeError(f"module 'csoftmax' has no attribute {name!r}")
