"""Regression: softmax/log_softmax with both where= and temperature= used to
ignore the temperature (the masked path reset the kernel's 1 / t)."""
import numpy as np
import pytest

import csoftmax


@pytest.mark.parametrize("fn", [csoftmax.softmax, csoftmax.log_softmax])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_keeps_temperature(fn, dtype):
    x = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 7.0]], dtype)
    mask = np.array([True, False, True, True])
    expected = fn(np.where(mask, x / dtype(3.0), -np.inf))
    got = fn(x, temperature=3.0, where=mask)
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps)
