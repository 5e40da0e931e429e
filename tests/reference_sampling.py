"""float64 NumPy oracle of the logits processing that csoftmax.sample draws
from: Hugging Face transformers' TemperatureLogitsWarper -> TopKLogitsWarper
-> TopPLogitsWarper -> MinPLogitsWarper (min_tokens_to_keep=1, filter value
-inf), written out step by step as their source does it, with a stable sort
where theirs sorts (equal logits in index order)."""
import numpy as np


def _softmax(s):
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(s - np.max(s))
    return e / e.sum()


def processed_logprobs(logits, temperature=1.0, top_k=None, top_p=None, min_p=None):
    """log-probabilities of one row after the warpers: -inf for removed tokens."""
    s = np.asarray(logits, np.float64) / temperature
    if top_k is not None:
        k = min(max(top_k, 1), s.size)
        kth = np.sort(s)[-k]
        s = np.where(s < kth, -np.inf, s)
    if top_p is not None:
        order = np.argsort(s, kind="stable")  # ascending
        cumulative = np.cumsum(_softmax(s[order]))
        remove = cumulative <= 1 - top_p
        remove[-1:] = False  # min_tokens_to_keep
        s = s.copy()
        s[order[remove]] = -np.inf
    if min_p is not None:
        probs = _softmax(s)
        remove = probs < min_p * probs.max()
        remove[np.argsort(-s, kind="stable")[:1]] = False
        s = np.where(remove, -np.inf, s)
    with np.errstate(divide="ignore"):
        return np.log(_softmax(s))


def kept_tokens(logits, **filters):
    """The tokens the processed distribution can draw (positive probability)."""
    return np.flatnonzero(np.isfinite(processed_logprobs(logits, **filters)))
