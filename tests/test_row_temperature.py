"""One temperature per slice (per row) for softmax, log_softmax and logsumexp:
each slice equals the call with its own scalar temperature on x / t formed in
the compute dtype; both accepted shapes (batch and keepdims); errors."""
import numpy as np
import pytest

import csoftmax

RNG = np.random.default_rng(7)


def _per_slice(op, x, t, axis):
    """op of each slice along `axis` (an int) of x divided by its own t."""
    moved = np.moveaxis(x, axis, -1)
    tb = np.broadcast_to(t, moved.shape[:-1])
    flat, tflat = moved.reshape(-1, moved.shape[-1]), tb.reshape(-1)
    rows = [op(flat[i] / flat.dtype.type(tflat[i])) for i in range(len(flat))]
    result = np.array(rows).reshape(moved.shape[:-1] + np.shape(rows[0]))
    return np.moveaxis(result, -1, axis) if result.ndim == moved.ndim else result


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_each_slice_has_its_own_temperature(name, axis, dtype):
    x = (3 * RNG.standard_normal((4, 6, 5))).astype(dtype)
    batch = tuple(n for i, n in enumerate(x.shape) if i != axis % 3)
    t = RNG.uniform(0.3, 3.0, batch)
    op = getattr(csoftmax, name)
    got = op(x, axis=axis, temperature=t)
    expected = _per_slice(op, x, t, axis % 3)
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    keepdims = np.expand_dims(t, axis)  # the keepdims form gives the same bits
    np.testing.assert_array_equal(op(x, axis=axis, temperature=keepdims), got)


def test_broadcast_temperatures_and_scalar_arrays():
    x = RNG.standard_normal((3, 4, 5))
    per_batch_row = np.array([0.5, 1.0, 2.0, 4.0])  # broadcasts over axis 0 of the batch
    got = csoftmax.softmax(x, temperature=per_batch_row)
    expected = csoftmax.softmax(x / per_batch_row[:, None])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(csoftmax.softmax(x, temperature=np.array(2.0)),
                                  csoftmax.softmax(x, temperature=2.0))


def test_with_mask_out_and_views():
    x = RNG.standard_normal((6, 7)).astype(np.float32)
    t = RNG.uniform(0.5, 2.0, 6)
    mask = RNG.random((6, 7)) > 0.3
    plain = csoftmax.softmax(x, temperature=t, where=mask)
    np.testing.assert_array_equal(plain, csoftmax.softmax(x / t[:, None].astype(np.float32),
                                                          where=mask))
    out = np.empty_like(x)
    assert csoftmax.softmax(x, temperature=t, where=mask, out=out) is out
    np.testing.assert_array_equal(out, plain)
    fortran = np.asfortranarray(x)
    np.testing.assert_array_equal(csoftmax.softmax(fortran, temperature=t, where=mask), plain)
    reversed_rows = x[::-1]
    np.testing.assert_array_equal(csoftmax.softmax(reversed_rows, temperature=t[::-1]),
                                  csoftmax.softmax(x, temperature=t)[::-1])
    inplace = x.copy()
    csoftmax.log_softmax(inplace, temperature=t, out=inplace)
    np.testing.assert_array_equal(inplace, csoftmax.log_softmax(x, temperature=t))


def test_half_and_tuple_axes():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float16)
    t = np.array([0.5, 2.0])
    got = csoftmax.softmax(x, axis=(1, 2), temperature=t)
    assert got.dtype == np.float16
    for i in range(2):
        np.testing.assert_array_equal(got[i], csoftmax.softmax(x[i], axis=None,
                                                               temperature=t[i]))
    lse = csoftmax.logsumexp(x.astype(np.float64), axis=(1, 2), temperature=t)
    np.testing.assert_allclose(lse, [csoftmax.logsumexp(x[i].astype(np.float64) / t[i], axis=None)
                                     for i in range(2)], rtol=1e-15)


@pytest.mark.parametrize("temperature, error, message", [
    (np.array([1.0, 0.0, 1.0]), ValueError, r"temperature must be > 0, got 0.0"),
    (np.array([1.0, np.nan, 1.0]), ValueError, r"temperature must be > 0, got nan"),
    (np.ones(4), ValueError, r"shape \(4,\) broadcasts neither to the batch shape \(3,\) "
                             r"nor to the keepdims shape \(3, 1\)"),
    (np.array(["a", "b", "c"]), TypeError, "temperature must hold real numbers"),
    (np.array(-1.0), ValueError, "temperature must be > 0"),
])
def test_bad_temperatures_raise_before_any_write(temperature, error, message):
    x = np.zeros((3, 5))
    out = np.full_like(x, 7.0)
    for op in (csoftmax.softmax, csoftmax.log_softmax):
        with pytest.raises(error, match=message):
            op(x, temperature=temperature, out=out)
        assert (out == 7.0).all()
    with pytest.raises(error, match=message):
        csoftmax.logsumexp(x, temperature=temperature)
