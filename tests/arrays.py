"""One array generator for every test, in the manner of bottleneck's
``array_generator``: ``arrays()`` yields ``(description, array)`` pairs that
cover shapes (0-d, empty, single element, short and long rows, many axes),
memory layouts (strided, negative strides, Fortran order, transposed,
read-only, byte-swapped), dtypes (float16/32/64, signed and unsigned ints,
bool) and values (huge, tiny, subnormal, +-inf, nan, all -inf slices,
offset rows, ties).  Everything is small so the whole sweep takes seconds.
"""

import numpy as np

FLOAT_DTYPES = ("float64", "float32", "float16")
INT_DTYPES = ("int8", "int16", "int32", "int64",
              "uint8", "uint16", "uint32", "uint64", "bool")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES

# Row lengths on both sides of the vector widths (8/16 lanes) and of the
# short-row kernel switch, plus rows of 0 and 1.
SHAPES = [
    (), (0,), (1,), (2,), (7,), (16,), (17,), (100,),
    (0, 3), (3, 0), (2, 0, 4), (1, 1), (3, 1), (1, 5),
    (4, 9), (5, 16), (3, 33), (33, 3), (2, 3, 5), (2, 1, 40),
    (3, 19, 4), (2, 2, 2, 3),
]


def _random(rng, shape, dtype, scale=3.0):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * scale).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "u":
        return rng.integers(0, 20, size=shape).astype(dtype)
    return rng.integers(-10, 11, size=shape).astype(dtype)


def _layouts(rng, dtype):
    base = _random(rng, (6, 5, 12), dtype)
    yield "step 2 along axis 0", base[::2]
    yield "step 3 along last axis", base[..., ::3]
    yield "negative strides", base[::-1, :, ::-2]
    yield "mixed steps", base[1::2, ::-1, 3:]
    yield "Fortran order", np.asfortranarray(base)
    yield "transposed", base.T
    yield "2-d column slice", base[:, 2, :]
    ro = base.copy()
    ro.flags.writeable = False
    yield "read-only", ro
    if np.dtype(dtype).itemsize > 1:
        swapped = base.astype(base.dtype.newbyteorder())
        yield "byte-swapped", swapped
        yield "byte-swapped, negative strides", swapped[::-1, ::2]


def _float_values(dtype):
    """Named (rows, cols) value sets; each row is one edge case, so that
    reducing the last axis hits it exactly and other axes mix them."""
    f = np.finfo(dtype)
    inf, nan = np.inf, np.nan
    big = float(f.max)
    huge = {np.dtype("float64"): 1e300, np.dtype("float32"): 1e36,
            np.dtype("float16"): 3e4}[np.dtype(dtype)]
    tiny = float(f.smallest_normal)
    sub = float(f.smallest_subnormal)
    offset = {np.dtype("float16"): 1e3}.get(np.dtype(dtype), 1e4)
    rows = {
        "all -inf": [-inf] * 5,
        "one -inf": [1.0, -inf, 2.0, 0.5, -1.0],
        "one +inf": [1.0, inf, 2.0, 0.5, -1.0],
        "two +inf": [inf, 0.0, inf, -inf, 1.0],
        "+inf and -inf": [inf, -inf, -inf, -inf, -inf],
        "nan": [1.0, 2.0, nan, 0.0, -1.0],
        "nan and +inf": [nan, inf, 0.0, 1.0, 2.0],
        "huge spread": [huge, -huge, 0.0, huge / 2, -1.0],
        "max float": [big, -big, big, 0.0, -big],
        "tiny": [tiny, -tiny, sub, -sub, 0.0],
        "ties": [2.0, 2.0, 2.0, -1.0, 2.0],
        "constant": [0.5] * 5,
        "offset row": [offset + d for d in (0.0, 0.25, -1.5, 3.0, 0.125)],
        "negative offset": [-offset + d for d in (0.0, 0.25, -1.5, 3.0, 0.125)],
        "far tail": [0.0, -30.0, -80.0, -700.0, -740.0],
        "signed zeros": [0.0, -0.0, 0.0, -0.0, 0.0],
    }
    return rows


def _special(rng, dtype):
    rows = _float_values(dtype)
    with np.errstate(over="ignore"):
        for name, row in rows.items():
            yield f"row {name}", np.array(row, dtype=dtype)
        table = np.array(list(rows.values()), dtype=dtype)
    yield "edge-case table (rows x 5)", table
    yield "edge-case table, Fortran", np.asfortranarray(table)
    yield "edge-case table, reversed", table[::-1, ::-1]
    yield "edge-case table, 3-d", table.reshape(4, 4, 5)
    for scale in (30.0, 300.0):
        yield f"wide values x{scale:g}", _random(rng, (4, 20), dtype, scale)
    speckled = _random(rng, (3, 4, 6), dtype)
    flat = speckled.reshape(-1)
    picks = rng.choice(flat.size, size=9, replace=False)
    flat[picks[:3]] = -np.inf
    flat[picks[3:5]] = np.inf
    flat[picks[5:7]] = np.nan
    yield "speckled inf/nan 3-d", speckled
    yield "long row", _random(rng, (2, 2000), dtype)
    yield "many short rows", _random(rng, (500, 3), dtype)


def _int_values(dtype):
    info = np.iinfo(dtype)
    row = [info.min, info.max, 0, 1, info.max - 1]
    return np.array(row, dtype=dtype)


def arrays(dtypes=ALL_DTYPES, *, special=True, seed=0):
    """Yield (description, array) for every requested dtype."""
    rng = np.random.default_rng(seed)
    for name in dtypes:
        dtype = np.dtype(name)
        for shape in SHAPES:
            yield f"{name} shape {shape}", _random(rng, shape, dtype)
        for desc, a in _layouts(rng, dtype):
            yield f"{name} {desc}", a
        if not special:
            continue
        if dtype.kind == "f":
            for desc, a in _special(rng, dtype):
                yield f"{name} {desc}", a
        elif dtype.kind in "iu":
            yield f"{name} extremes", _int_values(dtype)
            yield f"{name} extremes 2-d", np.stack([_int_values(dtype)] * 3)
        else:
            yield "bool all False", np.zeros((3, 4), dtype=bool)
            yield "bool all True", np.ones((3, 4), dtype=bool)


def finite_float_arrays(dtypes=("float64", "float32"), seed=1):
    """The generator's float arrays that hold only finite values."""
    for desc, a in arrays(dtypes, seed=seed):
        if a.dtype.kind == "f" and np.isfinite(a).all():
            yield desc, a


def axes_for(a):
    """Every single axis of ``a`` (negative -1 included) and, for ndim >= 2,
    some tuples of axes.  A 0-d array gets -1 and 0 (SciPy's atleast_1d)."""
    if a.ndim == 0:
        return [-1, 0]
    out = list(range(a.ndim)) + [-1]
    if a.ndim >= 2:
        out += [(0, a.ndim - 1), tuple(range(a.ndim))]
    if a.ndim >= 3:
        out += [(-1, 1), (2, 0)]
    return out
