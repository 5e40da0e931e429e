"""Axes and memory layout: how a reduction over some axes of an array becomes
the (outer, n, inner) view the compiled kernels take, without copying where
the array's strides allow it."""
import math
import operator

import numpy as np

from . import _core

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.numeric import normalize_axis_tuple  # type: ignore[no-redef]


def reduction_axes(axis, ndim):
    """Sorted tuple of the axes reduced over; axis may be None (all), an int
    or a tuple. 0-d arrays are treated as 1-d of length 1 by the caller, so
    ndim >= 1 here. Raises AxisError (out of range), ValueError (repeated)."""
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, (tuple, list)):
        try:
            axis = operator.index(axis)
        except TypeError:  # NumPy's own message would be "'float' object is not iterable"
            raise TypeError("axis must be an integer, a tuple of integers or None, got "
                            f"{type(axis).__name__}") from None
    return tuple(sorted(normalize_axis_tuple(axis, ndim, argname="axis")))


class Reduction:
    """The (outer, n, inner) geometry of a reduction over `axes` of `shape`.

    When the axes are adjacent, the view is a reshape of the array itself.
    Otherwise the array is first transposed (`perm`) so that the reduced axes
    come last, and inner is 1.
    """

    def __init__(self, shape, axes):
        self.shape = tuple(shape)
        self.axes = axes
        kept = [i for i in range(len(shape)) if i not in axes]
        adjacent = not axes or axes[-1] - axes[0] == len(axes) - 1
        if not axes:  # every element is its own slice
            self.perm = None
            self.shape3 = (math.prod(shape), 1, 1)
        elif adjacent:
            self.perm = None
            self.shape3 = (math.prod(shape[: axes[0]]), math.prod(shape[axes[0]: axes[-1] + 1]),
                           math.prod(shape[axes[-1] + 1:]))
        else:
            self.perm = tuple(kept) + tuple(axes)
            self.shape3 = (math.prod(shape[i] for i in kept), math.prod(shape[i] for i in axes), 1)
        self.reduced_shape = tuple(shape[i] for i in kept)
        self.keepdims_shape = tuple(1 if i in axes else shape[i] for i in range(len(shape)))

    def arranged(self, array):
        """The array with the reduced axes where the 3-D view expects them."""
        return array if self.perm is None else array.transpose(self.perm)

    def view3(self, array):
        """A (outer, n, inner) view of `array` that the kernels accept, or None
        if that would need a copy."""
        arranged = self.arranged(array)
        try:
            view = np.reshape(arranged, self.shape3, copy=False)
        except TypeError:  # pragma: no cover - NumPy < 2.1 has no copy=
            view = arranged.view()
            try:
                view.shape = self.shape3
            except AttributeError:
                return None
        except ValueError:
            return None
        return view if kernel_ready(view) else None

    def input3(self, array):
        """The 3-D view of an input, copied into a contiguous buffer if needed."""
        view = self.view3(array)
        if view is None:
            view = np.ascontiguousarray(self.arranged(array)).reshape(self.shape3)
        return view

    def new_output(self, dtype):
        """A fresh array of the input's shape whose 3-D view the kernels accept,
        returned as (array, view3)."""
        if self.perm is None:
            array = np.empty(self.shape, dtype)
            return array, array.reshape(self.shape3)
        arranged = np.empty(tuple(self.shape[i] for i in self.perm), dtype)
        return arranged.transpose(np.argsort(self.perm)), arranged.reshape(self.shape3)


def kernel_ready(view):
    """True if the kernels can read/write this 3-D view directly: native,
    aligned, strides in whole elements, and axis 2 contiguous unless it has
    length 1."""
    item = view.dtype.itemsize
    return (view.dtype.isnative and view.flags.aligned
            and all(s % item == 0 for s in view.strides)
            and (view.shape[2] == 1 or view.strides[2] == item))


def same_memory_layout(a, b):
    """True if a and b are the same elements of the same buffer."""
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and _core.data_address(a) == _core.data_address(b))


def check_out(out, shape, dtype):
    """ValueError unless `out` is a writeable ndarray of this shape and dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def broadcast_mask(where, shape):
    """`where` as a boolean array broadcast to `shape` (ValueError if it can't be)."""
    mask = np.asarray(where)
    if mask.dtype != bool:  # as NumPy's where=, integers are not taken for truth values
        raise TypeError(f"where must be a boolean array, got dtype {mask.dtype} "
                        "(pass where != 0 for a mask of the nonzero entries)")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"where with shape {mask.shape} does not broadcast to the input's "
                         f"shape {tuple(shape)}") from None
