"""Hypothesis strategies and the outcome check shared by the fuzz tests
(tests/test_fuzz.py).

Arrays come in any dtype a caller might pass (float16/32/64, longdouble,
signed/unsigned ints, bool, complex, object, strings, datetimes), any small
shape (0-d and empty included), any memory layout (stepped, reversed,
transposed, Fortran, byte-swapped, read-only, unaligned) and hold normal,
huge, tiny, subnormal, infinite and nan values. Each fuzz test predicts from
its arguments which exceptions a call may raise (none for a valid call) and
`outcome` holds the library to that: a valid call returns, an invalid one
raises one of the predicted types with a non-empty message and leaves `out`
untouched, and nothing else ever happens.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numpy.exceptions import AxisError  # numpy >= 1.25, as the package requires

FLOATS = ("float64", "float32", "float16")
INTS = ("int8", "int32", "int64", "uint8", "uint64", "bool")
COMPLEX = ("complex128", "complex64")
NON_NUMERIC = ("object", "U3", "S3", "datetime64[s]", "timedelta64[s]")
LAYOUTS = ("contiguous", "fortran", "reversed", "stepped", "transposed", "byteswapped",
           "readonly", "unaligned")
SENTINEL = -777.25
# Calls run under this: results that overflow, nan from invalid operations and
# divisions by zero must not surface as NumPy warnings from inside the library
# (underflow is ignored, as NumPy does by default).
STRICT_FP = dict(over="raise", invalid="raise", divide="raise", under="ignore")


def is_numeric(dtype):
    return np.dtype(dtype).kind in "biufc"


def special_values(dtype):
    """Edge values of a float dtype: infinities, nan, the largest and
    smallest magnitudes, signed zeros, and offsets that defeat naive sums."""
    f = np.finfo(dtype)
    big = float(f.max)
    return [np.inf, -np.inf, np.nan, big, -big, big / 2, float(f.smallest_normal),
            float(f.smallest_subnormal), -float(f.smallest_subnormal), 0.0, -0.0,
            min(1e4, big), -min(1e4, big)]


def dtypes(floats=3, ints=1, complexes=0, others=0):
    """A dtype name drawn with these relative weights per family."""
    pool = (list(FLOATS) * floats + list(INTS) * ints + list(COMPLEX) * complexes
            + list(NON_NUMERIC + ("longdouble",)) * others)
    return st.sampled_from(pool)


@st.composite
def values(draw, shape, dtype, special=True, low=-40.0, high=40.0):
    """A C-contiguous array of `shape` and `dtype` with fuzzed values."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.floats(low, high, width=64)
        if special:
            elements = st.one_of(elements, elements, st.sampled_from(special_values(dtype)))
        with np.errstate(over="ignore"):
            return draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)
    if dtype.kind == "c":
        part = st.floats(-20, 20, width=64)
        real, imag = (draw(hnp.arrays(np.float64, shape, elements=part)) for _ in range(2))
        return np.asarray(real + 1j * imag, dtype)
    if dtype.kind in "biu":
        return draw(hnp.arrays(dtype, shape))
    if dtype.kind == "O":
        return draw(values(shape, np.float64, special)).astype(object)
    if dtype.kind in "US":
        return draw(hnp.arrays(dtype, shape))
    return np.zeros(shape, dtype)  # datetime64 / timedelta64


def with_layout(a, layout, axis=0):
    """`a`'s values in another memory layout (a view or copy; same values)."""
    numeric = is_numeric(a.dtype)
    if layout == "fortran" and a.ndim:  # (np.asfortranarray makes 0-d arrays 1-d)
        return np.asfortranarray(a)
    if layout == "transposed" and a.ndim >= 2:
        return np.ascontiguousarray(a.T).T
    if layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
        return a
    if a.ndim == 0 or a.size == 0:
        return a
    axis %= a.ndim
    if layout == "reversed":
        return np.flip(np.flip(a, axis).copy(), axis)
    if layout == "stepped":
        picks = (slice(None),) * axis + (slice(None, None, 2),)
        return np.repeat(a, 2, axis=axis)[picks]
    if layout == "byteswapped" and numeric and a.dtype.itemsize > 1:
        return a.astype(a.dtype.newbyteorder())
    if layout == "unaligned" and numeric and a.dtype.itemsize > 1:
        raw = np.empty(a.nbytes + 1, np.uint8)[1:]
        view = raw.view(a.dtype).reshape(a.shape)
        view[...] = a
        return view
    return a


@st.composite
def arrays(draw, dtype=None, shape=None, min_dims=0, max_dims=3, max_side=5, special=True,
           layouts=LAYOUTS):
    """(array, description) with fuzzed dtype, shape, values and layout."""
    dtype = np.dtype(draw(dtypes()) if dtype is None else dtype)
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                                      max_side=max_side))
    a = draw(values(shape, dtype, special))
    layout = draw(st.sampled_from(layouts))
    a = with_layout(a, layout, draw(st.integers(0, 3)))
    return a, f"{a.dtype} {a.shape} {layout}"


def axis_errors(axis, ndim, allow_tuple=True):
    """The exceptions a bad `axis` for an array of `ndim` dimensions may
    raise (an empty tuple if the axis is valid)."""
    if axis is None:
        return () if allow_tuple else (TypeError,)
    if isinstance(axis, tuple):
        if not allow_tuple:
            return (TypeError,)
        if not all(isinstance(a, int) for a in axis):
            return (TypeError,)
        if any(not -ndim <= a < ndim for a in axis):
            return (AxisError,)
        if len({a % ndim for a in axis}) != len(axis):
            return (ValueError,)
        return ()
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        return (TypeError,)
    return () if -ndim <= axis < ndim else (AxisError,)


def axes(ndim, allow_tuple=True, allow_none=True):
    """An axis argument: mostly valid ints, sometimes out of range, tuples
    (possibly repeated), None or the wrong type."""
    ints = st.integers(-ndim - 2, ndim + 1)
    options = [st.integers(-max(ndim, 1), max(ndim, 1) - 1), ints,
               st.sampled_from([1.5, "0"])]
    if allow_none:
        options.append(st.none())
    if allow_tuple:
        options.append(st.lists(st.integers(-ndim - 1, ndim), max_size=ndim + 1).map(tuple))
    return st.one_of(*options)


def threads():
    return st.sampled_from([None, None, 1, 2, 3, 0, 1.5])


def thread_errors(num_threads):
    if num_threads is None:
        return ()
    if not isinstance(num_threads, int):
        return (TypeError,)
    return () if num_threads >= 1 else (ValueError,)


def out_array(kind, shape, dtype, x=None):
    """An `out` argument of the requested kind, filled with SENTINEL, and the
    errors it alone provokes. Kinds: none, good, strided, alias (x itself when
    x has the result's shape and dtype and is writable), wrong_shape,
    wrong_dtype, readonly, list."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    if kind == "none":
        return None, ()
    if kind == "alias" and x is not None and x.shape == shape and x.dtype == dtype \
            and x.flags.writeable:
        return x, ()
    if kind == "list":
        return [SENTINEL] * 2, (TypeError,)
    if kind == "wrong_shape":
        return np.full(shape + (2,), SENTINEL, dtype), (ValueError,)
    if kind == "wrong_dtype":
        other = np.dtype(np.float32 if dtype != np.float32 else np.float64)
        return np.full(shape, SENTINEL, other), (ValueError,)
    if kind == "strided" and len(shape) > 0:
        big = np.full(shape[:-1] + (2 * shape[-1] + 1,), SENTINEL, dtype)
        return big[..., ::-2][..., :shape[-1]], ()
    out = np.full(shape, SENTINEL, dtype)
    if kind == "readonly":
        out.flags.writeable = False
        return out, (ValueError,)
    return out, ()


OUT_KINDS = st.sampled_from(["none", "none", "good", "strided", "alias", "wrong_shape",
                             "wrong_dtype", "readonly", "list"])


def _snapshot(value):
    return value.tobytes() if isinstance(value, np.ndarray) else None


def outcome(call, errors, out=None, protect=()):
    """Runs `call()`. With `errors` empty the call is valid and must return:
    its result is returned. Otherwise it must raise one of `errors` with a
    non-empty message, leaving `out` and every array in `protect` (inputs
    that alias out) bit for bit as they were; returns None then."""
    watched = [a for a in (out, *protect) if isinstance(a, np.ndarray)]
    before = [_snapshot(a) for a in watched]
    try:
        result = call()
    except (ValueError, TypeError, IndexError) as exc:
        if not errors:
            raise AssertionError(f"a valid call raised {type(exc).__name__}: {exc}") from exc
        assert isinstance(exc, errors), (
            f"raised {type(exc).__name__} ({exc}), expected one of "
            f"{[e.__name__ for e in errors]}")
        assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
        for array, snapshot in zip(watched, before):
            assert _snapshot(array) == snapshot, "an array was written before the error"
        return None
    assert not errors, f"accepted input that should raise one of {[e.__name__ for e in errors]}"
    return result


def close(got, expected, rtol, scale=None, nan_ok=False):
    """got equals the float64 oracle `expected` where it is finite, within
    rtol * (|expected| + scale) (scale defaults to the largest finite
    |expected|, so entries that cancel are judged against the array's size);
    nan and infinities must match exactly, except where `nan_ok` (a mask of
    non-finite or near-overflow inputs) lets either side be nan (0 * inf:
    the textbook formula's nan, or its limit). Values the oracle puts within
    a factor 64 of overflow may overflow in got."""
    dtype = np.asarray(got).dtype
    got = np.asarray(got, dtype=np.float64) if dtype.kind != "c" else np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    if dtype.kind == "f" and dtype.itemsize <= 8:
        limit = float(np.finfo(dtype).max) / 64
        near = np.isfinite(expected) & (np.abs(expected) > limit) & (
            np.sign(got) == np.sign(expected)) & (np.abs(got) > limit / 4)
        expected = np.where(near, got, expected)
    lenient = np.broadcast_to(nan_ok, expected.shape) & (np.isnan(expected) | np.isnan(got))
    got, expected = np.where(lenient, 0, got), np.where(lenient, 0, expected)
    nan_got, nan_exp = np.isnan(got), np.isnan(expected)
    assert (nan_got == nan_exp).all(), f"nan mismatch:\n got={got!r}\n expected={expected!r}"
    inf = np.isinf(got) | np.isinf(expected)
    assert (got[inf] == expected[inf]).all(), (
        f"inf mismatch:\n got={got!r}\n expected={expected!r}")
    finite = np.isfinite(expected) & ~inf
    if not finite.any():
        return
    magnitude = np.abs(expected[finite])
    if scale is None:
        scale = magnitude.max()
    err = np.abs(got[finite] - expected[finite])
    # results in the subnormal range have absolute precision only
    floor = 2 * float(np.finfo(dtype).smallest_subnormal) if dtype.kind == "f" else 0.0
    with np.errstate(invalid="ignore"):  # (an infinite rtol times 0: no constraint)
        tol = np.nan_to_num(rtol * (magnitude + scale), nan=np.inf) + floor + 1e-300
    assert (err <= tol).all(), (
        f"max err/tol {np.max(err / tol):.3g}:\n got={got!r}\n expected={expected!r}")
