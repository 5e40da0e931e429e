"""Bad input raises the documented exception, and never half-writes out=."""

import numpy as np
import pytest

import csoftmax

from numpy.exceptions import AxisError  # numpy >= 1.25, as the package requires

OPS = ("softmax", "log_softmax", "logsumexp")
NORMALIZERS = ("softmax", "log_softmax")
SENTINEL = -777.25


def _x():
    return np.random.default_rng(30).standard_normal((3, 4, 5))


def _out_for(op, x, axis=-1, dtype=np.float64):
    """A correctly shaped out= filled with a sentinel."""
    if op == "logsumexp":
        shape = np.delete(np.array(x.shape), np.atleast_1d(axis) % x.ndim) if x.ndim else ()
        shape = tuple(int(n) for n in shape)
    else:
        shape = x.shape
    return np.full(shape, SENTINEL, dtype=dtype)


def assert_raises_untouched(exc, op, x, out, match=None, **kw):
    before = out.copy()
    with pytest.raises(exc, match=match):
        getattr(csoftmax, op)(x, out=out, **kw)
    np.testing.assert_array_equal(out, before, err_msg=f"{op} wrote to out before raising")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [3, -4, 10, (0, 3), (-4,)])
def test_axis_out_of_range(op, axis):
    x = _x()
    with pytest.raises(AxisError):
        getattr(csoftmax, op)(x, axis)
    out = np.full(x.shape if op != "logsumexp" else (3, 4), SENTINEL)
    assert_raises_untouched(AxisError, op, x, out, axis=axis)


@pytest.mark.parametrize("op", OPS)
def test_axis_out_of_range_0d(op):
    with pytest.raises(AxisError):
        getattr(csoftmax, op)(np.float64(1.0), 1)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [(0, 0), (1, -2), (2, -1, 0)])
def test_duplicate_axes(op, axis):
    x = _x()
    with pytest.raises(ValueError):
        getattr(csoftmax, op)(x, axis)
    out = np.full(x.shape if op != "logsumexp" else (3,), SENTINEL)
    assert_raises_untouched(ValueError, op, x, out, axis=axis)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [1.5, "0", [0.0]])
def test_axis_wrong_type(op, axis):
    with pytest.raises(TypeError):
        getattr(csoftmax, op)(_x(), axis)


@pytest.mark.parametrize("op", OPS)
def test_out_wrong_shape(op):
    x = _x()
    good = _out_for(op, x)
    for shape in [good.shape[:-1], good.shape + (1,), tuple(n + 1 for n in good.shape),
                  good.shape[::-1]]:
        if shape == good.shape:
            continue
        out = np.full(shape, SENTINEL)
        assert_raises_untouched(ValueError, op, x, out)


@pytest.mark.parametrize("op", OPS)
def test_out_keepdims_shape_mismatch(op):
    if op != "logsumexp":
        pytest.skip("keepdims is logsumexp's")
    x = _x()
    out = np.full((3, 4), SENTINEL)  # shape without keepdims
    assert_raises_untouched(ValueError, op, x, out, keepdims=True)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("in_dtype, bad", [
    ("float64", "float32"), ("float32", "float64"), ("float16", "float32"),
    ("int64", "int64"), ("int64", "float32"), ("float64", "complex128"),
    ("float64", "int64"),
])
def test_out_wrong_dtype(op, in_dtype, bad):
    x = _x().astype(in_dtype)
    out = _out_for(op, x, dtype=bad)
    assert_raises_untouched(ValueError, op, x, out)


@pytest.mark.parametrize("op", OPS)
def test_out_dtype_must_follow_dtype_keyword(op):
    x = _x()
    out = _out_for(op, x, dtype=np.float64)
    assert_raises_untouched(ValueError, op, x, out, dtype=np.float32)
    assert getattr(csoftmax, op)(x.astype(np.float32), out=out, dtype=np.float64) is out


@pytest.mark.parametrize("op", NORMALIZERS)
@pytest.mark.parametrize("temperature", [0.0, -0.0, -1.0, -np.inf, np.nan])
def test_bad_temperature(op, temperature):
    x = _x()
    with pytest.raises(ValueError):
        getattr(csoftmax, op)(x, temperature=temperature)
    assert_raises_untouched(ValueError, op, x, _out_for(op, x), temperature=temperature)
    # in place: the input must survive too
    y = x.copy()
    with pytest.raises(ValueError):
        getattr(csoftmax, op)(y, out=y, temperature=temperature)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("bad", [
    np.array(["a", "b", "c"]),
    ["a", "b"],
    np.array([{}, 1.0], dtype=object),
    np.array([b"x", b"y"]),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
])
def test_non_numeric_input(op, bad):
    with pytest.raises(TypeError):
        getattr(csoftmax, op)(bad)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 4, 5), (3, 4, 5, 1)])
def test_where_not_broadcastable(op, shape):
    x = _x()
    mask = np.ones(shape, dtype=bool)
    with pytest.raises(ValueError):
        getattr(csoftmax, op)(x, where=mask)
    assert_raises_untouched(ValueError, op, x, _out_for(op, x), where=mask)


def test_logsumexp_b_not_broadcastable():
    x = _x()
    with pytest.raises(ValueError):
        csoftmax.logsumexp(x, b=np.ones(4))
    assert_raises_untouched(ValueError, "logsumexp", x, _out_for("logsumexp", x), b=np.ones(4))


def test_error_messages_name_the_problem():
    x = _x()
    with pytest.raises(ValueError, match="(?i)temperature"):
        csoftmax.softmax(x, temperature=0)
    with pytest.raises(ValueError, match="(?i)shape"):
        csoftmax.softmax(x, out=np.empty((3, 4)))
    with pytest.raises(ValueError, match="(?i)dtype"):
        csoftmax.softmax(x, out=np.empty(x.shape, np.float32))


@pytest.mark.parametrize("n", [0, -1, -8])
def test_set_num_threads_rejects_non_positive(n, restore_num_threads):
    with pytest.raises(ValueError):
        csoftmax.set_num_threads(n)
    assert csoftmax.get_num_threads() == restore_num_threads


def test_get_num_threads_positive():
    n = csoftmax.get_num_threads()
    assert isinstance(n, int) and n >= 1


def test_set_num_threads_round_trip(restore_num_threads):
    csoftmax.set_num_threads(1)
    assert csoftmax.get_num_threads() == 1
    csoftmax.set_num_threads(2)
    assert csoftmax.get_num_threads() == 2


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [-1.0, 2.0, 0.5])
def test_float_axis_raises_type_error(op, axis):
    """A float axis equal to the last axis must not slip through the fast paths."""
    with pytest.raises(TypeError, match="axis must be an integer"):
        getattr(csoftmax, op)(_x(), axis)
