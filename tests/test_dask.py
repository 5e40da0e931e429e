"""csoftmax.dask against csoftmax's NumPy functions on the computed arrays, on
the threaded scheduler and on a dask.distributed LocalCluster (2 worker
processes on 127.0.0.1, no dashboard, started once for this module)."""
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

import csoftmax  # noqa: E402
import csoftmax.dask as cdask  # noqa: E402

TIMEOUT = 120  # seconds for any one result from the cluster: fail, never hang


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.comm.timeouts.connect": "30s",
                          "distributed.scheduler.work-stealing": False}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=40)
        with cluster, distributed.Client(cluster, set_as_default=False,
                                         timeout=TIMEOUT) as c:
            yield c


def _computer(request, scheduler):
    """A function computing a dask array on the threaded scheduler or the cluster."""
    if scheduler == "threads":
        return lambda y: dask.compute(y, scheduler="threads")[0]
    c = request.getfixturevalue("client")
    return lambda y: c.compute(y).result(timeout=TIMEOUT)


def _on_both(cases, on_cluster):
    """Every case on the threaded scheduler; those `on_cluster` picks also on
    the cluster (each cluster round trip costs a fraction of a second)."""
    return ([("threads",) + case for case in cases]
            + [("cluster",) + case for case in cases if on_cluster(*case)])


def _logits(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)


def _tolerance(dtype, x):
    """Split-axis results rescale a chunk's softmax by exp(l_chunk - l_total):
    the error is a few ulp of the result plus the rounding of the chunk's
    logsumexp, which is relative to its magnitude (at most about max |x| +
    log of the slice's size)."""
    eps = np.finfo(dtype).eps
    return 8 * eps * (4 + np.max(np.abs(x)))


# (shape, chunks, axis): the reduced axes in one chunk, and split across chunks
LAYOUTS = [
    ((40, 30), (10, 30), -1),
    ((40, 30), (40, 7), -1),
    ((40, 30), (13, 30), 0),
    ((40, 30), (16, 9), (0, 1)),
    ((6, 8, 10), (3, 3, 4), 1),
    ((6, 8, 10), (6, 3, 10), (0, 2)),
    ((6, 8, 10), (2, 8, 5), None),
]


@pytest.mark.parametrize("scheduler, name, dtype, shape, chunks, axis", _on_both(
    [(name, dtype) + layout for name in ("softmax", "log_softmax", "logsumexp")
     for dtype in (np.float32, np.float64) for layout in LAYOUTS],
    on_cluster=lambda name, dtype, *layout: dtype == np.float32))
def test_normalizers_match_numpy(request, scheduler, name, dtype, shape, chunks, axis):
    compute = _computer(request, scheduler)
    a = _logits(shape, dtype)
    x = da.from_array(a, chunks=chunks)
    y = getattr(cdask, name)(x, axis=axis)
    expected = getattr(csoftmax, name)(a, axis=axis)
    got = compute(y)
    assert got.dtype == expected.dtype == dtype
    if name != "logsumexp":
        assert y.chunks == x.chunks
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    if all(len(x.chunks[i]) == 1 for i in axes):
        np.testing.assert_array_equal(got, expected)  # the same kernel on the same slices
    else:
        tol = _tolerance(dtype, a)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol if name != "softmax" else 0)


SPECIAL = np.array([[1.0, 2.0, 3.0, 4.0, -1.0, 0.5],
                    [-np.inf] * 6,
                    [-np.inf, -np.inf, -np.inf, 0.0, 1.0, -np.inf],
                    [np.nan, 1.0, 2.0, 3.0, 0.0, 0.0],
                    [1.0, 2.0, np.inf, 3.0, -np.inf, 0.0],
                    [1.0, 2.0, -np.inf, -np.inf, -np.inf, -np.inf],
                    [-np.inf, -np.inf, -np.inf, -np.inf, 5.0, 5.0]])
MASK = np.array([[True, True, True, True, False, True],
                 [True, False, True, False, True, True],
                 [False, False, True, True, False, True],
                 [False, True, True, True, True, True],
                 [True, True, True, True, False, False],
                 [False, False, True, True, True, True],
                 [True, True, True, True, False, False]])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("chunks", [(7, 6), (2, 2), (3, 1), (4, 4)])
@pytest.mark.parametrize("options", [{}, {"where": MASK}, {"temperature": 0.5},
                                     {"temperature": 3.0, "where": MASK},
                                     {"dtype": np.float32}])
def test_special_values_masks_and_options(name, chunks, options):
    """inf / nan / all -inf slices, masks and temperature give what csoftmax gives
    on the whole array, whichever chunks the slices are cut into."""
    x = da.from_array(SPECIAL, chunks=chunks)
    where = options.get("where")
    if where is not None:  # a dask mask chunked unlike the data works too
        options = dict(options, where=da.from_array(where, chunks=(3, 5)))
    got = getattr(cdask, name)(x, **options).compute(scheduler="threads")
    expected = getattr(csoftmax, name)(SPECIAL, **dict(options, where=where))
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if got.dtype == np.float32 else 1e-14,
                               atol=0)


@pytest.mark.parametrize("chunks", [(7, 6), (2, 2), (7, 1)])
@pytest.mark.parametrize("options", [{}, {"where": MASK}, {"keepdims": True},
                                     {"b": np.array([1.0, -1.0, 0.5, 2.0, 0.0, 1.0])},
                                     {"b": np.array([1.0, -1.0, 0.5, 2.0, 0.0, 1.0]),
                                      "return_sign": True},
                                     {"axis": 0}, {"axis": None, "keepdims": True}])
def test_logsumexp_special_values_and_signs(chunks, options):
    x = da.from_array(SPECIAL, chunks=chunks)
    got = dask.compute(cdask.logsumexp(x, **options), scheduler="threads")[0]
    expected = csoftmax.logsumexp(SPECIAL, **options)
    if not options.get("return_sign"):
        got, expected = (got,), (expected,)
    for g, e in zip(got, expected):
        assert np.shape(g) == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=0)


@pytest.mark.parametrize("source, chunks", [(np.zeros((0, 4)), (1, 2)), (np.zeros((3, 0)), (1, 1)),
                                            (np.float64(2.0), ()),
                                            (np.arange(6, dtype=np.int32).reshape(2, 3), (1, 2)),
                                            (np.arange(6, dtype=np.float16).reshape(2, 3), (1, 2))])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_empty_zero_d_and_dtypes(source, chunks, name):
    x = da.from_array(np.asarray(source), chunks=chunks)
    got = getattr(cdask, name)(x).compute(scheduler="threads")
    expected = np.asarray(getattr(csoftmax, name)(source))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3 if got.dtype == np.float16 else 1e-14)


def _ce_case(shape, axis, probs, seed=1):
    rng = np.random.default_rng(seed)
    C = shape[axis]
    if probs:
        q = rng.random(shape)
        return q / q.sum(axis, keepdims=True)
    labels = rng.integers(0, C, shape[:axis] + shape[axis + 1:] if axis != -1 else shape[:-1])
    labels.flat[::5] = -100  # some ignored
    return labels


CE_LAYOUTS = [((12, 9), (5, 9), -1), ((12, 9), (5, 4), -1), ((4, 7, 5), (2, 7, 3), 1),
              ((4, 7, 5), (3, 2, 5), 1)]
CE_OPTIONS = [{}, {"reduction": "sum"}, {"reduction": "none"},
              {"weight": "w", "label_smoothing": 0.2},
              {"label_smoothing": 0.1, "reduction": "none"},
              {"return_grad": True}, {"return_grad": True, "reduction": "none"},
              {"return_grad": True, "weight": "w", "label_smoothing": 0.3, "reduction": "sum"}]


@pytest.mark.parametrize("scheduler, dtype, shape, chunks, axis, probs, options", _on_both(
    [(dtype,) + layout + (probs, options) for dtype in (np.float32, np.float64)
     for layout in CE_LAYOUTS for probs in (False, True) for options in CE_OPTIONS],
    on_cluster=lambda dtype, *rest: dtype == np.float32 and rest[-1] in CE_OPTIONS[2:4] + CE_OPTIONS[5:6]))
def test_cross_entropy_matches_numpy(request, scheduler, dtype, shape, chunks, axis, probs,
                                     options):
    compute = _computer(request, scheduler)
    a = _logits(shape, dtype)
    target = _ce_case(shape, axis, probs)
    if options.get("weight") == "w":
        options = dict(options, weight=np.linspace(0.5, 2.0, shape[axis]))
    x = da.from_array(a, chunks=chunks)
    loss = cdask.cross_entropy(x, target, axis=axis, **options)
    expected = csoftmax.cross_entropy(a, target, axis=axis, **options)
    if options.get("return_grad"):
        (loss, grad), (expected, expected_grad) = loss, expected
        assert grad.chunks == x.chunks
        got_grad = compute(grad)
        assert got_grad.dtype == dtype
        np.testing.assert_allclose(got_grad, expected_grad, rtol=_tolerance(dtype, a),
                                   atol=_tolerance(dtype, a) * np.max(np.abs(expected_grad)))
    got = compute(loss)
    assert loss.ndim == np.ndim(expected) and got.dtype == expected.dtype == dtype
    if options.get("reduction", "mean") != "none":
        assert loss.shape == () and np.ndim(got) == 0  # reduced losses are 0-d
    np.testing.assert_allclose(got, expected, rtol=_tolerance(dtype, a), atol=0)


def test_cross_entropy_dask_target_all_ignored_and_one_row():
    a = _logits((6, 10), np.float32)
    x = da.from_array(a, chunks=(2, 3))
    labels = da.from_array(np.array([1, 9, 0, 4, 4, 2]), chunks=4)  # chunked unlike x
    np.testing.assert_allclose(cdask.cross_entropy(x, labels).compute(),
                               csoftmax.cross_entropy(a, labels.compute()), rtol=1e-6)
    loss, grad = cdask.cross_entropy(x, np.full(6, -100), return_grad=True)
    assert np.isnan(loss.compute()) and not grad.compute().any()  # all ignored: nan, grad 0
    row = da.from_array(a[0], chunks=4)  # 1-D logits, 0-d target
    np.testing.assert_allclose(cdask.cross_entropy(row, np.array(3)).compute(),
                               csoftmax.cross_entropy(a[0], np.array(3)), rtol=1e-6)


def _graph_size(build, chunks_along_axis):
    x = da.ones((8, 96 * 16), chunks=(8, 96 * 16 // chunks_along_axis))
    return len(build(x).__dask_graph__())


@pytest.mark.parametrize("build", [
    cdask.softmax, cdask.log_softmax, cdask.logsumexp,
    lambda x: cdask.cross_entropy(x, np.zeros(8, np.int64)),
    lambda x: cdask.cross_entropy(x, np.zeros(8, np.int64), reduction="none"),
    lambda x: cdask.cross_entropy(x, np.zeros(8, np.int64), return_grad=True)[1],
], ids=["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_none",
        "cross_entropy_grad"])
def test_graph_grows_linearly_with_chunks(build):
    n4, n8, n16 = (_graph_size(build, n) for n in (4, 8, 16))
    assert n4 < n8 < n16
    # linear: doubling the chunks adds about as many tasks again (quadratic would 4x)
    assert n16 - n8 <= 2.5 * (n8 - n4)
    assert n16 <= 8 * 16


def test_split_axis_is_never_gathered():
    """No rechunk of the logits, and every task reads at most one chunk of them."""
    from dask.core import get_dependencies

    x = da.from_array(_logits((16, 64), np.float64), chunks=(16, 8))
    for y in (cdask.softmax(x), cdask.log_softmax(x, where=np.ones(64, bool)),
              cdask.logsumexp(x), cdask.cross_entropy(x, np.zeros(16, np.int64)),
              cdask.cross_entropy(x, np.full((16, 64), 1 / 64))):
        graph = y.__dask_graph__()
        assert not any("rechunk" in name for name in graph.layers)
        tasks = dict(graph)
        reads = [sum(1 for d in get_dependencies(tasks, key) if d[0] == x.name)
                 for key in tasks]
        assert max(reads) == 1


def test_errors():
    x = da.from_array(np.ones((4, 6)), chunks=(2, 3))
    with pytest.raises(TypeError, match="unexpected keyword argument 'out'"):
        cdask.softmax(x, out=np.empty((4, 6)))
    with pytest.raises(np.exceptions.AxisError):
        cdask.log_softmax(x, axis=2)
    with pytest.raises(ValueError, match="where with shape"):
        cdask.softmax(x, where=np.ones(5, bool))
    with pytest.raises(TypeError, match="boolean"):
        cdask.softmax(x, where=np.ones(6, np.float64))
    with pytest.raises(ValueError, match="temperature"):
        cdask.softmax(x, temperature=0.0)
    with pytest.raises(TypeError, match="one chunk"):
        cdask.softmax(x.astype(np.complex128))
    with pytest.raises(TypeError, match="numeric"):
        cdask.logsumexp(da.from_array(np.array(["a", "b"])))
    with pytest.raises(ValueError, match="expected"):
        cdask.cross_entropy(x, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="label_smoothing"):
        cdask.cross_entropy(x, np.zeros(4, np.int64), label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduction"):
        cdask.cross_entropy(x, np.zeros(4, np.int64), reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        cdask.cross_entropy(x, np.zeros(4, np.int64), weight=np.ones(5))
    with pytest.raises(TypeError, match="complex"):
        cdask.cross_entropy(x.astype(np.complex64), np.zeros(4, np.int64))
    with pytest.raises(IndexError, match=r"target 6 at position \(3,\)"):  # when computed
        cdask.cross_entropy(x, np.array([0, 1, 2, 6])).compute(scheduler="threads")


def test_complex_input_with_the_axis_in_one_chunk():
    a = _logits((3, 4), np.float64) + 1j
    x = da.from_array(a, chunks=(1, 4))
    np.testing.assert_allclose(cdask.softmax(x).compute(), csoftmax.softmax(a), rtol=1e-14)


def test_import_csoftmax_does_not_import_dask():
    code = ("import sys, csoftmax; "
            "sys.exit(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
