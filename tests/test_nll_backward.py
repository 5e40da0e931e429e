"""nll_loss, softmax_backward and log_softmax_backward (row and column
kernels), one_hot and hardmax against the NumPy oracle at every ISA level."""

import numpy as np
import pytest

import csoftmax

import reference_losses as ref
from loss_checks import DTYPES, REDUCTIONS, check, random_labels, random_logits


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_oracle(dtype, reduction, weighted, isa):
    rng = np.random.default_rng(9)
    x = ref.log_softmax(random_logits(rng, (6, 4, 3), np.float64), axis=1).astype(dtype)
    y = random_labels(rng, (6, 3), 4)
    w = rng.random(4) if weighted else None
    loss, grad = csoftmax.nll_loss(x, y, axis=1, weight=w, reduction=reduction, return_grad=True)
    expected_loss, expected_grad = ref.nll_loss(x, y, axis=1, weight=w, reduction=reduction)
    check(loss, expected_loss, dtype)
    check(grad, expected_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_functions_match_oracle(dtype, isa):
    rng = np.random.default_rng(14)
    x = random_logits(rng, (4, 6), np.float64)
    g = rng.standard_normal((4, 6)).astype(dtype)
    y = csoftmax.softmax(x, axis=0).astype(dtype)
    # g - sum(...) cancels: the error is relative to the size of g
    size = float(np.abs(g).sum(axis=0).max())
    check(csoftmax.softmax_backward(g, y, axis=0), ref.softmax_backward(g, y, axis=0), dtype,
           spread=size)
    ly = csoftmax.log_softmax(x).astype(dtype)
    out = np.empty((4, 6), dtype)
    assert csoftmax.log_softmax_backward(g, ly, out=out) is out
    check(out, ref.log_softmax_backward(g, ly), dtype, spread=float(np.abs(g).sum(1).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_backward_kernels_rows_and_columns(dtype, axis, isa):
    rng = np.random.default_rng(22)
    x = random_logits(rng, (9, 300, 7), np.float64)
    g = rng.standard_normal(x.shape).astype(dtype)
    for forward, backward, oracle in (
            (csoftmax.softmax, csoftmax.softmax_backward, ref.softmax_backward),
            (csoftmax.log_softmax, csoftmax.log_softmax_backward, ref.log_softmax_backward)):
        y = forward(x, axis=axis).astype(dtype)
        size = float(np.abs(g).sum(axis=axis).max())
        result = backward(g, y, axis=axis)
        check(result, oracle(g, y, axis=axis), dtype, spread=size)
        # in place over grad_output, and into a strided out
        inplace = g.copy()
        assert backward(inplace, y, axis=axis, out=inplace) is inplace
        np.testing.assert_array_equal(inplace, result)
        out = np.empty((7, 300, 9), dtype).transpose(2, 1, 0)
        assert backward(g, y, axis=axis, out=out) is out
        np.testing.assert_array_equal(out, result)


def test_one_hot_and_hardmax():
    np.testing.assert_array_equal(csoftmax.one_hot(np.array([[2, 0]]), 3),
                                  np.array([[[0, 0, 1], [1, 0, 0]]], np.float32))
    assert csoftmax.one_hot([1, 3]).shape == (2, 4)
    assert csoftmax.one_hot([1], 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(IndexError, match="3"):
        csoftmax.one_hot([0, 3], 3)
    with pytest.raises(IndexError):
        csoftmax.one_hot([-1], 3)
    x = np.array([[1, 5, 5], [7, 7, 0]], np.float32)
    h = csoftmax.hardmax(x)
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(csoftmax.hardmax(x, axis=0), [[0, 0, 1], [1, 1, 0]])
    assert csoftmax.hardmax(np.array([1, 2])).dtype == np.float64
