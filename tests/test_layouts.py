"""Every memory layout and storage type of softmax, log_softmax, logsumexp and
csoftmax.special gives, bit for bit, the result of the same call on the
contiguous copy (views, Fortran order, negative steps, out= and where= of any
layout, broadcast masks), at every ISA level; float16 and bfloat16 give the
float32 result rounded once; a float16 softmax allocates no float32 copy."""
import itertools
import tracemalloc

import numpy as np
import pytest

import csoftmax
import csoftmax.special

try:  # bfloat16 comes from ml_dtypes (the test extra); without it, its cases are left out
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:
    BF16 = None
F16 = np.dtype(np.float16)
HALVES = tuple(half for half in (F16, BF16) if half is not None)
DTYPES = (np.dtype(np.float32), np.dtype(np.float64)) + HALVES


def bits(a):
    """The bytes of a result (nan payloads, signed zeros and all)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a).view(np.uint8), a.shape, a.dtype


def assert_bitwise(actual, expected):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_bitwise(a, e)
        return
    a, a_shape, a_dtype = bits(actual)
    e, e_shape, e_dtype = bits(expected)
    assert (a_shape, a_dtype) == (e_shape, e_dtype)
    if not np.array_equal(a, e):
        diff = np.flatnonzero(a != e)[:4]
        pytest.fail(f"differs at bytes {diff}: {np.asarray(actual).ravel()[:6]} vs "
                    f"{np.asarray(expected).ravel()[:6]}")


def base(shape, dtype, seed=0):
    """Random values with a spread that makes exps subnormal, a few -inf, a
    large value and a slice of all -inf."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 6
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, max(1, flat.size // 50))] = -np.inf
    flat[rng.integers(0, flat.size)] = 40.0
    x[(0,) * (x.ndim - 1)] = -np.inf  # one whole slice along the last axis
    return x.astype(dtype)


# (name, function of a 2-D array giving a view); all keep a 2-D shape
VIEWS_2D = {
    "C": lambda a: a,
    "F": np.asfortranarray,
    "T": lambda a: np.ascontiguousarray(a.T).T,
    "step2": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed_cols": lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1],
    "reversed_rows": lambda a: np.ascontiguousarray(a[::-1])[::-1],
    "both_negative": lambda a: np.repeat(np.ascontiguousarray(a[::-1, ::-1]), 3, axis=1)[::-1, ::-3],
    "F_step2_rows": lambda a: np.asfortranarray(np.repeat(a, 2, axis=0))[::2],
}

SHAPES_2D = ((37, 50), (19, 8), (130, 3))


def views_2d(shape, dtype):
    x = base(shape, dtype)
    for name, make in VIEWS_2D.items():
        view = make(x)
        assert_bitwise(view, x)
        yield name, view


def views_3d(dtype):
    x = base((5, 7, 9), dtype)
    yield "C", x
    yield "F", np.asfortranarray(x)
    yield "transposed", np.ascontiguousarray(x.transpose(2, 0, 1)).transpose(1, 2, 0)
    yield "strided", np.repeat(x, 2, axis=1)[:, ::2, :]
    yield "reversed", np.ascontiguousarray(x[::-1, :, ::-1])[::-1, :, ::-1]


FUNCTIONS = {
    "softmax": lambda x, axis: csoftmax.softmax(x, axis=axis),
    "log_softmax": lambda x, axis: csoftmax.log_softmax(x, axis=axis),
    "logsumexp": lambda x, axis: csoftmax.logsumexp(x, axis=axis),
    "logsumexp_keepdims": lambda x, axis: csoftmax.logsumexp(x, axis=axis, keepdims=True),
    "special.softmax": lambda x, axis: csoftmax.special.softmax(x, axis=axis),
    "special.log_softmax": lambda x, axis: csoftmax.special.log_softmax(x, axis=axis),
    "special.logsumexp": lambda x, axis: csoftmax.special.logsumexp(x, axis=axis),
    "softmax_t": lambda x, axis: csoftmax.softmax(x, axis=axis, temperature=3.0),
    "logsumexp_t": lambda x, axis: csoftmax.logsumexp(x, axis=axis, temperature=0.5),
}


def check_same_as_contiguous(function, view, axis):
    assert_bitwise(function(view, axis), function(np.ascontiguousarray(view), axis))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("function", FUNCTIONS, ids=str)
def test_views_2d(isa, function, dtype):
    for shape in SHAPES_2D:
        for name, view in views_2d(shape, dtype):
            for axis in (-1, 0):
                if function.startswith("special") and dtype == BF16:
                    continue  # SciPy's dtype rules know no bfloat16
                check_same_as_contiguous(FUNCTIONS[function], view, axis)


@pytest.mark.parametrize("dtype", (np.dtype(np.float32), F16), ids=str)
@pytest.mark.parametrize("function", ("softmax", "log_softmax", "logsumexp"))
def test_views_3d(isa, function, dtype):
    for name, view in views_3d(dtype):
        for axis in (0, 1, 2, (0, 2), (1, 2), None):
            check_same_as_contiguous(FUNCTIONS[function], view, axis)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logsumexp_weights_and_sign(isa, dtype):
    rng = np.random.default_rng(1)
    for name, view in views_2d((23, 40), dtype):
        b = rng.standard_normal(view.shape).astype(dtype)
        for b_view in (b, np.asfortranarray(b), np.repeat(b, 2, axis=1)[:, ::2],
                       b[:1], b[:, :1]):
            for axis in (-1, 0):
                expected = csoftmax.logsumexp(np.ascontiguousarray(view), axis=axis,
                                              b=np.ascontiguousarray(np.broadcast_to(b_view, view.shape)),
                                              return_sign=True)
                assert_bitwise(csoftmax.logsumexp(view, axis=axis, b=b_view, return_sign=True),
                               expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("log", (False, True))
def test_masks(isa, dtype, log):
    """where= full and broadcast masks of any layout, on views."""
    function = csoftmax.log_softmax if log else csoftmax.softmax
    rng = np.random.default_rng(2)
    for name, view in views_2d((29, 33), dtype):
        full = rng.random(view.shape) < 0.7
        full[3] = False  # a fully masked row
        masks = (full, np.asfortranarray(full), np.ascontiguousarray(full[:, ::-1])[:, ::-1],
                 rng.random((1, view.shape[1])) < 0.5, rng.random((view.shape[0], 1)) < 0.5,
                 np.repeat(full, 2, axis=1)[:, ::2])
        for mask in masks:
            dense = np.ascontiguousarray(np.broadcast_to(mask, view.shape))
            for axis in (-1, 0):
                expected = function(np.ascontiguousarray(view), axis=axis, where=dense)
                assert_bitwise(function(view, axis=axis, where=mask), expected)
                expected = csoftmax.logsumexp(np.ascontiguousarray(view), axis=axis, where=dense)
                assert_bitwise(csoftmax.logsumexp(view, axis=axis, where=mask), expected)


def test_causal_mask_broadcast_over_batch(isa):
    x = base((6, 16, 16), np.float32)
    causal = np.tril(np.ones((16, 16), bool))
    for view in (x, np.asfortranarray(x), x.transpose(0, 2, 1)):
        for function in (csoftmax.softmax, csoftmax.log_softmax, csoftmax.logsumexp):
            expected = function(np.ascontiguousarray(view), where=np.broadcast_to(causal, x.shape).copy())
            assert_bitwise(function(view, where=causal), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_out_of_any_layout(isa, dtype):
    x = base((31, 45), dtype)
    for log in (False, True):
        function = csoftmax.log_softmax if log else csoftmax.softmax
        for axis in (-1, 0):
            expected = function(x, axis=axis)
            for out in (np.empty(x.shape, dtype, order="F"),
                        np.empty((x.shape[0], 2 * x.shape[1]), dtype)[:, ::2],
                        np.empty(x.shape, dtype)[::-1][::-1],
                        np.empty((x.shape[1], x.shape[0]), dtype).T[:, ::-1][:, ::-1]):
                result = function(x, axis=axis, out=out)
                assert result is out
                assert_bitwise(out, expected)
                out = np.empty(x.shape, dtype, order="F")
                function(np.asfortranarray(x), axis=axis, out=out)  # both Fortran
                assert_bitwise(out, expected)


@pytest.mark.parametrize("dtype", (np.dtype(np.float32), F16), ids=str)
def test_in_place_views(isa, dtype):
    x = base((21, 34), dtype)
    for name, make in VIEWS_2D.items():
        view = make(x.copy())
        expected = csoftmax.softmax(np.ascontiguousarray(view))
        assert csoftmax.softmax(view, out=view) is view
        assert_bitwise(view, expected)


@pytest.mark.parametrize("half", HALVES, ids=str)
def test_half_types_are_float32_rounded_once(isa, half):
    x = base((41, 77), half)
    wide = x.astype(np.float32)
    for axis in (-1, 0):
        for function in (csoftmax.softmax, csoftmax.log_softmax, csoftmax.logsumexp):
            with np.errstate(over="ignore"):
                expected = function(wide, axis=axis).astype(half)
            assert_bitwise(function(x, axis=axis), expected)
            assert_bitwise(function(x.T, axis=axis), function(wide.T, axis=axis).astype(half))
        rng = np.random.default_rng(3)
        mask = rng.random(x.shape) < 0.6
        assert_bitwise(csoftmax.softmax(x, axis=axis, where=mask),
                       csoftmax.softmax(wide, axis=axis, where=mask).astype(half))


def test_half_rounding_edges(isa):
    """Values around every float16 / bfloat16 rounding boundary, ties and
    subnormals: stored by the tiles as NumPy / ml_dtypes round them."""
    rng = np.random.default_rng(4)
    # log_softmax of (0, v) is (-log1p(exp(v)), v - log1p(exp(v))): spans the half range
    v = np.concatenate([rng.uniform(-30, 12, 4000), -np.logspace(-8, 1.3, 200)]).astype(np.float32)
    x = np.stack([np.zeros_like(v), v], axis=1)
    for half in HALVES:
        for function in (csoftmax.softmax, csoftmax.log_softmax):
            y = function(x)
            with np.errstate(over="ignore"):
                expected = y.astype(half)
            assert_bitwise(function(x, dtype=half), expected)


def test_float64_from_float32_widens(isa):
    for name, view in views_2d((17, 64), np.float32):
        for axis in (-1, 0):
            for function in (csoftmax.softmax, csoftmax.log_softmax, csoftmax.logsumexp):
                assert_bitwise(function(view, axis=axis, dtype=np.float64),
                               function(view.astype(np.float64), axis=axis))


def test_new_outputs_keep_memory_order():
    x = np.asfortranarray(base((40, 30), np.float32))
    assert csoftmax.softmax(x).flags.f_contiguous
    assert csoftmax.log_softmax(x.astype(F16)).flags.f_contiguous


def test_float16_softmax_allocates_no_float32_copy():
    x = base((2048, 300), F16)
    csoftmax.softmax(x)  # warm up
    for view in (x, np.asfortranarray(x)):
        tracemalloc.start()
        try:
            y = csoftmax.softmax(view)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        tiles = csoftmax.get_num_threads() * 2 * 64 * 300 * 4  # input and output halves
        assert peak <= y.nbytes + tiles + 65536, (peak, y.nbytes)


@pytest.mark.slow
def test_exhaustive_sweep(isa):
    """Every view, dtype, axis and option together on more shapes."""
    shapes = ((1, 1), (1, 300), (300, 1), (64, 17), (9, 2049), (3, 70000))
    for shape, dtype in itertools.product(shapes, DTYPES):
        for name, view in views_2d(shape, dtype):
            for axis in (-1, 0):
                for function in ("softmax", "log_softmax", "logsumexp", "softmax_t"):
                    check_same_as_contiguous(FUNCTIONS[function], view, axis)


@pytest.mark.parametrize("shape, axis", [((0, 4), 1), ((0, 4), 0), ((4, 0), 0), ((2, 0, 3), 2),
                                         ((3, 0, 5), (0, 2))])
def test_empty_kept_or_reduced_axes_of_any_layout(shape, axis):
    """A kept axis of length 0 empties the call (nothing to compute); a reduced
    one gives logsumexp -inf and empty normaliser outputs, in every layout."""
    x = np.zeros(shape, np.float32)
    for view in (x, np.asfortranarray(x)):
        for function in (csoftmax.softmax, csoftmax.log_softmax):
            assert_bitwise(function(view, axis=axis), function(np.ascontiguousarray(view), axis=axis))
        expected = np.full(np.sum(x, axis=axis).shape, -np.inf, np.float32)
        got = csoftmax.logsumexp(view, axis=axis)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        assert np.array_equal(got, expected)


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(csoftmax._core.usable_isa_levels()),
                    reason="needs both AVX2 and AVX-512")
@pytest.mark.parametrize("width", [2, 3, 4, 8, 9, 16, 40])
def test_slices_side_by_side_same_bits_at_avx2_and_avx512(width):
    """Slices side by side (a reduced axis that is not the last) are computed
    one per lane, so AVX2 and AVX-512 give the same bits; under AVX-512 a few
    of them (at most half a vector) run AVX2's kernels."""
    from csoftmax import _core

    x32 = base((3000, width), np.float32, seed=width)
    offsets = np.array([0, 1, 5, 40, 41, 2000, 3000])
    calls = [(function, x) for function in ("softmax", "log_softmax", "logsumexp", "softmax_t")
             for x in (x32, x32.astype(np.float64))]
    segment_calls = (csoftmax.segment_softmax, csoftmax.segment_log_softmax,
                     csoftmax.segment_logsumexp)
    before = _core.get_isa()
    results = {}
    try:
        for level in ("avx2", "avx512"):
            _core.set_isa(level)
            results[level] = ([FUNCTIONS[f](x, 0) for f, x in calls]
                              + [fn(x32, offsets=offsets) for fn in segment_calls])
    finally:
        _core.set_isa(before)
    for got, expected in zip(results["avx512"], results["avx2"]):
        assert_bitwise(got, expected)
