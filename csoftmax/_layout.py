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


# ---------------------------------------------------------------- row and element layouts of the losses
# How the loss functions lay their operands out for the row kernels (rows
# along a class axis) and the element-wise kernels (flat blocks, broadcast
# operands on a (rows, n) grid).

# Rows of a non-last class axis are gathered into contiguous buffers of about
# this many elements; element-wise losses run in blocks of about this size.
BLOCK_ELEMENTS = 1 << 16


def run_rows(kernel, x, axis, per_row_arrays, want_grad, cols_kernel=None):
    """Runs `kernel(x2, extras2, loss1, grad2)` over the rows of x along its
    class `axis`: x2 (rows, C) C-contiguous, extras2 the matching rows of each
    array in per_row_arrays (arrays of x's shape, gathered like x, or of the
    shape without the class axis, flattened). Returns the float64 per-row
    losses (shape without the class axis, C order) and the gradient (x's
    shape, C-contiguous) or None.

    The class axis last is a single call. Otherwise, where `cols_kernel` is
    given and the (outer, C, inner) view of x has inner contiguous, one call
    `cols_kernel(x3, extras3, loss2, grad3)` takes the columns in place
    (extras as (outer, C, inner) or (outer, inner), inner contiguous); else rows
    are gathered into bounded contiguous buffers (blocks of inner), so no
    temporary is as large as x unless the gradient is wanted."""
    shape = x.shape
    C = shape[axis]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    loss = np.empty(outer * inner, np.float64)
    grad = np.empty(shape, x.dtype) if want_grad else None
    if loss.size == 0 or C == 0:
        loss.fill(0.0)  # a sum over no classes
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    if inner == 1:
        # aligned too: the kernels' scalar loads need whole-element alignment
        x2 = np.require(x.reshape(outer, C), requirements="CA")
        extras = [np.require(a.reshape(outer, -1), requirements="CA") if a.ndim == x.ndim
                  else a.reshape(outer) for a in per_row_arrays]
        kernel(x2, extras, loss, None if grad is None else grad.reshape(outer, C))
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    x3 = x.reshape(outer, C, inner)
    extras3 = [a.reshape(outer, C, inner) if a.ndim == x.ndim else a.reshape(outer, inner)
               for a in per_row_arrays]
    loss2 = loss.reshape(outer, inner)
    grad3 = None if grad is None else grad.reshape(outer, C, inner)
    if cols_kernel is not None and all(a.strides[-1] == a.itemsize and a.flags.aligned
                                       for a in [x3] + extras3):
        cols_kernel(x3, extras3, loss2, grad3)
        return loss.reshape(shape[:axis] + shape[axis + 1:]), grad
    rows_per_block = max(1, BLOCK_ELEMENTS // max(C, 1))
    if inner >= rows_per_block:
        blocks = [(slice(o, o + 1), slice(i, min(i + rows_per_block, inner)))
                  for o in range(outer) for i in range(0, inner, rows_per_block)]
    else:
        step = max(1, rows_per_block // inner)
        blocks = [(slice(o, min(o + step, outer)), slice(0, inner)) for o in range(0, outer, step)]

    def gather(a3, os, is_):
        return np.ascontiguousarray(a3[os, :, is_].transpose(0, 2, 1)).reshape(-1, C)

    for os, is_ in blocks:
        x2 = gather(x3, os, is_)
        extras = [gather(a, os, is_) if a.ndim == 3 else np.ascontiguousarray(a[os, is_]).reshape(-1)
                  for a in extras3]
        block_loss = np.empty(x2.shape[0], np.float64)
        block_grad = None if grad is None else np.empty_like(x2)
        kernel(x2, extras, block_loss, block_grad)
        block_shape = loss2[os, is_].shape
        loss2[os, is_] = block_loss.reshape(block_shape)
        if grad3 is not None:
            grad3[os, :, is_] = block_grad.reshape(block_shape + (C,)).transpose(0, 2, 1)
    return loss.reshape(shape[:axis] + shape[axis + 1:]), grad


def flat_view(a):
    """a as a flat C-order array if that is a view, else None."""
    if a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative:
        return a.reshape(-1)
    return None


def flat_block(a, lo, hi, dtype):
    """Elements [lo, hi) of a in C order, as a contiguous array of `dtype`
    (a copy of that block only)."""
    flat = flat_view(a)
    block = flat[lo:hi] if flat is not None else a.flat[lo:hi]
    return np.ascontiguousarray(block, dtype=dtype)


def strided_view(a, shape):
    """a reshaped to `shape` without a copy, if its strides allow that and are
    whole, aligned elements; else None."""
    if not (a.flags.aligned and a.dtype.isnative):
        return None
    try:
        view = np.reshape(a, shape, copy=False)
    except TypeError:  # pragma: no cover - NumPy < 2.1 has no copy=
        view = a.view()
        try:
            view.shape = shape
        except AttributeError:
            return None
    except ValueError:
        return None
    return view if all(s % a.itemsize == 0 for s in view.strides) else None


def grid_operand(b, rows, n):
    """(array, row_step, col_step) addressing the broadcast operand b (of the
    logits' shape) on the (rows, n) grid without a copy, or None if its strides
    do not allow that."""
    view = strided_view(b, (rows, n))
    if view is None:
        return None
    item = b.itemsize
    row_stride, col_stride = view.strides
    if n > 1 and col_stride not in (0, item):
        return None
    return view, row_stride // item, (col_stride // item if n > 1 else 0)


# ---------------------------------------------------------------- 0-d inputs and results

def as_1d_if_0d(x, axis):
    """0-d input is a single slice of one element: returned as shape (1,) with
    the axis that selects it. Other input is returned unchanged."""
    if x.ndim != 0:
        return x, axis
    try:  # TypeError for an axis that is not an integer, ValueError for repeats
        reduction_axes(axis, 1)
    except np.exceptions.AxisError:
        raise np.exceptions.AxisError(
            f"axis {axis!r} is out of bounds for a 0-dimensional array") from None
    return x.reshape(1), axis


def deliver(result, out, rdtype=None):
    """Copies into `out` (if given and not already written) and returns it, or
    returns the result in the result dtype; 0-d results become NumPy scalars
    as NumPy reductions and SciPy give them."""
    if out is not None:
        if not (result is out or same_memory_layout(result, out)):
            with np.errstate(over="ignore"):  # float16 results may round to +-inf
                np.copyto(out, result, casting="unsafe")
        return out
    if rdtype is not None and result.dtype != rdtype:
        with np.errstate(over="ignore"):  # float16 results may round to +-inf
            result = result.astype(rdtype)
    return result[()] if result.ndim == 0 else result


# ---------- strided operands for the compiled reductions (src/tiles.h) ----------

TILED_DTYPES = ("float32", "float64", "float16", "bfloat16")


def tiled_storage(dtype):
    """True if the tiled reductions load and store this dtype themselves."""
    return dtype.isnative and dtype.name in TILED_DTYPES


def _group_step(lengths, strides):
    """The one step that walks a group of axes in C order, or None where the
    axes are not evenly spaced in memory (axes of length 1 do not count)."""
    step = expected = None
    for length, stride in zip(reversed(lengths), reversed(strides)):
        if length == 1:
            continue
        if expected is not None and stride != expected:
            return None
        step = step if step is not None else stride
        expected = stride * length
    return 0 if step is None else step


class StridedReduction:
    """The operands of a reduction over axis 1 of an (outer, n, inner) geometry
    as the compiled code takes them: byte steps, never a copy.

    `arrays` are the operands arranged (Reduction.arranged) to the same shape.
    The n and inner axes must each be evenly spaced in every operand
    (`evenly_strided`). The outer axes are put in the first operand's memory
    order (slices are independent, so their order is free) and merged where
    every operand allows; `outer` is the innermost merged group, walked by the
    compiled code, and `loops` the remaining groups, walked here (few: e.g. a
    mask broadcast over a batch). `outer_axes` lists the outer axes of length
    other than 1 in that order.
    """

    def __init__(self, geometry, arrays):
        shape = arrays[0].shape
        self.ndim = len(shape)
        self.first_n, self.first_inner = _group_bounds(geometry, self.ndim)
        _, self.n, self.inner = geometry.shape3
        self.steps_n = [_group_step(shape[self.first_n:self.first_inner],
                                    a.strides[self.first_n:self.first_inner]) for a in arrays]
        self.steps_inner = [_group_step(shape[self.first_inner:], a.strides[self.first_inner:])
                            for a in arrays]
        axes = [i for i in range(self.first_n) if shape[i] != 1]  # a 0 empties the call
        axes.sort(key=lambda i: -abs(arrays[0].strides[i]))  # stable: ties keep their order
        self.outer_axes = tuple(axes)
        groups = []  # [length, [step per operand]]
        for i in axes:
            steps = [a.strides[i] for a in arrays]
            if groups and all(last == shape[i] * step for last, step in zip(groups[-1][1], steps)):
                groups[-1][0] *= shape[i]
                groups[-1][1] = steps
            else:
                groups.append([shape[i], steps])
        if not groups:
            groups.append([1, [0] * len(arrays)])
        self.outer, self.outer_steps = groups[-1]
        self.loops = groups[:-1]

    def calls(self):
        """(index, [byte offset per operand]) for each call of the compiled
        code: one per element of the Python-walked groups, index counting them."""
        lengths = [length for length, _ in self.loops]
        for index, position in enumerate(np.ndindex(*lengths)):
            offsets = [sum(p * steps[k] for p, (_, steps) in zip(position, self.loops))
                       for k in range(len(self.outer_steps))]
            yield index, offsets

    def steps(self, k, offset):
        """(offset, outer, n, inner) byte steps of operand k."""
        return (offset, self.outer_steps[k], self.steps_n[k], self.steps_inner[k])

    def in_place(self, k, array):
        """Whether the kernels can read / write operand k in place: compute type,
        aligned, whole-element steps, unit step along n (rows) or across inner
        (columns)."""
        item = array.dtype.itemsize
        steps = (self.outer_steps[k], self.steps_n[k], self.steps_inner[k])
        if not (array.dtype.isnative and array.flags.aligned
                and all(s % item == 0 for s in steps)):
            return False
        if self.inner == 1:
            return self.n == 1 or self.steps_n[k] == item
        return self.steps_inner[k] == item

    def reduced(self, buffer, reduced_shape):
        """The reduction's result from `buffer`, a C-contiguous (loops..., outer,
        inner) array written by the compiled code, as an array of
        `reduced_shape` (a view where possible)."""
        sorted_shape = tuple(reduced_shape[i] for i in self.outer_axes)
        inner_shape = tuple(reduced_shape[self.first_n:])
        view = buffer.reshape(sorted_shape + inner_shape)
        order = np.argsort(self.outer_axes)
        view = view.transpose(tuple(order) + tuple(range(len(order), view.ndim)))
        return view.reshape(reduced_shape)


def evenly_strided(geometry, array):
    """Whether the reduced axes, and the axes after them, of the arranged
    `array` each take one step (StridedReduction needs it)."""
    first_n, first_inner = _group_bounds(geometry, array.ndim)
    return (_group_step(array.shape[first_n:first_inner], array.strides[first_n:first_inner])
            is not None
            and _group_step(array.shape[first_inner:], array.strides[first_inner:]) is not None)


def _group_bounds(geometry, ndim):
    """Where the n axes and the inner axes start among the arranged axes."""
    axes = geometry.axes
    if not axes:
        return ndim, ndim
    if geometry.perm is not None:
        return ndim - len(axes), ndim
    return axes[0], axes[-1] + 1
