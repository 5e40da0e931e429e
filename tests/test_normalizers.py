"""csoftmax.softmax / log_softmax / logsumexp against the longdouble oracle
in reference.py, over the shared array generator and every axis, with the
keyword arguments (temperature, where, b, keepdims, return_sign,
dtype, out, num_threads)."""

import zlib

import numpy as np
import pytest

import csoftmax
import reference
from arrays import arrays, axes_for, finite_float_arrays

OPS = ("softmax", "log_softmax", "logsumexp")
NORMALIZERS = ("softmax", "log_softmax")
CASES = list(arrays())
FLOAT_CASES = [(d, a) for d, a in CASES if a.dtype.kind == "f"]
FINITE_CASES = list(finite_float_arrays(("float64", "float32", "float16")))


def ids(cases):
    return [d for d, _ in cases]


def check(op, x, axis=-1, context="", **kw):
    """Run csoftmax.<op> and compare with the oracle; returns the result."""
    got = getattr(csoftmax, op)(x, axis, **kw)
    oracle_kw = {k: v for k, v in kw.items() if k not in ("out", "num_threads")}
    expected = getattr(reference, op)(x, axis, **oracle_kw)
    context = f"{op}(axis={axis!r}, {', '.join(f'{k}=' for k in kw)}) {context}"
    if kw.get("return_sign"):
        assert isinstance(got, tuple) and len(got) == 2, context
        got, got_sign = got
        expected, expected_sign = expected
        _, out_dtype = reference.result_dtypes(np.asarray(x).dtype, kw.get("dtype"))
        np.testing.assert_array_equal(
            np.asarray(got_sign, dtype=np.float64), expected_sign, err_msg=f"{context}: sign")
        assert np.asarray(got_sign).dtype == out_dtype, context
    _, out_dtype = reference.result_dtypes(np.asarray(x).dtype, kw.get("dtype"))
    tol_kw = {k: v for k, v in oracle_kw.items() if k != "return_sign"}
    tol = reference.tolerance(op, x, axis, ref=expected, **tol_kw)
    reference.assert_matches(got, expected, tol, out_dtype, context)
    return got


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("desc, x", CASES, ids=ids(CASES))
def test_matches_reference(op, desc, x):
    """Every axis against the oracle; and 1 thread, 2 threads and the
    default give the same bits (small inputs: the threshold logic)."""
    fn = getattr(csoftmax, op)
    for axis in axes_for(x):
        got = check(op, x, axis, desc, num_threads=1)
        two = fn(x, axis, num_threads=2)
        default = fn(x, axis)
        assert (np.asarray(got).tobytes() == np.asarray(two).tobytes()
                == np.asarray(default).tobytes()), f"{desc} axis={axis}: threads differ"
        if op == "logsumexp" and x.ndim > 0:
            check(op, x, axis, desc, keepdims=True)


def test_default_axis_is_last():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for op in OPS:
        np.testing.assert_array_equal(getattr(csoftmax, op)(x), getattr(csoftmax, op)(x, -1))
        np.testing.assert_array_equal(getattr(csoftmax, op)(x), getattr(csoftmax, op)(x, axis=2))


def test_array_likes():
    """Lists, tuples and Python scalars are accepted like arrays."""
    row = [1.0, 2.0, 3.0]
    for op in OPS:
        np.testing.assert_array_equal(getattr(csoftmax, op)(row),
                                      getattr(csoftmax, op)(np.array(row)))
    nested = ((1, 2), (3, 5))
    check("softmax", nested, 0)
    assert float(csoftmax.softmax(3.5)) == 1.0
    assert float(csoftmax.log_softmax(3.5)) == 0.0
    assert float(csoftmax.logsumexp(3.5)) == 3.5


# ----------------------------------------------------------------- dtypes

@pytest.mark.parametrize("in_dtype, expected", [
    ("float64", "float64"), ("float32", "float32"), ("float16", "float16"),
    ("int8", "float64"), ("int32", "float64"), ("int64", "float64"),
    ("uint8", "float64"), ("uint64", "float64"), ("bool", "float64"),
])
@pytest.mark.parametrize("op", OPS)
def test_result_dtype(op, in_dtype, expected):
    x = np.arange(6).reshape(2, 3).astype(in_dtype)
    assert np.asarray(getattr(csoftmax, op)(x)).dtype == np.dtype(expected)
    assert reference.result_dtypes(in_dtype)[1] == np.dtype(expected)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("op", OPS)
def test_dtype_keyword(op, dtype):
    """dtype= is the compute and result dtype, whatever the input."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 37)) * 4
    inputs = [base, base.astype(np.float32), base.astype(np.float16),
              np.rint(base).astype(np.int16), base > 0]
    for x in inputs:
        for axis in (0, -1):
            got = check(op, x, axis, f"input {x.dtype}", dtype=dtype)
            assert np.asarray(got).dtype == np.dtype(dtype)


def test_float16_is_computed_in_float32():
    """float16 input: result = float32 computation rounded to float16, so it
    is within an ulp of float16 even where float16 arithmetic would not be
    (a long row: a float16 sum would lose ~10 bits)."""
    x = (np.random.default_rng(4).standard_normal((3, 3000)) * 2).astype(np.float16)
    for op in OPS:
        got = getattr(csoftmax, op)(x)
        assert got.dtype == np.float16
        via32 = getattr(csoftmax, op)(x.astype(np.float32))
        # one float16 ulp: the float32 result rounded once more (an absolute
        # ulp below float16's smallest normal, where spacing is fixed)
        f16 = np.finfo(np.float16)
        np.testing.assert_allclose(got.astype(np.float64), via32.astype(np.float64),
                                   rtol=float(f16.eps), atol=float(f16.smallest_subnormal))


# ------------------------------------------------------------ temperature

@pytest.mark.parametrize("temperature", [0.25, 3.0])
@pytest.mark.parametrize("op", NORMALIZERS)
@pytest.mark.parametrize("desc, x", FLOAT_CASES, ids=ids(FLOAT_CASES))
def test_temperature(op, temperature, desc, x):
    for axis in axes_for(x)[:2]:
        check(op, x, axis, desc, temperature=temperature)


def test_temperature_one_is_default():
    x = np.random.default_rng(5).standard_normal((5, 7))
    for op in NORMALIZERS:
        np.testing.assert_array_equal(getattr(csoftmax, op)(x, temperature=1.0),
                                      getattr(csoftmax, op)(x))


def test_temperature_extremes():
    """Very small and very large temperatures, where 1/t or x/t leave the
    float range; the oracle divides exactly."""
    x = np.array([[1.0, 2.0, 3.0, -4.0], [0.0, 1e-300, -1e-300, 0.0]])
    for t in (1e-300, 1e-10, 1e10, 1e300):
        for op in NORMALIZERS:
            check(op, x, -1, f"t={t}", temperature=t)
            if t > 1e-30:  # float32: only where x / t is a float32 number
                check(op, x.astype(np.float32), -1, f"t={t}", temperature=t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_temperature_where_x_minus_max_overflows_in_place(op, dtype):
    """t > 1 and values near the type's max, so that x - max overflows where
    (x - max) / t does not: the result is that of x / t, also written over x."""
    top = np.finfo(dtype).max
    x = np.array([[0.9 * top, -0.9 * top, 1.0, 0.8 * top], [1.0, 2.0, 3.0, 4.0]], dtype)
    t = 4.0 if op == "log_softmax" else top / 30
    expected = getattr(csoftmax, op)(x / dtype(t))
    assert np.all(np.isfinite(expected))
    np.testing.assert_array_equal(getattr(csoftmax, op)(x, temperature=t), expected)
    inplace = x.copy()
    getattr(csoftmax, op)(inplace, temperature=t, out=inplace)
    np.testing.assert_array_equal(inplace, expected)


@pytest.mark.parametrize("temperature", [0.7, 3.0])
def test_temperature_keeps_the_ulp_bound(isa, temperature):
    """float32 softmax with a temperature: within 4 ulp of exp(s (x - max)) / sum,
    s = 1 / t as the kernels hold it (float32), at every ISA level, in rows
    (the scaled exps fold the product into their reduction: rounding s (x - max)
    first cost up to 65 ulp on these values). Columns take the same exps."""
    x = (np.random.default_rng(1).standard_normal((400, 1000)) * 30).astype(np.float32)
    scale = np.longdouble(np.float32(1 / temperature))
    for data, axis in ((x, -1), (np.ascontiguousarray(x.T), 0)):
        got = csoftmax.softmax(data, axis=axis, temperature=temperature).astype(np.float64)
        z = data.astype(np.longdouble) * scale
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        expected = (e / e.sum(axis=axis, keepdims=True)).astype(np.float64)
        ulp = np.spacing(expected.astype(np.float32)).astype(np.float64)
        normal = expected > np.finfo(np.float32).tiny
        assert np.max(np.abs(got - expected)[normal] / ulp[normal]) <= 4


@pytest.mark.parametrize("n", [4, 40, 70000])  # short rows, rows, a huge row
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_temperature_overflow_in_every_kernel_path(op, dtype, n):
    """x - max overflowing under t = 4 in rows of every kernel path and in
    columns (the column kernels): the result of x / t; a transposed view gives
    the bits of its contiguous copy."""
    top = np.finfo(dtype).max
    x = np.random.default_rng(n).standard_normal((5, n)).astype(dtype)
    x[1:4, 0], x[1:4, -1] = 0.9 * top, -0.9 * top
    x[2, n // 2] = 0.8 * top
    f = getattr(csoftmax, op)
    expected = f(x / dtype(4))
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    rows = f(x, temperature=4.0)
    np.testing.assert_allclose(rows, expected, rtol=rtol)
    assert np.isfinite(rows).all()
    columns = f(np.ascontiguousarray(x.T), axis=0, temperature=4.0)
    np.testing.assert_allclose(columns.T, expected, rtol=rtol)
    np.testing.assert_array_equal(f(x.T, axis=0, temperature=4.0), columns)


# ------------------------------------------------------------------ where=

def _masks(rng, x, axis):
    """A random mask, one with a fully masked slice along `axis`, and masks
    that need broadcasting (a single row, a length-1 axis)."""
    yield "random", rng.random(x.shape) < 0.6
    full = rng.random(x.shape) < 0.7
    if x.size and x.ndim:
        index = [slice(None)] * x.ndim
        for ax in np.atleast_1d(axis):
            index[ax] = slice(None)
        # mask out one whole slice: fix index 0 on every kept axis
        kept = [i for i in range(x.ndim) if i not in
                {a % x.ndim for a in np.atleast_1d(axis)}]
        for i in kept:
            index[i] = 0
        full[tuple(index)] = False
    yield "with a fully masked slice", full
    if x.ndim >= 1:
        yield "broadcast last axis", rng.random(x.shape[-1:]) < 0.6
    if x.ndim >= 2:
        yield "broadcast length-1 axis", rng.random((1,) + x.shape[1:]) < 0.6
    yield "all masked", np.zeros(x.shape, dtype=bool)
    yield "none masked", np.ones(x.shape, dtype=bool)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("desc, x", FINITE_CASES, ids=ids(FINITE_CASES))
def test_where(op, desc, x):
    rng = np.random.default_rng(zlib.crc32(desc.encode()))
    for axis in axes_for(x)[:3]:
        for mdesc, mask in _masks(rng, x, axis):
            check(op, x, axis, f"{desc}, mask {mdesc}", where=mask)


@pytest.mark.parametrize("op", OPS)
def test_where_ignores_masked_values(op):
    """Masked entries are ignored whatever they hold: nan, +inf, huge."""
    rng = np.random.default_rng(6)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((6, 9)).astype(dtype)
        mask = rng.random(x.shape) < 0.6
        mask[:, 0] = True
        mask[5] = False  # one fully masked row holding garbage
        junk = np.array([np.nan, np.inf, -np.inf, 1e30], dtype=dtype)
        x[~mask] = junk[rng.integers(0, 4, size=(~mask).sum())]
        got = check(op, x, -1, str(dtype), where=mask)
        if op == "softmax":
            assert (got[~mask] == 0).all()
            assert (got[5] == 0).all()
        elif op == "log_softmax":
            assert (got[~mask] == -np.inf).all()
        else:
            assert got[5] == -np.inf
        # the same as dropping the masked entries
        for i in range(5):
            kept = getattr(csoftmax, op)(x[i][mask[i]])
            if op == "logsumexp":
                np.testing.assert_allclose(got[i], kept, rtol=4 * np.finfo(dtype).eps)
            else:
                np.testing.assert_allclose(got[i][mask[i]], kept,
                                           rtol=4 * np.finfo(dtype).eps,
                                           atol=4 * np.finfo(dtype).eps)


def test_where_fully_masked():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[False, False], [True, False]])
    np.testing.assert_array_equal(csoftmax.softmax(x, where=mask), [[0, 0], [1, 0]])
    np.testing.assert_array_equal(csoftmax.log_softmax(x, where=mask),
                                  [[-np.inf, -np.inf], [0, -np.inf]])
    np.testing.assert_array_equal(csoftmax.logsumexp(x, where=mask), [-np.inf, 3.0])
    res, sign = csoftmax.logsumexp(x, where=mask, return_sign=True)
    np.testing.assert_array_equal(res, [-np.inf, 3.0])
    np.testing.assert_array_equal(sign, [0.0, 1.0])


# --------------------------------------------------------------- b, signs

@pytest.mark.parametrize("desc, x", FINITE_CASES, ids=ids(FINITE_CASES))
def test_logsumexp_b(desc, x):
    rng = np.random.default_rng(zlib.crc32(desc.encode()))
    if x.ndim == 0:
        bs = {"scalar": 2.5, "zero": 0.0}
    else:
        bs = {
            "positive": rng.random(x.shape) + 0.1,
            "mixed sign": rng.standard_normal(x.shape),
            "broadcast row": rng.random(x.shape[-1:]) + 0.5,
            "scalar": 0.75,
        }
    for axis in axes_for(x)[:3]:
        for bdesc, b in bs.items():
            b = np.asarray(b, dtype=reference.result_dtypes(x.dtype)[1])
            check("logsumexp", x, axis, f"{desc} b {bdesc}", b=b)
            check("logsumexp", x, axis, f"{desc} b {bdesc}", b=b, return_sign=True)
            if x.ndim:
                check("logsumexp", x, axis, f"{desc} b {bdesc}", b=b, keepdims=True,
                      return_sign=True)


def test_logsumexp_b_zero_ignores_inf_and_nan():
    """Entries with b == 0 add nothing even where x is inf or nan (SciPy)."""
    x = np.array([[1.0, np.inf, 2.0], [np.nan, 0.5, -1.0], [3.0, -np.inf, np.nan]])
    b = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    got = check("logsumexp", x, -1, b=b)
    np.testing.assert_allclose(got, [np.log(np.e + 2 * np.e**2), np.log(np.exp(0.5) + np.exp(-1)), 3.0],
                               rtol=1e-15)


def test_logsumexp_negative_sum():
    x = np.array([1.0, 2.0])
    b = np.array([1.0, -1.0])
    assert np.isnan(csoftmax.logsumexp(x, b=b))
    res, sign = csoftmax.logsumexp(x, b=b, return_sign=True)
    assert sign == -1.0
    np.testing.assert_allclose(res, np.log(np.e**2 - np.e), rtol=1e-15)
    res, sign = csoftmax.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -1.0]),
                                   return_sign=True)
    assert res == -np.inf and sign == 0.0


@pytest.mark.parametrize("desc, x", CASES, ids=ids(CASES))
def test_logsumexp_return_sign(desc, x):
    for axis in axes_for(x)[:3]:
        check("logsumexp", x, axis, desc, return_sign=True)


# ---------------------------------------------------------- exactness

@pytest.mark.parametrize("row", [[0.0, -40.0], [0.0, -20.0, -30.0, -45.0],
                                 [-1e-20, -40.0], [1e-3, -50.0], [0.0, -700.0]])
def test_logsumexp_exact_near_zero(row):
    """No 1 + tiny rounding: the result is within one ulp of the exact value
    (to the last bit), along rows and columns, on 1 or 2 threads."""
    x = np.array(row)
    exact = reference.logsumexp(x)
    for got in (csoftmax.logsumexp(x), csoftmax.logsumexp(x[:, None], axis=0)[0],
                csoftmax.logsumexp(np.tile(x, (1000, 1)), num_threads=2)[-1]):
        assert abs(got - exact) <= np.spacing(abs(exact)), (got, exact)


def test_logsumexp_exact_near_zero_float32():
    x = np.array([0.0, -20.0, -25.0], dtype=np.float32)
    exact = reference.logsumexp(x)
    got = csoftmax.logsumexp(x)
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= 4 * np.spacing(np.float32(exact)), (got, exact)


@pytest.mark.parametrize("offset", [1e4, -1e4, 3e5])
def test_float32_log_softmax_exact_for_offset_rows(offset):
    """float32 log_softmax is accurate relative to the spread of a row, not
    its magnitude: the oracle's tolerance has no term in |x|."""
    rng = np.random.default_rng(7)
    x = (offset + rng.standard_normal((8, 300)) * 3).astype(np.float32)
    for axis in (0, 1):
        check("log_softmax", x, axis)
        check("softmax", x, axis)


def test_log_softmax_of_dominant_entry_is_tiny_not_zero():
    """log_softmax([0, -40]) = -log1p(e^-40) ~ -4.2e-18: exactness near 0."""
    x = np.array([0.0, -40.0])
    got = csoftmax.log_softmax(x)
    exact = reference.log_softmax(x)
    # an absolute eps is allowed near 0 (log of the sum), not more
    assert abs(got[0] - exact[0]) <= 4 * np.finfo(np.float64).eps
    np.testing.assert_allclose(got[1], exact[1], rtol=1e-15)


# --------------------------------------------------------------------- out=

def _sentinel(dtype):
    return np.array(-12345.5).astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("op", OPS)
def test_out(op, dtype):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((5, 4, 7)) * 3).astype(dtype)
    for axis in (0, 1, -1, (0, 2)):
        expected = getattr(csoftmax, op)(x, axis)
        out = np.full(np.shape(expected), _sentinel(dtype))
        got = getattr(csoftmax, op)(x, axis, out=out)
        assert got is out
        check(op, x, axis, "out=", out=np.empty_like(out))
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_out_keepdims(dtype):
    x = np.random.default_rng(9).standard_normal((4, 6, 5)).astype(dtype)
    for axis in (0, 1, 2, (0, 2)):
        expected = csoftmax.logsumexp(x, axis, keepdims=True)
        out = np.full(expected.shape, _sentinel(dtype))
        assert csoftmax.logsumexp(x, axis, keepdims=True, out=out) is out
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("op", NORMALIZERS)
def test_out_in_place(op, dtype):
    """out=x overwrites the input with its own softmax."""
    rng = np.random.default_rng(10)
    base = (rng.standard_normal((6, 5, 9)) * 3).astype(dtype)
    layouts = {
        "C": lambda a: a,
        "Fortran": np.asfortranarray,
        "strided view": lambda a: a[::2, :, ::-1],
        "transposed": lambda a: a.T,
    }
    for name, layout in layouts.items():
        for axis in (0, 1, -1, (0, 1)):
            x = layout(base.copy())
            expected = getattr(reference, op)(x.copy(), axis)
            tol = reference.tolerance(op, x.copy(), axis, ref=expected)
            got = getattr(csoftmax, op)(x, axis, out=x)
            assert got is x
            reference.assert_matches(x, expected, tol, np.dtype(dtype),
                                     f"{op} in place, {name}, axis={axis}")


@pytest.mark.parametrize("op", OPS)
def test_out_strided_view(op):
    """out= may be a strided view (negative steps too); it is returned and
    nothing outside it is written."""
    rng = np.random.default_rng(11)
    for dtype in ("float64", "float32"):
        x = rng.standard_normal((6, 10)).astype(dtype)
        for axis in (0, 1):
            expected = getattr(csoftmax, op)(x, axis)
            if op == "logsumexp":
                big_shape, view = (40,), (lambda a: a[::-3][: expected.size])
            else:
                big_shape, view = (13, 23), (lambda a: a[1::2, ::-2][:6, :10])
            big = np.full(big_shape, _sentinel(dtype))
            out = view(big)
            assert out.shape == expected.shape and not out.flags.contiguous
            got = getattr(csoftmax, op)(x, axis, out=out)
            assert got is out
            check(op, x, axis, "strided out", out=view(np.empty_like(big)))
            np.testing.assert_allclose(out, expected, rtol=1e-13 if dtype == "float64" else 1e-6)
            written = np.zeros(big_shape, dtype=bool)
            view(written)[...] = True
            assert (big[~written] == _sentinel(dtype)).all(), "wrote outside out"


# ------------------------------------------------------------- threads

LARGE = [((300, 1000), "float64"), ((300, 1000), "float32"),
         ((64, 3, 500), "float64"), ((64, 3, 500), "float32"),
         ((2, 200000), "float32"), ((20000, 5), "float64")]


@pytest.fixture(scope="module")
def large_arrays():
    rng = np.random.default_rng(12)
    return {(shape, dtype): (rng.standard_normal(shape) * 4).astype(dtype)
            for shape, dtype in LARGE}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, dtype", LARGE, ids=[f"{s}-{d}" for s, d in LARGE])
def test_threads_bitwise_large(large_arrays, op, shape, dtype):
    """Big enough for the thread pool to split the work: 1 and 2 threads
    (and the default) must give the same bits, and both match the oracle."""
    x = large_arrays[(shape, dtype)]
    for axis in list(range(x.ndim)) + ([(0, 2)] if x.ndim == 3 else []):
        one = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=1))
        two = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=2))
        assert one.dtype == two.dtype == np.dtype(dtype)
        assert one.tobytes() == two.tobytes(), f"{op} axis={axis}: threads differ"
        assert np.asarray(getattr(csoftmax, op)(x, axis)).tobytes() == one.tobytes()
        expected = getattr(reference, op)(x, axis)
        tol = reference.tolerance(op, x, axis, ref=expected)
        reference.assert_matches(one, expected, tol, np.dtype(dtype),
                                 f"{op} {shape} {dtype} axis={axis}")


def test_threads_bitwise_with_keywords(large_arrays):
    x = large_arrays[((300, 1000), "float32")]
    mask = np.random.default_rng(13).random(x.shape) < 0.5
    b = np.abs(x) + 0.5
    calls = [("softmax", dict(temperature=0.7)), ("log_softmax", dict(where=mask)),
             ("logsumexp", dict(b=b)), ("logsumexp", dict(where=mask, keepdims=True))]
    for op, kw in calls:
        for axis in (0, 1):
            one = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=1, **kw))
            two = np.asarray(getattr(csoftmax, op)(x, axis, num_threads=2, **kw))
            assert one.tobytes() == two.tobytes(), (op, kw.keys(), axis)


@pytest.mark.parametrize("op", OPS)
def test_huge_rows_see_a_chunk_all_nan_wherever_it_lies(isa, op):
    """Rows of 2**16 entries or more go chunk by chunk (over the threads when
    there are fewer rows than threads, else whole rows per thread): a
    chunk of only nan (or of -inf and a nan) makes the row nan, as any nan
    does, and a chunk of only -inf adds nothing; b = 0 hides a nan."""
    C = (1 << 16) + 1001
    chunk = 1 << 14  # the kernels' chunk size at this C (chunk_size, huge_row_impl.h)
    x = np.random.default_rng(14).standard_normal((5, C)).astype(np.float32)
    x[0, chunk:2 * chunk] = np.nan
    x[1, :chunk] = np.nan
    x[2, 2 * chunk:3 * chunk] = -np.inf
    x[2, 2 * chunk + 5] = np.nan
    x[3, 2 * chunk:3 * chunk] = -np.inf
    x[4] = x[3]
    x[4, 2 * chunk] = np.nan
    kw = {}
    if op == "logsumexp":
        kw["b"] = np.ones_like(x)
        kw["b"][4, 2 * chunk] = 0
    got = getattr(csoftmax, op)(x, num_threads=1, **kw)
    expected = getattr(reference, op)(x[3], **{k: v[3] for k, v in kw.items()})
    tol = reference.tolerance(op, x[3], ref=expected)
    reference.assert_matches(got[3], expected, tol, x.dtype, op)
    assert np.isnan(got[:3]).all()
    if op == "logsumexp":
        assert got[4] == got[3]  # the nan's b is 0: as if it were -inf
    else:
        assert np.isnan(got[4]).all()
    for threads in (2, len(x) + 1):  # whole rows per thread; fewer rows than threads
        assert got.tobytes() == getattr(csoftmax, op)(x, num_threads=threads, **kw).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 3, 10, 13])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_short_row_bits_do_not_depend_on_neighbours(isa, dtype, n, temperature):
    """Short rows are computed several at a time (a vector of rows, the exp form
    chosen per group, contiguous rows apart from strided ones): a row must come
    out with the same bits alone, in a strided view, beside rows whose exps
    underflow or that are not finite, and over any thread split."""
    rng = np.random.default_rng(15)
    x = rng.standard_normal((41, n)).astype(dtype)
    x[2, 0] = np.finfo(dtype).max / 4
    x[5] = -np.inf
    x[7, n // 2] = np.nan
    x[9, n - 1] = np.inf
    wide = np.zeros((41, n + 3), dtype)
    wide[:, :n] = x
    for op in ("softmax", "log_softmax"):
        f = getattr(csoftmax, op)
        whole = f(x, axis=-1, temperature=temperature, num_threads=1)
        alone = np.concatenate([f(x[r:r + 1], axis=-1, temperature=temperature)
                                for r in range(len(x))])
        assert whole.tobytes() == alone.tobytes(), op
        strided = f(wide[:, :n], axis=-1, temperature=temperature)
        assert whole.tobytes() == strided.tobytes(), op
        for lo in (1, 3, 4, 9):  # starts of a thread's range that shift the groups
            part = f(x[lo:], axis=-1, temperature=temperature)
            assert whole[lo:].tobytes() == part.tobytes(), (op, lo)
    lse = csoftmax.logsumexp(x, axis=-1, num_threads=1)
    alone = np.concatenate([csoftmax.logsumexp(x[r:r + 1], axis=-1) for r in range(len(x))])
    assert lse.tobytes() == alone.tobytes()
    assert lse.tobytes() == csoftmax.logsumexp(wide[:, :n], axis=-1).tobytes()


def test_set_num_threads_changes_default(restore_num_threads):
    x = np.random.default_rng(14).standard_normal((300, 1000))
    csoftmax.set_num_threads(1)
    assert csoftmax.get_num_threads() == 1
    one = csoftmax.softmax(x, 0)
    csoftmax.set_num_threads(2)
    assert csoftmax.get_num_threads() == 2
    assert csoftmax.softmax(x, 0).tobytes() == one.tobytes()
