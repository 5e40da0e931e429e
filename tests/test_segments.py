"""segment_softmax, segment_log_softmax, segment_logsumexp,
segment_softmax_backward and logcumsumexp: against PyTorch Geometric, PyTorch,
csoftmax.softmax on each segment and long-double references; layouts, thread
counts, ISA levels and errors."""
import numpy as np
import pytest

import csoftmax
from csoftmax import (
    logcumsumexp, segment_log_softmax, segment_logsumexp, segment_softmax,
    segment_softmax_backward,
)

DTYPES = [np.float32, np.float64]
# Segments shorter than this go many per call through their own loop, not the
# normaliser kernels (CSM_SHORT_SEGMENT in src/segments.h).
SHORT_SEGMENT = 64


def power_law_offsets(rng, segments, mean_length):
    """A CSR pointer with heavy-tailed segment lengths (many of 0 to 10)."""
    lengths = np.floor(rng.pareto(1.5, segments) * mean_length / 3).astype(np.int64)
    return np.concatenate([[0], np.cumsum(lengths)])


def ulp_distance(a, b):
    """|a - b| in units in the last place of b's dtype at b (a, b finite)."""
    b = np.asarray(b)
    return np.abs(a.astype(np.longdouble) - b.astype(np.longdouble)) / np.spacing(
        np.abs(b)).astype(np.longdouble)


@pytest.fixture
def graph():
    rng = np.random.default_rng(0)
    offsets = power_law_offsets(rng, 300, 12)
    return rng, offsets


# ---- segments against csoftmax.softmax on each segment ----------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads", [None, 3, 20])
@pytest.mark.parametrize("log", [False, True])
def test_offsets_bitwise_softmax_per_segment(graph, isa, dtype, heads, log):
    rng, offsets = graph
    shape = (offsets[-1],) if heads is None else (offsets[-1], heads)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = (segment_log_softmax if log else segment_softmax)(x, offsets=offsets)
    per = csoftmax.log_softmax if log else csoftmax.softmax
    assert y.dtype == dtype and y.shape == x.shape
    tol = dict(rtol=4e-7, atol=4e-7) if dtype == np.float32 else dict(rtol=1e-15, atol=1e-15)
    for a, b in zip(offsets[:-1], offsets[1:]):
        expected = per(x[a:b], axis=0)
        if b - a >= SHORT_SEGMENT:  # the same kernel: the same bits
            np.testing.assert_array_equal(y[a:b], expected)
        else:  # many short segments per call, the same arithmetic
            np.testing.assert_allclose(y[a:b], expected, **tol)
    assert (np.diff(offsets) >= SHORT_SEGMENT).sum() >= 5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads", [None, 4])
def test_logsumexp_per_segment_and_empty(graph, isa, dtype, heads):
    rng, offsets = graph
    shape = (offsets[-1],) if heads is None else (offsets[-1], heads)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    r = segment_logsumexp(x, offsets=offsets)
    assert r.shape == (len(offsets) - 1,) + shape[1:]
    eps = np.finfo(dtype).eps
    for s, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
        if a == b:
            assert np.all(r[s] == -np.inf)
        elif b - a >= SHORT_SEGMENT:
            np.testing.assert_array_equal(r[s], csoftmax.logsumexp(x[a:b], axis=0))
        else:
            np.testing.assert_allclose(r[s], csoftmax.logsumexp(x[a:b], axis=0), rtol=2 * eps,
                                       atol=2 * eps)
    assert (np.diff(offsets) == 0).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads", [None, 5])
def test_index_forms_agree_with_offsets(graph, isa, dtype, heads):
    rng, offsets = graph
    shape = (offsets[-1],) if heads is None else (offsets[-1], heads)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    # log_softmax near 0 keeps an absolute error of the order of max's rounding
    tol = dict(rtol=4e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-14)
    for log, fn in [(False, segment_softmax), (True, segment_log_softmax)]:
        by_offsets = fn(x, offsets=offsets)
        np.testing.assert_array_equal(fn(x, index=ids), by_offsets)  # sorted runs as offsets
        order = rng.permutation(len(ids))
        shuffled = fn(x[order], index=ids[order], num_segments=len(offsets) - 1)
        np.testing.assert_allclose(shuffled, by_offsets[order], **tol)
    order = rng.permutation(len(ids))
    np.testing.assert_allclose(
        segment_logsumexp(x[order], index=ids[order], num_segments=len(offsets) - 1),
        segment_logsumexp(x, offsets=offsets), **tol)


@pytest.mark.parametrize("heads", [None, 3, 8])
@pytest.mark.parametrize("form", ["offsets", "shuffled_index"])
def test_float32_softmax_within_4_ulp(graph, isa, heads, form):
    """Every path (short segments many per call, the row and column kernels,
    the scatter passes of an unsorted index) within 4 ulp of a long-double
    reference, on logits spread wide enough that x - max loses bits when
    rounded (exps down to 1e-30)."""
    rng, offsets = graph
    shape = (offsets[-1],) if heads is None else (offsets[-1], heads)
    x = (rng.standard_normal(shape) * 12).astype(np.float32)
    ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    xl = x.astype(np.longdouble)
    expected = np.empty_like(xl)
    for a, b in zip(offsets[:-1], offsets[1:]):
        if b > a:
            e = np.exp(xl[a:b] - xl[a:b].max(axis=0))
            expected[a:b] = e / e.sum(axis=0)
    if form == "offsets":
        y = segment_softmax(x, offsets=offsets)
    else:
        order = rng.permutation(len(ids))
        y = np.empty_like(x)
        y[order] = segment_softmax(x[order], index=ids[order], num_segments=len(offsets) - 1)
    normal = expected >= np.finfo(np.float32).tiny
    assert normal.sum() > 0.9 * normal.size
    assert ulp_distance(y[normal], expected[normal].astype(np.float32)).max() <= 4


def test_num_segments_default_and_trailing_empty():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(segment_logsumexp(x, index=[2, 0, 2]),
                                  [2.0, -np.inf, np.logaddexp(1.0, 3.0)])
    r = segment_logsumexp(x, index=[2, 0, 2], num_segments=5)
    assert r.shape == (5,) and np.all(r[3:] == -np.inf)
    r = segment_logsumexp(x, index=[1, 1, 3], num_segments=6)  # sorted: runs as offsets
    np.testing.assert_array_equal(r, [-np.inf, np.logaddexp(1.0, 2.0), -np.inf, 3.0, -np.inf,
                                      -np.inf])
    assert segment_logsumexp(np.zeros(0), index=np.zeros(0, int)).shape == (0,)
    assert segment_softmax(np.zeros((0, 2)), offsets=[0]).shape == (0, 2)


def test_special_values():
    inf, nan = np.inf, np.nan
    x = np.array([-inf, -inf, 1.0, inf, 2.0, nan, 0.0, 3.0])
    offsets = [0, 2, 4, 6, 8]
    order = np.array([7, 2, 0, 5, 1, 4, 6, 3])
    ids = np.repeat(np.arange(4), 2)
    for fn in (segment_softmax, segment_log_softmax):
        y = fn(x, offsets=offsets)
        if fn is segment_softmax:
            assert np.isnan(y[:6]).all()  # all -inf, +inf, nan: as softmax
        np.testing.assert_array_equal(y[:6], (csoftmax.log_softmax if fn is segment_log_softmax
                                              else csoftmax.softmax)(x[:6].reshape(3, 2)).ravel())
        shuffled = fn(x[order], index=ids[order])
        np.testing.assert_array_equal(np.isnan(shuffled), np.isnan(y[order]))
        np.testing.assert_allclose(shuffled[~np.isnan(shuffled)], y[order][~np.isnan(y[order])])
    lse = segment_logsumexp(x, offsets=offsets)
    np.testing.assert_array_equal(lse[:3], [-inf, inf, nan])
    np.testing.assert_array_equal(segment_logsumexp(x[order], index=ids[order])[:3], lse[:3])


@pytest.mark.parametrize("form", ["offsets", "index"])
def test_views_bitwise_equal_contiguous(graph, form):
    rng, offsets = graph
    length = offsets[-1]
    ids = rng.integers(0, 50, length)
    seg = dict(offsets=offsets) if form == "offsets" else dict(index=ids, num_segments=50)
    base = rng.standard_normal((length, 6)).astype(np.float32)
    for fn in (segment_softmax, segment_log_softmax, segment_logsumexp):
        expected = fn(base, **seg)
        big = np.zeros((length, 12), np.float32)
        big[:, ::2] = base
        views = [np.asfortranarray(base), big[:, ::2], base[:, ::-1][:, ::-1].copy(order="F")]
        for view in views:
            np.testing.assert_array_equal(fn(view, **seg), expected)
        np.testing.assert_array_equal(fn(base.T, axis=1, **seg).T, expected)
        copied = np.ascontiguousarray(base.T)  # other memory: the row kernel instead of columns
        np.testing.assert_allclose(fn(copied, axis=1, **seg).T, expected, rtol=1e-6, atol=1e-7)
        flat = base[:, 2].copy()
        strided = base[:, 2]  # stride 6 along the segment axis
        np.testing.assert_array_equal(fn(strided, **seg), fn(flat, **seg))
        np.testing.assert_array_equal(fn(flat[::-1][::-1], **seg), fn(flat, **seg))


@pytest.mark.parametrize("form", ["offsets", "index"])
def test_threads_same_bits(form):
    rng = np.random.default_rng(1)
    offsets = power_law_offsets(rng, 4000, 40)
    ids = rng.integers(0, 4000, offsets[-1])
    seg = dict(offsets=offsets) if form == "offsets" else dict(index=ids, num_segments=4000)
    x = rng.standard_normal((offsets[-1], 2)).astype(np.float32)
    for fn in (segment_softmax, segment_log_softmax, segment_logsumexp):
        one = fn(x, num_threads=1, **seg)
        for threads in (2, 3):
            np.testing.assert_array_equal(fn(x, num_threads=threads, **seg), one)


def test_out_and_dtypes(graph):
    rng, offsets = graph
    x = rng.standard_normal(offsets[-1])
    out = np.empty_like(x)
    assert segment_softmax(x, offsets=offsets, out=out) is out
    np.testing.assert_array_equal(out, segment_softmax(x, offsets=offsets))
    for fn in (segment_softmax, segment_log_softmax):  # y over x: x read before written
        for dtype in (np.float32, np.float64):
            inplace = x.astype(dtype)
            fn(inplace, offsets=offsets, out=inplace)
            np.testing.assert_array_equal(inplace, fn(x.astype(dtype), offsets=offsets))
    strided = np.empty((len(x), 2))[:, 0]
    segment_log_softmax(x, offsets=offsets, out=strided)
    np.testing.assert_array_equal(strided, segment_log_softmax(x, offsets=offsets))
    ids = rng.integers(0, 7, len(x))
    inplace = x.copy()
    segment_softmax(inplace, index=ids, out=inplace)
    np.testing.assert_array_equal(inplace, segment_softmax(x, index=ids))
    half = segment_softmax(x.astype(np.float16), offsets=offsets)
    assert half.dtype == np.float16
    assert segment_softmax(np.arange(4), offsets=[0, 2, 4]).dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        segment_softmax(x, offsets=offsets, out=np.empty(len(x) + 1))
    with pytest.raises(ValueError, match="dtype"):
        segment_softmax(x, offsets=offsets, out=np.empty(len(x), np.float32))


def test_errors_before_any_write():
    x = np.arange(5.0)
    out = np.full(5, 7.0)
    cases = [
        (ValueError, dict(), "exactly one"),
        (ValueError, dict(offsets=[0, 5], index=[0] * 5), "exactly one"),
        (ValueError, dict(offsets=[0, 3, 2, 5]), "non-decreasing"),
        (ValueError, dict(offsets=[1, 5]), r"offsets\[0\]"),
        (ValueError, dict(offsets=[0, 4]), r"offsets\[-1\]"),
        (ValueError, dict(offsets=[[0, 5]]), "1-D integer"),
        (ValueError, dict(offsets=[0.0, 5.0]), "1-D integer"),
        (ValueError, dict(offsets=[0, 5], num_segments=2), "num_segments"),
        (ValueError, dict(index=[0, 1, 2]), "length"),
        (IndexError, dict(index=[0, 1, -1, 0, 0]), r"index\[2\]"),
        (IndexError, dict(index=[0, 1, 2, 3, 1], num_segments=3), r"index\[3\]"),
        (IndexError, dict(index=[0, 4, 1, 1, 1], num_segments=2), r"index\[1\]"),
        (IndexError, dict(index=[0, 0, 1, 1, 3], num_segments=3), r"index\[4\]"),
        (ValueError, dict(index=[0, 1, 2, 3, 1], num_segments=-1), ">= 0"),
    ]
    for error, kwargs, match in cases:
        for fn in (segment_softmax, segment_log_softmax):
            with pytest.raises(error, match=match):
                fn(x, out=out, **kwargs)
        with pytest.raises(error, match=match):
            segment_logsumexp(x, **kwargs)
        with pytest.raises(error, match=match):
            segment_softmax_backward(x, x, **kwargs)
        assert np.all(out == 7.0)
    with pytest.raises(ValueError, match="dimension"):
        segment_softmax(np.float64(1.0), offsets=[0, 1])
    with pytest.raises(TypeError):
        segment_softmax(np.ones(2, complex), offsets=[0, 2])
    with pytest.raises(ValueError, match="shape"):
        segment_softmax_backward(np.ones(3), np.ones(4), offsets=[0, 3])


# ---- PyTorch Geometric and autograd -----------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads", [None, 4])
def test_against_torch_geometric(graph, dtype, heads):
    torch = pytest.importorskip("torch")
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    rng, offsets = graph
    offsets = offsets[np.r_[True, np.diff(offsets) > 0]]  # PyG's ptr form keeps no empty segment
    shape = (offsets[-1],) if heads is None else (offsets[-1], heads)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    order = rng.permutation(len(ids))
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    expected = pyg_utils.softmax(torch.from_numpy(x), ptr=torch.from_numpy(offsets)).numpy()
    np.testing.assert_allclose(segment_softmax(x, offsets=offsets), expected, **tol)
    expected = pyg_utils.softmax(torch.from_numpy(x[order]), index=torch.from_numpy(ids[order]),
                                 num_nodes=len(offsets) - 1).numpy()
    np.testing.assert_allclose(segment_softmax(x[order], index=ids[order]), expected, **tol)


@pytest.mark.parametrize("form", ["offsets", "index"])
def test_backward_against_autograd(graph, form):
    torch = pytest.importorskip("torch")
    rng, offsets = graph
    ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    order = rng.permutation(len(ids))
    x = rng.standard_normal((offsets[-1], 3))
    g = rng.standard_normal(x.shape)
    seg = dict(offsets=offsets) if form == "offsets" else dict(index=ids[order],
                                                              num_segments=len(offsets) - 1)
    if form == "index":
        x, g = x[order], g[order]
    y = segment_softmax(x, **seg)
    tx = torch.from_numpy(x).requires_grad_()
    groups = torch.from_numpy(seg.get("index", ids))
    m = torch.full((len(offsets) - 1, 3), -torch.inf, dtype=tx.dtype).scatter_reduce(
        0, groups[:, None].expand(-1, 3), tx, "amax")
    e = torch.exp(tx - m[groups])
    s = torch.zeros_like(m).index_add(0, groups, e)
    (e / s[groups]).backward(torch.from_numpy(g))
    dx = segment_softmax_backward(g, y, **seg)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    dx32 = segment_softmax_backward(g.astype(np.float32), y.astype(np.float32), **seg)
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


# ---- logcumsumexp -------------------------------------------------------------


def assert_lcse_close(y, expected, x, axis, reverse=False):
    """float32: within 4 ulp of the long-double value. float64: within a few
    units of the rounding of the running max, the magnitude the result
    cancels against (m + log(sum) near 0 keeps m's absolute error)."""
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(y[~finite], expected[~finite].astype(y.dtype))
    if y.dtype == np.float32:
        assert ulp_distance(y[finite], expected[finite].astype(np.float32)).max() <= 4
        return
    moved = np.moveaxis(np.abs(x), axis, -1)
    running = np.maximum.accumulate(moved[..., ::-1] if reverse else moved, axis=-1)
    running = np.moveaxis(running[..., ::-1] if reverse else running, -1, axis)
    scale = np.maximum(np.abs(expected), running).astype(np.float64)
    err = np.abs(y[finite].astype(np.longdouble) - expected[finite])
    assert (err <= 8 * np.finfo(np.float64).eps * scale[finite]).all()


def lcse_reference(x, axis=-1, reverse=False, exclusive=False):
    """Long-double running logsumexp (np.logaddexp.accumulate in np.longdouble)."""
    xl = np.moveaxis(np.asarray(x, np.longdouble), axis, -1)
    if reverse:
        xl = xl[..., ::-1]
    if exclusive:
        xl = np.concatenate([np.full(xl.shape[:-1] + (1,), -np.inf, np.longdouble), xl[..., :-1]],
                            axis=-1)
    with np.errstate(invalid="ignore"):
        y = np.logaddexp.accumulate(xl, axis=-1)
    if reverse:
        y = y[..., ::-1]
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("exclusive", [False, True])
def test_logcumsumexp_long_double_reference(isa, reverse, exclusive):
    rng = np.random.default_rng(2)
    x64 = rng.standard_normal((37, 300)) * 5 + rng.standard_normal((37, 1)) * 50
    for dtype in DTYPES:
        x = x64.astype(dtype)
        expected = lcse_reference(x, 1, reverse, exclusive)
        for axis, xs in [(1, x), (0, np.ascontiguousarray(x.T))]:
            y = logcumsumexp(xs, axis=axis, reverse=reverse, exclusive=exclusive)
            y = y if axis == 1 else y.T
            assert y.dtype == dtype
            assert_lcse_close(y, expected, x, 1, reverse)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logcumsumexp_against_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((5, 6, 70)) * 10).astype(dtype)
    for axis in range(3):
        expected = torch.logcumsumexp(torch.from_numpy(x), dim=axis).numpy()
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(logcumsumexp(x, axis=axis), expected, rtol=rtol, atol=rtol)


def test_logcumsumexp_special_values_as_torch():
    torch = pytest.importorskip("torch")
    inf, nan = np.inf, np.nan
    rows = np.array([
        [-inf, -inf, 1.0, -inf, 2.0],
        [1.0, inf, 2.0, inf, -inf],
        [-inf, inf, inf, 0.0, 1.0],
        [0.0, nan, 1.0, inf, -inf],
        [-inf, -inf, -inf, -inf, -inf],
        [inf, -inf, nan, 0.0, 0.0],
    ])
    expected = torch.logcumsumexp(torch.from_numpy(rows), dim=1).numpy()
    np.testing.assert_array_equal(logcumsumexp(rows, axis=1), expected)
    np.testing.assert_array_equal(logcumsumexp(rows.T, axis=0).T, expected)
    np.testing.assert_array_equal(logcumsumexp(rows.astype(np.float32)), expected.astype(np.float32))
    ex = logcumsumexp(rows, exclusive=True)
    assert np.all(ex[:, 0] == -inf)
    np.testing.assert_array_equal(ex[:, 1:], expected[:, :-1])


def test_logcumsumexp_views_threads_and_out():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((40, 90)) * 8).astype(np.float32)
    for axis in (0, 1):
        for reverse in (False, True):
            expected = logcumsumexp(x, axis=axis, reverse=reverse)
            wide = np.zeros((40, 180), np.float32)
            wide[:, ::2] = x
            views = [np.asfortranarray(x), wide[:, ::2], x[::-1, ::-1][::-1, ::-1],
                     np.ascontiguousarray(x[::-1])[::-1]]
            for view in views:
                np.testing.assert_array_equal(logcumsumexp(view, axis=axis, reverse=reverse),
                                              expected)
            np.testing.assert_array_equal(
                logcumsumexp(np.ascontiguousarray(x.T), axis=1 - axis, reverse=reverse).T, expected)
            np.testing.assert_array_equal(
                logcumsumexp(x, axis=axis, reverse=reverse, num_threads=2), expected)
    out = np.empty((40, 90), np.float32)
    assert logcumsumexp(x, out=out) is out
    np.testing.assert_array_equal(out, logcumsumexp(x))
    inplace = x.copy()
    logcumsumexp(inplace, axis=0, out=inplace)
    np.testing.assert_array_equal(inplace, logcumsumexp(x, axis=0))
    strided = np.empty((40, 180), np.float32)[:, ::2]
    logcumsumexp(x, axis=0, out=strided)
    np.testing.assert_array_equal(strided, logcumsumexp(x, axis=0))
    assert logcumsumexp(x, dtype=np.float64).dtype == np.float64
    assert logcumsumexp(x.astype(np.float16)).dtype == np.float16
    assert logcumsumexp(np.arange(3)).dtype == np.float64
    assert logcumsumexp(np.float64(2.0)) == 2.0
    assert logcumsumexp(np.zeros((0, 3)), axis=0).shape == (0, 3)
    with pytest.raises(ValueError, match="shape"):
        logcumsumexp(x, out=np.empty((90, 40), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        logcumsumexp(x, out=np.empty((40, 90)))
    with pytest.raises(np.exceptions.AxisError):
        logcumsumexp(x, axis=2)


def test_logcumsumexp_every_axis_3d(isa):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 70, 9)) * 30
    for axis in range(3):
        assert_lcse_close(logcumsumexp(x, axis=axis), lcse_reference(x, axis), x, axis)
        x32 = x.astype(np.float32)
        assert_lcse_close(logcumsumexp(x32, axis=axis), lcse_reference(x32, axis), x32, axis)
