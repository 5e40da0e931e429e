"""Shared pieces of the loss tests: dtypes and reductions swept, tolerances
against the float64 oracle, random logits and labels, finite differences."""
import numpy as np

DTYPES = (np.float64, np.float32)
REDUCTIONS = ("mean", "sum", "none")


def tolerance(dtype):
    """(rtol, atol) for results of unit scale: 1e-13 for float64; a few ulp
    of float32 for float32, whose inputs are rounded copies of the oracle's."""
    return (1e-13, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)


def check(actual, expected, dtype, spread=1.0):
    """actual (in dtype) against the float64 oracle; float32 losses are accurate
    relative to the spread of the logits, not the size of the loss."""
    rtol, atol = tolerance(dtype)
    assert np.asarray(actual).dtype == dtype
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=atol * max(spread, 1.0))


def random_logits(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def random_labels(rng, shape, C, ignored=0.2):
    labels = rng.integers(0, C, shape)
    labels[rng.random(shape) < ignored] = -100
    return labels


def fd_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f at float64 x."""
    grad = np.empty_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        g[i] = (up - down) / (2 * h)
    return grad


def total(loss):
    return float(np.sum(np.asarray(loss, np.float64)))


def assert_same_for_thread_counts(calls, counts=(1, 2, 3)):
    """Each call(n) returns a tuple of arrays computed on n threads: they must
    be bitwise the same for every count."""
    for call in calls:
        results = [call(n) for n in counts]
        for arrays in zip(*results):
            for other in arrays[1:]:
                np.testing.assert_array_equal(arrays[0], other)
