"""Arrays and rows beyond 2**31 elements index correctly (64-bit indexing
in the kernels and the Cython layer), without using more than a few GB.

The inputs are float32 arrays of more than 2**31 elements made by np.zeros,
whose pages the kernels only read: Linux maps such pages to the shared zero
page, so an 8.6 GB input costs next to no memory. A few entries beyond
element 2**31 (and beyond byte 2**32) are set, and the reductions, whose
outputs are small, must find them where a 32-bit index would wrap around:
logsumexp along a huge row (the split-row kernel) and down long columns,
cross-entropy, entropy and NLL over 2**31+ logits, and the element-wise
losses (BCE, KL) summed over 2**31+ elements.

Marked slow, yet cheap enough for the default CI run: the inputs are zero
pages, so the test process stays small in resident memory while each test
reads 8.6 GB of them. `pytest -m "not slow"`
leaves it out; where the 8.6 GB of address space cannot be reserved (strict
overcommit), the tests skip.
"""

import math
import resource

import numpy as np
import pytest

import csoftmax

pytestmark = pytest.mark.slow

BIG = 2**31 + 4096  # elements: past 2**31 (and 2**32 bytes in float32)
C = 1024
ROWS = BIG // C + 8  # rows of C classes: ROWS * C > 2**31
FAR = 2**31 + 1000  # an element index a 32-bit int cannot hold
PEAK = 30.0


def _zeros(shape):
    """Zero-page float32 array; skips where the allocation is refused."""
    try:
        return np.zeros(shape, np.float32)
    except MemoryError:
        pytest.skip("cannot reserve 8.6 GB of address space here")


@pytest.fixture(scope="module")
def row():
    x = _zeros(BIG)
    x[FAR] = PEAK
    x[-1] = -np.inf
    return x


@pytest.fixture(scope="module")
def grid():
    """(ROWS, C) logits, zero except a peak in a row past element 2**31."""
    x = _zeros((ROWS, C))
    x[FAR // C, 7] = PEAK
    return x


@pytest.fixture(scope="module", autouse=True)
def report_peak_memory():
    yield
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak resident memory of the test process: {peak:.2f} GB")


def _log_count_plus_peak(count):
    """log(count * e**0 + e**PEAK), in float64."""
    return PEAK + math.log1p(count * math.exp(-PEAK))


def test_logsumexp_of_a_row_longer_than_2_31(row):
    got = csoftmax.logsumexp(row)
    expected = _log_count_plus_peak(BIG - 2)  # one -inf, one peak
    assert got.dtype == np.float32
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_logsumexp_down_columns_longer_than_2_31_elements(grid):
    got = csoftmax.logsumexp(grid, axis=0)
    expected = np.full(C, math.log(ROWS))
    expected[7] = _log_count_plus_peak(ROWS - 1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_cross_entropy_entropy_nll_over_2_31_logits(grid):
    labels = np.zeros(ROWS, np.int64)
    peak_row = FAR // C
    labels[peak_row] = 7
    plain = math.log(C)
    peak = math.log1p((C - 1) * math.exp(-PEAK))  # -log softmax at the peak
    got = csoftmax.cross_entropy(grid, labels, reduction="sum")
    np.testing.assert_allclose(float(got), (ROWS - 1) * plain + peak, rtol=1e-6)
    losses = csoftmax.cross_entropy(grid, labels, reduction="none")
    assert losses.shape == (ROWS,)
    np.testing.assert_allclose(losses[peak_row], peak, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(np.delete(losses, peak_row), plain, rtol=1e-6)

    entropies = csoftmax.entropy(grid)
    np.testing.assert_allclose(np.delete(entropies, peak_row), plain, rtol=1e-6)
    assert entropies[peak_row] < 1e-8

    nll = csoftmax.nll_loss(grid, labels, reduction="none")
    assert nll[peak_row] == -PEAK and np.count_nonzero(nll) == 1


def test_elementwise_losses_over_2_31_elements():
    x = _zeros(BIG)
    t = _zeros(BIG)
    x[FAR] = PEAK  # logit 30 with target 0 costs 30 + log1p(e**-30)
    got = csoftmax.binary_cross_entropy_with_logits(x, t, reduction="sum")
    expected = (BIG - 1) * math.log(2) + PEAK + math.log1p(math.exp(-PEAK))
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    # KL with a zero target is 0 except where the target is positive
    t[FAR + 1] = 0.5
    got = csoftmax.kl_div(x, t, reduction="sum")
    np.testing.assert_allclose(float(got), 0.5 * math.log(0.5), rtol=1e-6)
