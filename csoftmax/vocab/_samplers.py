"""Candidate samplers of TensorFlow's sampled losses, on a NumPy Generator.

A sampler draws `num_sampled` class ids shared by the whole batch and
reports each id's *expected count*, the quantity whose log the sampled
softmax subtracts from a logit (TensorFlow's range_sampler.cc):

- 'log_uniform' (Zipfian): P(k) = (log(k + 2) - log(k + 1)) / log(C + 1),
  drawn as floor(exp(u * log(C + 1))) - 1 for u uniform in [0, 1).
  Frequent classes must have small ids for it to fit real data.
- 'uniform': P(k) = 1 / C.

unique=True draws with rejection until `num_sampled` distinct ids are found
(in order of first appearance) after `num_tries` draws; the expected count
of an id with probability p is then 1 - (1 - p)**num_tries, computed as
-expm1(num_tries * log1p(-p)), or num_sampled * p when no draw was rejected.
unique=False draws independently (ids may repeat); the expected count is
num_sampled * p. TensorFlow computes these counts in float32; here they are
float64.
"""
import numpy as np

SAMPLERS = ("log_uniform", "uniform")


def class_probability(sampler, classes, num_classes):
    """P(k) of each id in `classes` (an int array) under `sampler`, float64.

    >>> class_probability("log_uniform", np.arange(3), 3).round(4)
    array([0.5   , 0.2925, 0.2075])
    >>> class_probability("uniform", np.array([0, 2]), 4)
    array([0.25, 0.25])
    """
    classes = np.asarray(classes, dtype=np.float64)
    if sampler == "uniform":
        return np.full(classes.shape, 1.0 / num_classes)
    # log((k + 2) / (k + 1)) = log1p(1 / (k + 1)): no cancellation for large k
    return np.log1p(1.0 / (classes + 1.0)) / np.log1p(num_classes)


def _draw(sampler, rng, size, num_classes):
    if sampler == "uniform":
        return rng.integers(0, num_classes, size=size, dtype=np.int64)
    value = np.exp(rng.random(size) * np.log1p(num_classes)).astype(np.int64) - 1
    # exp may round up to C + 1 at u close to 1; TensorFlow folds that back with a modulo
    return value % num_classes


def _first_distinct(stream, count):
    """The first `count` distinct values of stream in order of appearance and
    the number of draws it took to see them, or (None, None) if it has fewer."""
    values, first_positions = np.unique(stream, return_index=True)
    if values.size < count:
        return None, None
    positions = np.sort(first_positions)[:count]
    return stream[positions], int(positions[-1]) + 1


def sample_candidates(sampler, num_sampled, num_classes, rng, unique=True):
    """Draws the candidates: (ids int64 (num_sampled,), expected counts of
    those ids float64, num_tries). `rng` is a numpy.random.Generator.

    The draws are the same for the same generator state, so a seed makes
    the whole loss deterministic.

    >>> ids, counts, tries = sample_candidates("uniform", 3, 3, np.random.default_rng(0))
    >>> sorted(ids.tolist()), tries >= 3
    ([0, 1, 2], True)
    """
    if not unique:
        ids = _draw(sampler, rng, num_sampled, num_classes)
        return ids, num_sampled * class_probability(sampler, ids, num_classes), num_sampled
    stream = np.empty(0, np.int64)
    chunk = 2 * num_sampled
    while True:
        stream = np.concatenate([stream, _draw(sampler, rng, chunk, num_classes)])
        ids, num_tries = _first_distinct(stream, num_sampled)
        if ids is not None:
            break
        chunk = stream.size  # doubles the stream: rare classes may take many draws
    return ids, expected_count(class_probability(sampler, ids, num_classes), num_sampled,
                               num_tries), num_tries


def expected_count(probability, num_sampled, num_tries):
    """TensorFlow's expected count of ids with the given probabilities in a
    sample of num_sampled ids that took num_tries draws (float64).

    >>> expected_count(np.array([0.5]), 2, 2)
    array([1.])
    >>> expected_count(np.array([0.5]), 2, 3)
    array([0.875])
    """
    probability = np.asarray(probability, dtype=np.float64)
    if num_tries == num_sampled:
        return num_sampled * probability
    return -np.expm1(num_tries * np.log1p(-probability))
