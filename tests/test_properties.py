"""Property tests (hypothesis): normalisation, shift invariance, the
log/softmax relation, logsumexp as log(sum(exp)), agreement with the oracle
on arbitrary arrays (special values included) and thread-count invariance."""

import numpy as np
import pytest

import csoftmax
import reference

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

DTYPES = st.sampled_from([np.float64, np.float32])
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9)


@st.composite
def arrays_and_axis(draw, elements=None, dtypes=DTYPES, shapes=SHAPES):
    dtype = draw(dtypes)
    if elements is None:
        elements = st.floats(-50, 50, width=np.finfo(dtype).bits)
    x = draw(hnp.arrays(dtype, draw(shapes), elements=elements))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


@st.composite
def grid_arrays_and_axis(draw):
    """Values on a 1/8 grid (|x| <= 128) shifted by a multiple of 1/8 up to
    1024: x + c is exact in float32 and float64, so shift invariance can be
    tested without the rounding of the shift itself."""
    dtype = draw(DTYPES)
    shape = draw(SHAPES)
    k = draw(hnp.arrays(np.int32, shape, elements=st.integers(-1024, 1024)))
    c = draw(st.integers(-8192, 8192)) / 8
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return (k / 8).astype(dtype), dtype(c), axis


def _tol(op, x, axis, ref, **kw):
    return reference.tolerance(op, x, axis, ref=ref, **kw)


@given(arrays_and_axis())
def test_softmax_sums_to_one(case):
    x, axis = case
    p = csoftmax.softmax(x, axis)
    total = p.astype(np.float64).sum(axis=axis)
    ref = reference.softmax(x, axis)
    # each entry is within its tolerance of the exact value, whose sum is 1;
    # summing the float64-widened entries adds n * eps64
    slack = _tol("softmax", x, axis, ref).sum(axis=axis) + x.shape[axis] * np.finfo(np.float64).eps
    assert (np.abs(total - 1) <= slack).all(), (total, slack)


@given(grid_arrays_and_axis())
def test_shift_invariance(case):
    x, c, axis = case
    y = x + c
    assert (y.astype(np.float64) - c == x.astype(np.float64)).all()  # the shift is exact
    for op in ("softmax", "log_softmax"):
        a = getattr(csoftmax, op)(x, axis)
        b = getattr(csoftmax, op)(y, axis)
        ref = getattr(reference, op)(x, axis)
        tol = _tol(op, x, axis, ref)
        # both are within tol of the same exact value
        assert (np.abs(a.astype(np.float64) - b) <= 2 * tol).all(), op
    lse_x = csoftmax.logsumexp(x, axis).astype(np.float64)
    lse_y = csoftmax.logsumexp(y, axis).astype(np.float64)
    ref_y = reference.logsumexp(y, axis)
    tol_y = _tol("logsumexp", y, axis, ref_y)
    ref_x = reference.logsumexp(x, axis)
    tol_x = _tol("logsumexp", x, axis, ref_x)
    # lse(x + c) = lse(x) + c; adding c in float64 is exact here
    assert (np.abs(lse_y - (lse_x + float(c))) <= tol_x + tol_y).all()


@given(arrays_and_axis(elements=st.floats(-30, 30, width=32)))
def test_log_softmax_is_log_of_softmax(case):
    """Where softmax is a normal number, log(softmax) = log_softmax up to
    the relative error of softmax plus log_softmax's own tolerance."""
    x, axis = case
    p = csoftmax.softmax(x, axis).astype(np.float64)
    lp = csoftmax.log_softmax(x, axis).astype(np.float64)
    ok = p >= np.finfo(x.dtype).smallest_normal
    ref_p = reference.softmax(x, axis)
    ref_lp = reference.log_softmax(x, axis)
    slack = (_tol("softmax", x, axis, ref_p) / np.where(ref_p > 0, ref_p, 1)
             + _tol("log_softmax", x, axis, ref_lp) + 2 * np.finfo(np.float64).eps * np.abs(ref_lp))
    assert (np.abs(np.log(p[ok]) - lp[ok]) <= 1.01 * slack[ok]).all()


@given(arrays_and_axis(elements=st.floats(-40, 40, width=32)))
def test_logsumexp_is_log_sum_exp(case):
    """For moderate values the naive formula, evaluated in longdouble, is an
    independent oracle (good to ~1e-19 absolute, added to the tolerance)."""
    x, axis = case
    naive = np.log(np.exp(x.astype(np.longdouble)).sum(axis=axis)).astype(np.float64)
    got = csoftmax.logsumexp(x, axis)
    tol = _tol("logsumexp", x, axis, naive) + 4 * np.finfo(np.longdouble).eps
    reference.assert_matches(got, naive, tol, x.dtype, "log(sum(exp))")


SPECIAL = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.sampled_from([-np.inf, np.inf, np.nan, 0.0, -0.0, 1e30, -1e30]))


@given(arrays_and_axis(elements=SPECIAL), st.sampled_from(["softmax", "log_softmax", "logsumexp"]))
def test_agrees_with_reference_any_values(case, op):
    x, axis = case
    expected = getattr(reference, op)(x, axis)
    got = getattr(csoftmax, op)(x, axis)
    reference.assert_matches(got, expected, _tol(op, x, axis, expected), x.dtype, op)


@given(arrays_and_axis(), st.floats(0.05, 20),
       st.sampled_from(["softmax", "log_softmax"]))
def test_temperature_agrees_with_reference(case, temperature, op):
    x, axis = case
    expected = getattr(reference, op)(x, axis, temperature=temperature)
    got = getattr(csoftmax, op)(x, axis, temperature=temperature)
    reference.assert_matches(got, expected,
                             _tol(op, x, axis, expected, temperature=temperature),
                             x.dtype, f"{op} t={temperature}")


@given(arrays_and_axis(), st.data())
def test_where_agrees_with_reference(case, data):
    x, axis = case
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    for op in ("softmax", "log_softmax", "logsumexp"):
        expected = getattr(reference, op)(x, axis, where=mask)
        got = getattr(csoftmax, op)(x, axis, where=mask)
        reference.assert_matches(got, expected, _tol(op, x, axis, expected, where=mask),
                                 x.dtype, f"{op} where")


@given(arrays_and_axis(elements=SPECIAL, shapes=hnp.array_shapes(
    min_dims=1, max_dims=3, min_side=1, max_side=60)))
def test_thread_count_invariance(case):
    x, axis = case
    for op in ("softmax", "log_softmax", "logsumexp"):
        one = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=1))
        two = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=2))
        assert one.tobytes() == two.tobytes(), op
