"""Parity with scipy.special (and PyTorch where installed).

Three things are checked here:
1. the oracle in reference.py agrees with scipy.special wherever their
   semantics overlap (special values included), so the other test files may
   trust it;
2. csoftmax's main functions agree with scipy.special on the shared array
   generator, complex input included;
3. csoftmax agrees with torch.softmax / log_softmax / logsumexp.
"""

import zlib

import numpy as np
import pytest

import csoftmax
import reference
from arrays import arrays, axes_for, finite_float_arrays

sp = pytest.importorskip("scipy.special")

OPS = ("softmax", "log_softmax", "logsumexp")
# SciPy sees every integer dtype as float64: a few stand for all of them.
CASES = list(arrays(("float64", "float32", "float16", "int32", "uint64", "bool")))


def ids(cases):
    return [d for d, _ in cases]


def scipy_result(op, x, axis, **kw):
    """scipy.special on the float64 values (how SciPy treats ints, and an
    exact widening of float16/float32, so SciPy's own float32 rounding does
    not enter the comparison); None where SciPy cannot (empty reductions)."""
    x64 = np.asarray(x).astype(np.float64)
    try:
        with np.errstate(all="ignore"):
            res = getattr(sp, op)(x64, axis=axis, **kw)
    except (ValueError, IndexError):
        if x64.size == 0:  # SciPy's max() of an empty slice
            return None
        raise
    return res


def _as_array(res, shape):
    return np.asarray(res, dtype=np.float64).reshape(shape)


# ------------------------------------------------- the oracle against SciPy

@pytest.mark.parametrize("desc, x", CASES, ids=ids(CASES))
def test_reference_matches_scipy(desc, x):
    for axis in axes_for(x):
        for op in OPS:
            expected = scipy_result(op, x, axis)
            if expected is None:
                continue
            ref = getattr(reference, op)(x, axis)
            x64 = np.asarray(x, dtype=np.float64)
            tol = reference.tolerance(op, x64, axis, ref=ref)
            reference.assert_matches(_as_array(expected, ref.shape), ref, tol, np.float64,
                                     f"oracle vs SciPy {op} axis={axis} {desc}")


@pytest.mark.parametrize("offset", [0.0, -1000.0, 700.0])
def test_reference_matches_scipy_b_and_sign(offset):
    """b= (zeros, negatives, broadcasting), keepdims and return_sign,
    including SciPy's recomputation of non-finite results (offset -1000:
    a negative sum whose exp underflows is -inf, not nan)."""
    rng = np.random.default_rng(20)
    for trial in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
        a = offset + rng.standard_normal(shape) * 3
        b = rng.standard_normal(shape)
        if trial % 3 == 0:
            b = np.abs(b)
        if trial % 4 == 0:
            b = b[(0,) * (len(shape) - 1)]  # broadcast along the leading axes
        if trial % 5 == 0:
            b = np.array(b, copy=True) * np.ones(shape)
            b[..., 0] = 0
            a[..., 0] = np.inf  # weight 0: ignored
        axis = int(rng.integers(-a.ndim, a.ndim))
        for keepdims in (False, True):
            for return_sign in (False, True):
                ref = reference.logsumexp(a, axis, b=b, keepdims=keepdims, return_sign=return_sign)
                got = sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
                if return_sign:
                    np.testing.assert_array_equal(_as_array(got[1], ref[1].shape), ref[1])
                    got, ref = got[0], ref[0]
                tol = reference.tolerance("logsumexp", a, axis, b=b, keepdims=keepdims, ref=ref)
                reference.assert_matches(_as_array(got, ref.shape), ref, tol, np.float64,
                                         f"trial {trial}")


def test_reference_where_matches_subsets():
    """where=: the oracle's softmax over the kept entries is SciPy's softmax
    of those entries alone, masked entries get 0 / -inf; its logsumexp is
    SciPy's with b = mask."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((30, 7)) * 5
    mask = rng.random(x.shape) < 0.6
    mask[0] = False
    x[~mask & (rng.random(x.shape) < 0.3)] = np.nan
    for op, fill in (("softmax", 0.0), ("log_softmax", -np.inf)):
        ref = getattr(reference, op)(x, -1, where=mask)
        for row, keep, r in zip(x, mask, ref):
            assert (r[~keep] == fill).all()
            if keep.any():
                np.testing.assert_allclose(r[keep], getattr(sp, op)(row[keep]),
                                           rtol=1e-13, atol=4e-16)
    res, sign = reference.logsumexp(x, -1, where=mask, return_sign=True)
    s_res, s_sign = sp.logsumexp(np.where(mask, x, 0), axis=-1, b=mask.astype(float),
                                 return_sign=True)
    np.testing.assert_allclose(res, s_res, rtol=1e-13)
    np.testing.assert_array_equal(sign, s_sign)


# -------------------------------------------------- csoftmax against SciPy

@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("desc, x", CASES, ids=ids(CASES))
def test_matches_scipy(op, desc, x):
    _, out_dtype = reference.result_dtypes(x.dtype)
    for axis in axes_for(x):
        expected = scipy_result(op, x, axis)
        if expected is None:
            continue
        got = getattr(csoftmax, op)(x, axis)
        expected = _as_array(expected, np.shape(got))
        tol = reference.tolerance(op, x, axis, ref=expected)
        reference.assert_matches(got, expected, tol, out_dtype, f"vs SciPy {op} axis={axis}")


@pytest.mark.parametrize("desc, x", list(finite_float_arrays(("float64",))),
                         ids=ids(list(finite_float_arrays(("float64",)))))
def test_logsumexp_b_matches_scipy(desc, x):
    rng = np.random.default_rng(zlib.crc32(desc.encode()))
    b = rng.standard_normal(x.shape)
    for axis in axes_for(x)[:3]:
        expected = scipy_result("logsumexp", x, axis, b=b, return_sign=True)
        if expected is None:
            continue
        res, sign = csoftmax.logsumexp(x, axis, b=b, return_sign=True)
        np.testing.assert_array_equal(np.asarray(sign), np.asarray(expected[1]))
        ref = _as_array(expected[0], np.shape(res))
        tol = reference.tolerance("logsumexp", x, axis, b=b, ref=ref)
        reference.assert_matches(res, ref, tol, np.float64, f"b, axis={axis}")
        plain = csoftmax.logsumexp(x, axis, b=b)
        s_plain = _as_array(scipy_result("logsumexp", x, axis, b=b), np.shape(plain))
        reference.assert_matches(plain, s_plain, tol, np.float64, f"b, axis={axis}")


# ----------------------------------------------------------- complex input

def _complex_arrays():
    rng = np.random.default_rng(22)
    for dtype in (np.complex128, np.complex64):
        name = np.dtype(dtype).name
        yield f"{name} (3, 6)", (rng.standard_normal((3, 6)) * 3
                                 + 1j * rng.standard_normal((3, 6))).astype(dtype)
        yield f"{name} (2, 3, 17) strided", (rng.standard_normal((2, 3, 34))
                                             + 2j * rng.standard_normal((2, 3, 34))
                                             ).astype(dtype)[..., ::2]
        yield f"{name} 0-d", np.asarray(1.5 - 0.5j, dtype=dtype)
        yield f"{name} real-valued", np.array([1.0, 2.0, 3.0], dtype=dtype)


COMPLEX = list(_complex_arrays())


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("desc, z", COMPLEX, ids=ids(COMPLEX))
def test_complex_matches_scipy(op, desc, z):
    """Complex input follows SciPy (result dtype included).  complex64 is
    compared with SciPy's complex128 result at float32 precision; log
    results near 0 get an absolute eps because SciPy itself takes log(sum)
    without log1p there."""
    eps = np.finfo(z.real.dtype).eps
    rtol = 1e-13 if z.dtype == np.complex128 else 16 * eps
    for axis in axes_for(z)[:4]:
        got = getattr(csoftmax, op)(z, axis)
        same = getattr(sp, op)(z, axis=axis)
        assert np.asarray(got).dtype == np.asarray(same).dtype, (op, axis)
        wide = getattr(sp, op)(z.astype(np.complex128), axis=axis)
        np.testing.assert_allclose(got, wide, rtol=rtol, atol=4 * eps,
                                   err_msg=f"{op} axis={axis} {desc}")
        if op == "logsumexp":
            res, sign = csoftmax.logsumexp(z, axis, return_sign=True)
            s_res, s_sign = sp.logsumexp(z.astype(np.complex128), axis=axis, return_sign=True)
            assert np.isrealobj(res), "with return_sign the magnitude is real"
            np.testing.assert_allclose(res, s_res, rtol=rtol, atol=4 * eps)
            np.testing.assert_allclose(sign, s_sign, rtol=rtol, atol=4 * eps)


def test_complex_special_values():
    rows = np.array([[1 + 1j, -np.inf + 0j, 0.5 - 2j],
                     [np.nan + 0j, 1 + 0j, 2 + 0j],
                     [-np.inf + 0j, -np.inf + 0j, -np.inf + 0j]])
    for op in OPS:
        with np.errstate(all="ignore"):
            expected = getattr(sp, op)(rows, axis=-1)
        np.testing.assert_allclose(getattr(csoftmax, op)(rows), expected, rtol=1e-13,
                                   equal_nan=True, err_msg=op)


# ---------------------------------------------------------------- PyTorch

# torch gets contiguous copies, so the layout variants add nothing here.
TORCH_CASES = [(d, a) for d, a in finite_float_arrays(("float64", "float32"))
               if a.size and a.ndim and (a.flags.c_contiguous or a.ndim == 1)]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _torch_op(torch, op):
    return {"softmax": torch.softmax, "log_softmax": torch.log_softmax,
            "logsumexp": torch.logsumexp}[op]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("desc, x", TORCH_CASES, ids=ids(TORCH_CASES))
def test_matches_torch(torch, op, desc, x):
    """Against torch in float64 (an independent oracle, held to the same
    error model), and against torch in the input dtype at the tolerance
    torch.testing uses for that dtype."""
    fn = _torch_op(torch, op)
    for axis in range(-1, x.ndim):
        got = getattr(csoftmax, op)(x, axis)
        wide = fn(torch.from_numpy(np.array(x, dtype=np.float64, order="C")), axis).numpy()
        tol = reference.tolerance(op, x, axis, ref=wide)
        if op != "softmax":
            # torch takes log(sum) without log1p: its own absolute error
            # near 0 is a few float64 eps, which the model reserves for us
            tol = tol + 4 * np.finfo(np.float64).eps
        out_dtype = reference.result_dtypes(x.dtype)[1]
        reference.assert_matches(got, wide, tol, out_dtype, f"vs torch float64 {op} axis={axis}")
        native = fn(torch.from_numpy(np.array(x, dtype=out_dtype, order="C")), axis)
        torch.testing.assert_close(torch.from_numpy(np.asarray(got)), native,
                                   msg=lambda m: f"{op} axis={axis} {desc}: {m}")


def test_torch_special_rows(torch):
    """Where torch and SciPy agree on special values (all -inf rows, -inf
    entries, nan) csoftmax agrees with both."""
    x = np.array([[-np.inf] * 4, [1.0, -np.inf, 2.0, 0.0], [np.nan, 1.0, 2.0, 3.0]])
    for op in OPS:
        for dtype in (np.float64, np.float32):
            xd = x.astype(dtype)
            expected = _torch_op(torch, op)(torch.from_numpy(xd), -1).numpy()
            eps = float(np.finfo(dtype).eps)
            np.testing.assert_allclose(getattr(csoftmax, op)(xd), expected, rtol=8 * eps,
                                       atol=8 * eps, equal_nan=True, err_msg=op)
