"""Fuzzing the public API (main namespace and csoftmax.special) with hypothesis.

Every test draws arrays of any dtype, shape, layout and values (see
tests/fuzzing.py) and arguments that are valid or not, predicts which
exceptions the call may raise, and checks that the library either returns
the oracle's answer (tests/reference.py, tests/reference_losses.py, SciPy
for csoftmax.special) or raises one of the predicted types with a message,
without writing to `out`. Example counts follow the hypothesis profile
(tests/conftest.py); `--hypothesis-profile=fuzz` runs a long session.
"""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, note, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import csoftmax  # noqa: E402
import csoftmax.special  # noqa: E402
import reference  # noqa: E402
from fuzzing import (  # noqa: E402
    OUT_KINDS, STRICT_FP, AxisError, arrays, axes, axis_errors, close, dtypes, is_numeric,
    out_array, outcome, thread_errors, threads, values,
)

scipy_special = pytest.importorskip("scipy.special")

NORMALIZERS = ("softmax", "log_softmax")
DTYPE_ARGS = st.sampled_from([None] * 6 + ["float32", "float64", "float16", "complex128", ">f8",
                                           "int32", "not a dtype"])
TEMPERATURES = st.sampled_from([1.0] * 4 + [0.5, 2.0, 1e-3, 1e3, 0.0, -1.0, np.nan, "x", None])


def _rtol(dtype):
    """Loose relative tolerance for the fuzz checks: they look for wrong
    answers, not lost ulps (the accuracy tests pin those)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.empty(0, dtype).real.dtype
    if dtype.itemsize <= 2:
        return 8e-3
    return 64 * float(np.finfo(np.float32 if dtype.itemsize == 4 else np.float64).eps)


def _result_dtype(x, dtype):
    """The dtype the normalisers return, or None where the call is a TypeError."""
    if not is_numeric(x.dtype):
        return None
    try:
        requested = None if dtype is None else np.dtype(dtype)
    except TypeError:
        return None
    if requested is not None and requested.kind not in "fc":
        return None
    return reference.result_dtypes(x.dtype, requested)[1]


def _temperature_errors(t):
    try:
        value = float(t)
    except (TypeError, ValueError):
        return (TypeError,)
    return () if value > 0 else (ValueError,)


@st.composite
def masks(draw, shape):
    """(where, errors): None, a full or broadcast boolean mask, an integer or
    a float mask (TypeError, as NumPy's where=) or one of the wrong shape
    (ValueError)."""
    kind = draw(st.sampled_from(["none", "none", "full", "last", "int", "float", "wrong"]))
    if kind == "none" or (kind == "last" and not shape):
        return None, ()
    if kind == "last":
        return draw(hnp.arrays(bool, shape[-1:])), ()
    if kind == "full":
        return draw(hnp.arrays(bool, shape)), ()
    if kind == "int":
        return draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 1))), (TypeError,)
    if kind == "float":
        return np.ones(shape), (TypeError,)
    return np.ones(tuple(shape) + (2,), bool), (ValueError,)


def _reduced(axis, ndim):
    """Sorted reduced axes of a valid axis argument (0-d arrays count as 1-d)."""
    nd = max(ndim, 1)
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, tuple):
        return tuple(sorted(a % nd for a in axis))
    return (axis % nd,)


def _masked_to_all_neg_inf(x, mask, axes):
    """A slice whose unmasked entries are all -inf, with where= given: the
    library treats it as fully masked (softmax 0, as its docstring says);
    the oracle leaves the case unpinned."""
    if mask is None or x.size == 0 or x.dtype.kind not in "f":
        return False
    x1 = x.reshape(x.shape or (1,))
    m1 = np.broadcast_to(np.asarray(mask, bool), x.shape).reshape(x1.shape)
    neg = np.isneginf(x1.astype(np.float64))
    live = (m1 & ~neg).any(axis=axes)
    some_unmasked = m1.any(axis=axes)
    return bool((~live & some_unmasked).any())


def _weights_cancel_at_max(x, b, mask, axes):
    """logsumexp slices whose weights at the max sum to 0 (unpinned too)."""
    if b is None or np.size(x) == 0:
        return False
    z, w = np.broadcast_arrays(np.asarray(x, np.longdouble), np.asarray(b).real.astype(
        np.longdouble))
    z = z.reshape(z.shape or (1,))
    w = w.reshape(z.shape)
    dead = (w == 0) | np.isnan(z)
    if mask is not None:
        dead |= ~np.broadcast_to(np.asarray(mask, bool), np.shape(x)).reshape(z.shape)
    z = np.where(dead, -np.inf, z)
    with np.errstate(invalid="ignore"):
        top = z.max(axis=axes, keepdims=True)
        at_top = (z == top) & ~dead
        total = np.where(at_top, w, 0).sum(axis=axes)
    return bool(((total == 0) & at_top.any(axis=axes)).any())


def _compare_normalized(op, got, x, axis, kw, rdtype, ndim=None):
    """The result against reference.<op>: the tolerance model of
    reference.py for real results, a relative tolerance for complex and
    longdouble ones (reference.py compares those to SciPy elsewhere)."""
    oracle = getattr(reference, op)
    if axis is None:  # the oracle takes the axes spelled out (of x and b broadcast)
        axis = tuple(range(max(x.ndim if ndim is None else ndim, 1)))
    try:
        expected = oracle(x, axis, **kw)
    except NotImplementedError:  # complex with temperature or where
        assert np.asarray(got).shape == x.shape
        return
    if kw.get("return_sign"):
        got, got_sign = got
        expected, expected_sign = expected
        np.testing.assert_array_equal(np.asarray(got_sign, np.float64).reshape(
            np.shape(expected_sign)), expected_sign)
    got_array = np.asarray(got)
    assert got_array.dtype == (rdtype if not (kw.get("return_sign") and rdtype.kind == "c")
                               else np.empty(0, rdtype).real.dtype)
    expected = np.asarray(expected).reshape(got_array.shape)
    if rdtype.kind == "c" or rdtype.itemsize > 8:
        close(got_array.astype(np.complex128 if rdtype.kind == "c" else np.float64)
              if rdtype.kind == "c" else got_array, expected, _rtol(rdtype))
        return
    tol_kw = {k: v for k, v in kw.items() if k != "return_sign"}
    tol = reference.tolerance(op, x, axis, ref=expected, **tol_kw)
    reference.assert_matches(got_array, expected, np.reshape(tol, expected.shape),
                             got_array.dtype, f"{op}")


@pytest.mark.parametrize("op", NORMALIZERS)
@given(data=st.data())
def test_normalizers(op, data):
    x, desc = data.draw(arrays(dtype=data.draw(dtypes(complexes=1, others=1))), label="x")
    axis = data.draw(st.one_of(st.just(-1), axes(x.ndim)), label="axis")
    temperature = data.draw(TEMPERATURES, label="temperature")
    where, where_errors = data.draw(masks(x.shape), label="where")
    dtype = data.draw(DTYPE_ARGS, label="dtype")
    num_threads = data.draw(threads(), label="num_threads")
    rdtype = _result_dtype(x, dtype)
    out, out_errors = out_array(data.draw(OUT_KINDS, label="out"), x.shape,
                                rdtype or np.float64, x)
    errors = (axis_errors(axis, max(x.ndim, 1)) + _temperature_errors(temperature)
              + where_errors + out_errors + thread_errors(num_threads)
              + ((TypeError,) if rdtype is None else ()))
    note(desc)
    before = np.array(x, copy=True)
    kw = dict(temperature=temperature, where=where, dtype=dtype)
    fn = getattr(csoftmax, op)
    with np.errstate(**STRICT_FP):  # the library must not leak floating-point warnings
        got = outcome(lambda: fn(x, axis, out=out, num_threads=num_threads, **kw), errors, out,
                      protect=(x,))
    if got is None:
        return
    if out is not None:
        assert got is out
    elif x.ndim == 0:
        assert isinstance(got, np.generic)
    if out is not x:
        assert before.tobytes() == np.asarray(x).tobytes(), "the input was modified"
    if _masked_to_all_neg_inf(before, where, _reduced(axis, x.ndim)):
        return
    _compare_normalized(op, got, before, axis, kw, rdtype)


@st.composite
def scale_factors(draw, shape):
    """(b, errors) for logsumexp."""
    kind = draw(st.sampled_from(["none", "none", "full", "last", "signed", "complex", "wrong",
                                 "str"]))
    if kind == "none":
        return None, ()
    if kind == "wrong":  # a last axis of another length: x and b may still broadcast
        b = np.ones(shape[:-1] + (shape[-1] + 2,)) if shape else np.ones((3, 2))
        try:
            np.broadcast_shapes(shape, b.shape)
        except ValueError:
            return b, (ValueError,)
        return b, ()
    if kind == "str":
        return np.array(["a"]), (TypeError,)
    part = shape[-1:] if kind == "last" else shape
    b = draw(values(part, np.float64, special=False, low=0.0 if kind != "signed" else -2.0,
                    high=2.0))
    if kind == "complex":
        b = b + 0.5j
    return b, ()


@given(data=st.data())
def test_logsumexp(data):
    x, desc = data.draw(arrays(dtype=data.draw(dtypes(complexes=1, others=1))), label="x")
    axis = data.draw(st.one_of(st.just(-1), axes(x.ndim)), label="axis")
    b, b_errors = data.draw(scale_factors(x.shape), label="b")
    where, where_errors = data.draw(masks(x.shape), label="where")
    dtype = data.draw(DTYPE_ARGS, label="dtype")
    keepdims = data.draw(st.booleans(), label="keepdims")
    return_sign = data.draw(st.booleans(), label="return_sign")
    num_threads = data.draw(threads(), label="num_threads")
    rdtype = _result_dtype(x, dtype)
    if rdtype is not None and rdtype.kind != "c" and b is not None and b.dtype.kind == "c":
        rdtype = np.result_type(rdtype, b.dtype)  # complex b makes a real x complex
    shape = x.shape if b is None or b_errors else np.broadcast_shapes(x.shape, b.shape)
    if where is not None and where.ndim <= len(shape) and where.dtype == bool:
        try:  # where broadcasts to x and b together
            where_errors = () if np.broadcast_shapes(where.shape, shape) == shape else \
                (ValueError,)
        except ValueError:
            where_errors = (ValueError,)
    errors = (axis_errors(axis, max(len(shape), 1)) + b_errors + where_errors
              + thread_errors(num_threads) + ((TypeError,) if rdtype is None else ()))
    if not errors:
        reduced = _reduced(axis, len(shape))
        if keepdims:
            out_shape = tuple(1 if i in reduced else n for i, n in enumerate(shape or (1,)))
        else:
            out_shape = tuple(n for i, n in enumerate(shape) if i not in reduced)
    else:
        out_shape = ()
    value_dtype = rdtype if rdtype is None or not return_sign or rdtype.kind != "c" else \
        np.empty(0, rdtype).real.dtype
    out, out_errors = out_array(data.draw(OUT_KINDS, label="out"), out_shape,
                                value_dtype or np.float64)
    errors += out_errors
    note(desc)
    kw = dict(b=b, keepdims=keepdims, return_sign=return_sign, where=where, dtype=dtype)
    with np.errstate(**STRICT_FP):
        got = outcome(lambda: csoftmax.logsumexp(x, axis, out=out, num_threads=num_threads, **kw),
                      errors, out)
    if got is None:
        return
    value = got[0] if return_sign else got
    if out is not None:
        assert value is out
    elif not np.shape(value):
        assert isinstance(value, np.generic)
    if _masked_to_all_neg_inf(np.broadcast_to(x, shape), where, _reduced(axis, len(shape))) or \
            _weights_cancel_at_max(np.broadcast_to(x, shape), b, where,
                                   _reduced(axis, len(shape))):
        return
    if rdtype.kind == "c":  # the oracle is real: complex results are SciPy's
        # (SciPy's empty complex results keep a complex magnitude with return_sign)
        if where is None and np.isfinite(x).all() and x.size and not (axis == () and x.ndim == 0):
            with np.errstate(all="ignore"):  # (SciPy would promote b; csoftmax keeps rdtype)
                expected = scipy_special.logsumexp(
                    x.astype(rdtype), axis, b=None if b is None else b.astype(rdtype),
                    keepdims=keepdims, return_sign=return_sign)
            _scipy_agrees(got, expected, same_type=out is None)
        return
    _compare_normalized("logsumexp", got, x, axis, kw, rdtype, len(shape))


# ------------------------------------------------------------------ csoftmax.special vs SciPy

def _scipy_agrees(got, expected, same_type=True):
    """Same type (NumPy scalar or array; not checked with out=), dtype, shape
    and values as SciPy."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == 2
        for g, e in zip(got, expected):
            _scipy_agrees(g, e, same_type)
        return
    assert not same_type or type(got) is type(expected) or (isinstance(got, np.ndarray)
                                           == isinstance(expected, np.ndarray)), (
        f"returned {type(got).__name__}, SciPy {type(expected).__name__}")
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    close(got, np.asarray(expected), _rtol(np.asarray(expected).dtype))


def _integers_via_float(fn, x, axis, kw):
    """SciPy's result for integer x computed without the wrap-around of
    x - max, in the dtype SciPy returns for it."""
    dtype = np.asarray(fn(np.zeros(1, x.dtype), **{k: v for k, v in kw.items()
                                                   if k != "b"})).dtype
    result = fn(x.astype(np.float64), axis, **kw)
    if isinstance(result, tuple):
        return tuple(dtype.type(r) if np.ndim(r) == 0 else r.astype(dtype) for r in result)
    return dtype.type(result) if np.ndim(result) == 0 else result.astype(dtype)


@pytest.mark.parametrize("op", ("softmax", "log_softmax", "logsumexp"))
@given(data=st.data())
def test_special_matches_scipy(op, data):
    x, desc = data.draw(arrays(dtype=data.draw(dtypes(floats=3, ints=1, complexes=1)),
                               special=False), label="x")
    axis = data.draw(st.one_of(st.none(), axes(x.ndim, allow_none=False)), label="axis")
    kw = {}
    if op == "logsumexp":
        if data.draw(st.booleans(), label="with b"):
            kw["b"] = data.draw(values(x.shape, np.float64, special=False, low=-2.0, high=2.0))
        kw["keepdims"] = data.draw(st.booleans(), label="keepdims")
        kw["return_sign"] = data.draw(st.booleans(), label="return_sign")
    note(desc)
    fn = getattr(csoftmax.special, op)
    try:
        with np.errstate(all="ignore"):
            if x.dtype.kind in "iu":  # SciPy's integer x - max wraps around
                expected = _integers_via_float(getattr(scipy_special, op), x, axis, kw)
            else:
                expected = getattr(scipy_special, op)(x, axis, **kw)
    except (ValueError, TypeError, IndexError):
        # SciPy fails on some valid input (empty, bool, 0-d with a tuple
        # axis); csoftmax may compute it or raise a clear error.
        try:
            with np.errstate(**STRICT_FP):
                fn(x, axis, **kw)
        except (ValueError, TypeError, IndexError) as exc:
            assert str(exc).strip()
        return
    if op == "logsumexp" and axis == () and (x.ndim == 0 or x.size == 0):
        return  # SciPy returns shape (1,) there: a quirk not worth copying
    if op == "logsumexp" and "b" in kw and _weights_cancel_at_max(
            x, kw["b"], None, _reduced(axis, x.ndim)):
        return
    got = outcome(lambda: fn(x, axis, **kw), ())
    _scipy_agrees(got, expected)


# ------------------------------------------------------------------ regressions found by fuzzing

@pytest.mark.parametrize("op", ("softmax", "log_softmax", "logsumexp"))
def test_0d_input_with_a_non_integer_axis_is_a_type_error(op):
    with pytest.raises(TypeError, match="axis|integer"):
        getattr(csoftmax, op)(np.float64(1.0), 1.5)
    with pytest.raises(AxisError):
        getattr(csoftmax, op)(np.float64(1.0), 1)


def test_logsumexp_of_0d_with_keepdims_has_shape_1_as_scipy():
    for fn in (csoftmax.logsumexp, csoftmax.special.logsumexp):
        got = fn(np.float64(3.0), keepdims=True)
        expected = scipy_special.logsumexp(np.float64(3.0), keepdims=True)
        assert isinstance(got, np.ndarray) and got.shape == expected.shape == (1,)
        assert got[0] == 3.0


def test_non_native_dtype_argument_and_big_endian_input():
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]], dtype=">f8")
    native = x.astype(np.float64)
    for op in ("softmax", "log_softmax", "logsumexp"):
        got = getattr(csoftmax, op)(native, dtype=">f8")
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, getattr(csoftmax, op)(native))
    np.testing.assert_allclose(csoftmax.special.logsumexp(x),
                               scipy_special.logsumexp(native), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "int64"])
def test_special_softmax_of_integers_has_scipys_dtype(dtype):
    x = np.array([0, 1, 2], dtype=dtype)
    for op in ("softmax", "log_softmax"):
        with np.errstate(all="ignore"):  # (SciPy's unsigned x - max wraps around)
            dtype = getattr(scipy_special, op)(x).dtype
        got = getattr(csoftmax.special, op)(x)
        assert got.dtype == dtype
        expected = getattr(scipy_special, op)(x.astype(np.float64))
        np.testing.assert_allclose(got, expected, rtol=_rtol(dtype))


def test_special_logsumexp_sign_of_empty_complex_is_nan_as_scipy():
    x = np.zeros((0, 2), complex)
    with np.errstate(invalid="ignore"):
        expected = scipy_special.logsumexp(x, axis=0, return_sign=True)
    got = csoftmax.special.logsumexp(x, axis=0, return_sign=True)
    np.testing.assert_array_equal(got[0], expected[0])
    assert np.isnan(got[1]).all() and np.isnan(expected[1]).all()


@pytest.mark.parametrize("op", NORMALIZERS)
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_and_temperature_together(op, axis, dtype):
    """Regression: with where= the temperature was ignored (the masked path
    copied x without dividing it and then ran the kernel with scale 1)."""
    x = np.array([[0.0, 1.0, 5.0], [2.0, -1.0, 0.5]], dtype)
    mask = np.array([[True, True, False], [True, True, True]])
    got = getattr(csoftmax, op)(x, axis, temperature=0.5, where=mask)
    expected = getattr(reference, op)(x, axis, temperature=0.5, where=mask)
    tol = reference.tolerance(op, x, axis, temperature=0.5, where=mask, ref=expected)
    reference.assert_matches(got, expected, tol, np.dtype(dtype), op)


@pytest.mark.parametrize("op", ("softmax", "log_softmax", "logsumexp"))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_narrowing_dtype_raises_no_overflow_warning(op, dtype):
    x = np.array([1e300, 0.0, -1e300])
    with np.errstate(**STRICT_FP):
        got = getattr(csoftmax, op)(x, dtype=dtype)
        big = getattr(csoftmax, op)(np.float32(3.4e38), dtype=dtype)
    assert np.asarray(got).dtype == np.asarray(big).dtype == dtype


@pytest.mark.parametrize("op", NORMALIZERS)
def test_float16_result_into_out_raises_no_overflow_warning(op):
    """Regression: copying a float32 result beyond float16's range into a
    float16 out= emitted NumPy's overflow warning."""
    x = np.array([-28.0, 38.0], dtype=np.float16)
    out = np.empty_like(x)
    with np.errstate(**STRICT_FP):
        got = getattr(csoftmax, op)(x, temperature=1e-3, out=out)
    assert got is out
    np.testing.assert_array_equal(out, getattr(csoftmax, op)(x, temperature=1e-3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.longdouble, np.complex128])
def test_masked_entries_stay_masked_in_a_slice_holding_nan(dtype):
    """Regression: a nan among the unmasked entries made the kernel fill the
    whole slice with nan, masked entries included (as JAX: masked
    entries get 0 from softmax, -inf from log_softmax, whatever the slice)."""
    x = np.array([[0.0, np.nan, 1.0], [2.0, 1.0, np.inf]], dtype=dtype)
    mask = np.array([[False, True, True], [False, True, True]])
    soft = csoftmax.softmax(x, where=mask)
    log = csoftmax.log_softmax(x, where=mask)
    assert (soft[:, 0] == 0).all() and np.isneginf(log[:, 0].real).all()
    assert np.isnan(soft[:, 1:]).all()
