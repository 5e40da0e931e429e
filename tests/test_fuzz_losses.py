"""Fuzzing the losses, gradients and helpers of the main namespace with
hypothesis: cross_entropy, nll_loss, focal_loss, entropy, kl_div,
binary_cross_entropy_with_logits, sigmoid_focal_loss, sigmoid, log_sigmoid,
softmax_backward, log_softmax_backward, one_hot and hardmax.

As in tests/test_fuzz.py: arrays of any dtype, shape, layout and values,
labels in and out of range or of the wrong dtype or shape, options valid or
not; each call either matches tests/reference_losses.py or raises one of the
predicted exception types with a message, leaving `out` untouched.
"""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, note, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import csoftmax  # noqa: E402
import reference_losses as rl  # noqa: E402
from fuzzing import (  # noqa: E402
    OUT_KINDS, STRICT_FP, arrays, axes, axis_errors, close, dtypes, is_numeric, out_array,
    outcome, thread_errors, threads, values, with_layout,
)

LOGIT_DTYPES = dtypes(floats=4, ints=1, complexes=1, others=1)
REDUCTIONS = st.sampled_from(["mean", "mean", "sum", "none", "avg"])


def _loss_dtypes(x):
    """(dtype the library computes in, dtype it returns) for logits x, or
    None where x is a TypeError (non-numeric or complex)."""
    dtype = x.dtype
    if not is_numeric(dtype) or dtype.kind == "c":
        return None
    if dtype.kind in "biu" or dtype.itemsize > 8:
        return np.dtype(np.float64), np.dtype(np.float64)
    if dtype.itemsize == 2:
        return np.dtype(np.float32), dtype.newbyteorder("=")
    return dtype.newbyteorder("="), dtype.newbyteorder("=")


def _rtol(rdtype, spread=1.0):
    """A loose tolerance: the fuzz tests look for wrong answers; the loss
    tests pin the accuracy. float32 results are accurate relative to the
    spread of the logits."""
    base = {2: 8e-3, 4: 64 * 1.2e-7, 8: 256 * 2.2e-16}[np.dtype(rdtype).itemsize]
    return base * max(1.0, spread)


def _spread(v):
    finite = np.abs(v[np.isfinite(v)])
    return float(finite.max()) if finite.size else 1.0


def _reduction_errors(reduction, allowed=("none", "mean", "sum")):
    return () if reduction in allowed else (ValueError,)


def _smoothing_errors(smoothing):
    """label_smoothing: TypeError unless a real number, ValueError outside [0, 1]."""
    if isinstance(smoothing, str):
        return (TypeError,)
    return () if 0.0 <= smoothing <= 1.0 else (ValueError,)


def _class_axis_errors(x, axis):
    """Errors of the class axis alone, and the number of classes (or None)."""
    if isinstance(axis, float) or isinstance(axis, str):
        return (TypeError,), None
    if x.ndim == 0:
        return (ValueError,), None
    errors = axis_errors(axis, x.ndim, allow_tuple=False)
    if isinstance(axis, tuple):
        return (TypeError,), None
    return errors, (None if errors else x.shape[axis])


def _row_shape(x, axis):
    return x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]


@st.composite
def class_targets(draw, row_shape, C, ignore_index, logits_shape):
    """(target, errors): integer labels of the row shape (some out of range or
    ignored), class probabilities of the logits' shape, or a target of the
    wrong shape or dtype."""
    kind = draw(st.sampled_from(["labels"] * 4 + ["probs", "probs", "wrong_shape",
                                                  "wrong_probs", "bool", "complex"]))
    if kind == "bool":
        return np.zeros(row_shape, bool), (TypeError,)
    if kind == "complex":
        return np.zeros(row_shape, complex), (TypeError,)
    if kind == "probs":
        return draw(values(logits_shape, draw(st.sampled_from(["float64", "float32"])),
                           special=False, low=0.0, high=1.0)), ()
    if kind == "wrong_probs":
        return np.full(tuple(logits_shape) + (2,), 0.5), (ValueError,)
    dtype = draw(st.sampled_from(["int64", "int64", "int8", "uint8", "int32"]))
    low = 0 if dtype == "uint8" else -2
    elements = st.integers(low, C + 1)
    if dtype in ("int64", "int8", "int32"):
        elements = st.one_of(elements, elements, st.just(-100))
    labels = draw(hnp.arrays(dtype, row_shape, elements=elements))
    labels = with_layout(labels, draw(st.sampled_from(["contiguous", "reversed", "stepped",
                                                      "byteswapped", "readonly"])))
    if kind == "wrong_shape":
        return np.zeros(tuple(row_shape) + (1,), np.int64), (ValueError,)
    ignore = ignore_index if isinstance(ignore_index, int) else -100
    bad = ((labels < 0) | (labels >= C)) & (labels != ignore)
    return labels, ((IndexError,) if bad.any() else ())


@st.composite
def class_weights(draw, C, what="weight"):
    """(per-class weights or None, errors)."""
    kind = draw(st.sampled_from(["none", "none", "good", "good", "wrong_shape", "negative",
                                 "nan", "complex"]))
    if kind == "none":
        return None, ()
    if kind == "wrong_shape":
        return np.ones(C + 1), (ValueError,)
    if kind == "complex":
        return np.ones(C, complex), (TypeError,)
    w = draw(values((C,), np.float64, special=False, low=0.0, high=3.0))
    if kind == "negative" and C:
        w[0] = -1.0
        return w, (ValueError,)
    if kind == "nan" and C:
        w[0] = np.nan
        return w, (ValueError,)
    return w, ()


def _check_loss(got, expected, reduction, rdtype, shape, grad_shape, return_grad, spread,
                scale=None, infinite=None):
    """A loss (and gradient) against the oracle's (loss, grad) pair.
    `infinite`: a mask of infinite element-wise inputs, where the textbook
    oracle's 0 * inf = nan may be the library's limit instead."""
    nan_ok = False if infinite is None else infinite
    if reduction != "none":
        loss_nan_ok = bool(np.any(nan_ok))
    elif np.shape(nan_ok) == grad_shape and shape != grad_shape:  # per row: any class
        loss_nan_ok = np.any(nan_ok, axis=_class_axis_of(grad_shape, shape))
    else:
        loss_nan_ok = nan_ok
    loss, grad = (got if return_grad else (got, None))
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == shape
    else:
        assert isinstance(loss, np.generic), f"reduced loss is {type(loss).__name__}"
    assert loss.dtype == rdtype, f"loss dtype {loss.dtype}, expected {rdtype}"
    close(loss, expected[0], _rtol(rdtype, spread), scale, loss_nan_ok)
    if return_grad:
        assert isinstance(grad, np.ndarray) and grad.shape == grad_shape
        assert grad.dtype == rdtype, f"grad dtype {grad.dtype}, expected {rdtype}"
        # gradient entries are differences of terms of up to unit size
        finite = np.abs(expected[1][np.isfinite(expected[1])])
        scale = max(1.0, float(finite.max()) if finite.size else 1.0)
        close(grad, expected[1], _rtol(rdtype, spread), scale, nan_ok=nan_ok)


def _class_axis_of(full_shape, row_shape):
    """The axis of full_shape that row_shape lacks."""
    for i in range(len(full_shape)):
        if full_shape[:i] + full_shape[i + 1:] == tuple(row_shape):
            return i
    raise AssertionError((full_shape, row_shape))


def _scale_of_sum(oracle, reduction, **kw):
    """The size rounding errors are relative to: for reduced losses the sum
    of the per-row |losses|, and at least 1 (softmax losses near 0, a
    confident row, are accurate in absolute terms: log(1 + tiny))."""
    if reduction == "none":
        return 1.0
    per_row = oracle(reduction="none", **kw)[0]
    return max(1.0, float(np.sum(np.abs(per_row[np.isfinite(per_row)]))))


def _nonfinite_rows(v, axis):
    """Rows (and their gradient entries) holding an infinite or nan logit:
    the textbook oracle gives nan there (inf - inf, 0 * inf) where the
    library may return a limit (e.g. 0 for an ignored row). Also rows with a
    logit within a factor 4 of overflow: the focal loss's gradient is nan
    there (an intermediate overflow, left as a known limitation)."""
    with np.errstate(invalid="ignore"):
        huge = np.abs(np.nan_to_num(v, posinf=0, neginf=0)) > np.finfo(v.dtype).max / 4
    bad = (~np.isfinite(v) | huge).any(axis=axis, keepdims=True)
    return np.broadcast_to(bad, v.shape)


def _call(fn, errors, *args, **kw):
    with np.errstate(**STRICT_FP):
        return outcome(lambda: fn(*args, **kw), errors)


@st.composite
def logits_with_class_axis(draw, label="logits"):
    """(x, description, axis, axis errors, C or None, row shape): logits of
    any dtype and layout with a class axis that may be invalid."""
    x, desc = draw(arrays(dtype=draw(LOGIT_DTYPES)), label=label)
    axis = draw(st.one_of(st.just(-1), axes(x.ndim, allow_tuple=False, allow_none=False)),
                label="axis")
    axis_errs, C = _class_axis_errors(x, axis)
    row_shape = _row_shape(x, axis) if C is not None else ()
    return x, desc, axis, axis_errs, C, row_shape


def _check_softmax_loss(got, oracle, reduction, rdtype, row_shape, v, return_grad, **kw):
    """A softmax loss against its oracle, kw being the oracle's arguments
    (v the logits in the compute dtype)."""
    expected = oracle(reduction=reduction, x=v, **kw)
    _check_loss(got, expected, reduction, rdtype, row_shape, v.shape, return_grad, _spread(v),
                _scale_of_sum(oracle, reduction, x=v, **kw), _nonfinite_rows(v, kw["axis"]))


# ------------------------------------------------------------------ softmax losses

@given(data=st.data())
def test_cross_entropy(data):
    x, desc, axis, axis_errs, C, row_shape = data.draw(logits_with_class_axis())
    ignore_index = data.draw(st.sampled_from([-100, -100, 0, 1, 1.5]), label="ignore_index")
    target, target_errors = data.draw(class_targets(row_shape, C or 0, ignore_index, x.shape),
                                      label="target")
    weight, weight_errors = data.draw(class_weights(C or 0), label="weight")
    reduction = data.draw(REDUCTIONS, label="reduction")
    smoothing = data.draw(st.sampled_from([0.0] * 3 + [0.1, 1.0, -0.1, 1.5, "x"]),
                          label="label_smoothing")
    return_grad = data.draw(st.booleans(), label="return_grad")
    num_threads = data.draw(threads(), label="num_threads")
    types = _loss_dtypes(x)
    errors = (((TypeError,) if types is None else ()) + axis_errs + target_errors
              + weight_errors + _reduction_errors(reduction) + thread_errors(num_threads)
              + ((TypeError,) if ignore_index == 1.5 else ())
              + _smoothing_errors(smoothing))
    note(desc)
    got = _call(csoftmax.cross_entropy, errors, x, target, axis=axis, weight=weight,
                ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing,
                return_grad=return_grad, num_threads=num_threads)
    if got is None or C == 0:
        return
    cdtype, rdtype = types
    v = x.astype(cdtype)
    if target.dtype.kind == "f":
        target = target.astype(cdtype)
    _check_softmax_loss(got, rl.cross_entropy, reduction, rdtype, row_shape, v, return_grad,
                        target=target, axis=axis, weight=weight, ignore_index=ignore_index,
                        label_smoothing=smoothing)


@given(data=st.data())
def test_nll_loss(data):
    x, desc, axis, axis_errs, C, row_shape = data.draw(logits_with_class_axis("log_probs"))
    ignore_index = data.draw(st.sampled_from([-100, -100, 0, 1.5]), label="ignore_index")
    target, target_errors = data.draw(class_targets(row_shape, C or 0, ignore_index, x.shape),
                                      label="target")
    if target.dtype.kind == "f":  # no probabilities for NLL
        target_errors = (TypeError, ValueError)
    weight, weight_errors = data.draw(class_weights(C or 0), label="weight")
    reduction = data.draw(REDUCTIONS, label="reduction")
    return_grad = data.draw(st.booleans(), label="return_grad")
    types = _loss_dtypes(x)
    errors = (((TypeError,) if types is None else ()) + axis_errs + target_errors
              + weight_errors + _reduction_errors(reduction)
              + ((TypeError,) if ignore_index == 1.5 else ()))
    note(desc)
    got = _call(csoftmax.nll_loss, errors, x, target, axis=axis, weight=weight,
                ignore_index=ignore_index, reduction=reduction, return_grad=return_grad)
    if got is None or C == 0:
        return
    cdtype, rdtype = types
    v = x.astype(cdtype)
    kw = dict(log_probs=v, target=target, axis=axis, weight=weight, ignore_index=ignore_index)
    expected = rl.nll_loss(reduction=reduction, **kw)
    _check_loss(got, expected, reduction, rdtype, row_shape, x.shape, return_grad, 1.0,
                _scale_of_sum(rl.nll_loss, reduction, **kw), _nonfinite_rows(v, axis))


@given(data=st.data())
def test_focal_loss(data):
    x, desc, axis, axis_errs, C, row_shape = data.draw(logits_with_class_axis())
    target, target_errors = data.draw(class_targets(row_shape, C or 0, -100, x.shape),
                                      label="target")
    if target.dtype.kind == "f":
        target_errors = (TypeError, ValueError)
    gamma = data.draw(st.sampled_from([2.0, 0.0, 1.0, 0.5, 3.5, -1.0, np.nan]), label="gamma")
    alpha_kind = data.draw(st.sampled_from(["none", "scalar", "array", "negative"]),
                           label="alpha kind")
    alpha_errors = ()
    if alpha_kind == "none":
        alpha = None
    elif alpha_kind == "scalar":
        alpha = 0.25
    elif alpha_kind == "negative":
        alpha, alpha_errors = -0.5, (ValueError,)
    else:
        alpha, alpha_errors = data.draw(class_weights(C or 0, "alpha"), label="alpha")
    reduction = data.draw(REDUCTIONS, label="reduction")
    return_grad = data.draw(st.booleans(), label="return_grad")
    types = _loss_dtypes(x)
    errors = (((TypeError,) if types is None else ()) + axis_errs + target_errors + alpha_errors
              + _reduction_errors(reduction) + (() if gamma >= 0 else (ValueError,)))
    note(desc)
    got = _call(csoftmax.focal_loss, errors, x, target, gamma=gamma, alpha=alpha, axis=axis,
                reduction=reduction, return_grad=return_grad)
    if got is None or C == 0:
        return
    cdtype, rdtype = types
    v = x.astype(cdtype)
    _check_softmax_loss(got, rl.focal_loss, reduction, rdtype, row_shape, v, return_grad,
                        target=target, gamma=gamma, alpha=alpha, axis=axis)


@given(data=st.data())
def test_entropy(data):
    x, desc, axis, axis_errs, C, _ = data.draw(logits_with_class_axis())
    reduction = data.draw(REDUCTIONS, label="reduction")
    types = _loss_dtypes(x)
    errors = ((TypeError,) if types is None else ()) + axis_errs + _reduction_errors(reduction)
    note(desc)
    got = _call(csoftmax.entropy, errors, x, axis, reduction=reduction)
    if got is None:
        return
    cdtype, rdtype = types
    row_shape = _row_shape(x, axis)
    if C == 0:
        per_row = np.full(row_shape, np.nan)
    else:
        per_row = rl.entropy(x.astype(cdtype), axis)
    expected = {"none": per_row, "sum": np.sum(per_row),
                "mean": np.mean(per_row) if per_row.size else np.nan}[reduction]
    # entropies near 0 (a confident row) are accurate in absolute terms only
    _check_loss(got, (expected, None), reduction, rdtype, row_shape, None, False,
                _spread(x.astype(cdtype)), max(1.0, float(np.nansum(np.abs(per_row)))))


# ------------------------------------------------------------------ element-wise losses

@st.composite
def same_shape_targets(draw, shape, margin=0.5):
    """(target, errors): real values of the logits' shape, or the wrong shape
    or dtype."""
    kind = draw(st.sampled_from(["good"] * 5 + ["wrong_shape", "complex", "int"]))
    if kind == "wrong_shape":
        return np.zeros(tuple(shape) + (2,)), (ValueError,)
    if kind == "complex":
        return np.zeros(shape, complex), (TypeError,)
    if kind == "int":
        return np.ones(shape, np.int32), ()
    dtype = draw(st.sampled_from(["float64", "float32", "float16"]))
    # targets are probabilities (or log-probabilities): a little beyond [0, 1]
    # and a few non-finite ones, not huge values whose terms cancel
    t = draw(values(shape, dtype, special=False, low=-margin, high=1.0 + margin))
    if t.size and draw(st.booleans()):
        t.reshape(-1)[draw(st.integers(0, t.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0]))
    return with_layout(t, draw(st.sampled_from(["contiguous", "reversed", "byteswapped",
                                                "stepped"]))), ()


@st.composite
def broadcast_operands(draw, shape, what):
    """(operand or None, errors) broadcastable to `shape` (or not)."""
    kind = draw(st.sampled_from(["none", "none", "scalar", "last", "full", "wrong", "complex"]))
    if kind == "none":
        return None, ()
    if kind == "complex":
        return np.ones(shape, complex), (TypeError,)
    if kind == "wrong":
        if not shape:
            return np.ones(3), (ValueError,)
        return np.ones(shape[:-1] + (shape[-1] + 2,)), (ValueError,)
    part = () if kind == "scalar" else (shape[-1:] if kind == "last" else shape)
    return draw(values(part, np.float64, special=False, low=0.0, high=3.0)), ()


def _infinite(x, target):
    """Where an element-wise loss has an infinite logit or target, or a logit
    within a factor 4 of overflow (weight * softplus may overflow on the way)."""
    with np.errstate(over="ignore"):
        v = x.astype(np.float64)
        huge = np.abs(np.nan_to_num(v)) > np.finfo(_loss_dtypes(x)[0]).max / 4
        return np.isinf(v) | huge | np.isinf(target.astype(np.float64))


def _elementwise_case(data, margin=0.5):
    x, desc = data.draw(arrays(dtype=data.draw(LOGIT_DTYPES)), label="logits")
    target, target_errors = data.draw(same_shape_targets(x.shape, margin), label="target")
    types = _loss_dtypes(x)
    return x, desc, target, ((TypeError,) if types is None else ()) + target_errors, types


@given(data=st.data())
def test_kl_div(data):
    x, desc, target, errors, types = _elementwise_case(data)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none", "batchmean", "avg"]),
                          label="reduction")
    log_target = data.draw(st.booleans(), label="log_target")
    return_grad = data.draw(st.booleans(), label="return_grad")
    errors += _reduction_errors(reduction, ("none", "mean", "sum", "batchmean"))
    note(desc)
    got = _call(csoftmax.kl_div, errors, x, target, reduction=reduction, log_target=log_target,
                return_grad=return_grad)
    if got is None:
        return
    cdtype, rdtype = types
    kw = dict(x=x.astype(cdtype), target=target.astype(cdtype), log_target=log_target)
    expected = rl.kl_div(reduction=reduction, **kw)
    scale = _scale_of_sum(rl.kl_div, "sum" if reduction != "none" else "none", **kw)
    _check_loss(got, expected, reduction, rdtype, x.shape, x.shape, return_grad, 1.0, scale,
                _infinite(x, target))


@given(data=st.data())
def test_binary_cross_entropy_with_logits(data):
    x, desc, target, errors, types = _elementwise_case(data)
    weight, weight_errors = data.draw(broadcast_operands(x.shape, "weight"), label="weight")
    pos_weight, pos_errors = data.draw(broadcast_operands(x.shape, "pos_weight"),
                                       label="pos_weight")
    reduction = data.draw(REDUCTIONS, label="reduction")
    return_grad = data.draw(st.booleans(), label="return_grad")
    num_threads = data.draw(threads(), label="num_threads")
    errors += (weight_errors + pos_errors + _reduction_errors(reduction)
               + thread_errors(num_threads))
    note(desc)
    got = _call(csoftmax.binary_cross_entropy_with_logits, errors, x, target, weight=weight,
                pos_weight=pos_weight, reduction=reduction, return_grad=return_grad,
                num_threads=num_threads)
    if got is None:
        return
    cdtype, rdtype = types
    v = x.astype(cdtype)
    kw = dict(x=v, target=target.astype(cdtype),
              weight=None if weight is None else weight.astype(cdtype),
              pos_weight=None if pos_weight is None else pos_weight.astype(cdtype))
    expected = rl.binary_cross_entropy_with_logits(reduction=reduction, **kw)
    _check_loss(got, expected, reduction, rdtype, x.shape, x.shape, return_grad, 1.0,
                _scale_of_sum(rl.binary_cross_entropy_with_logits, reduction, **kw),
                _infinite(x, target))


@given(data=st.data())
def test_sigmoid_focal_loss(data):
    # targets in [0, 1]: beyond it 1 - p_t may be negative, outside the loss's domain
    x, desc, target, errors, types = _elementwise_case(data, margin=0.0)
    gamma = data.draw(st.sampled_from([2.0, 0.0, 1.0, 1.5, -0.5, np.nan]), label="gamma")
    alpha = data.draw(st.sampled_from([0.25, -1.0, 0.0, 1.0]), label="alpha")
    reduction = data.draw(REDUCTIONS, label="reduction")
    return_grad = data.draw(st.booleans(), label="return_grad")
    errors += _reduction_errors(reduction) + (() if gamma >= 0 else (ValueError,))
    note(desc)
    got = _call(csoftmax.sigmoid_focal_loss, errors, x, target, gamma=gamma, alpha=alpha,
                reduction=reduction, return_grad=return_grad)
    if got is None:
        return
    cdtype, rdtype = types
    kw = dict(x=x.astype(cdtype), target=target.astype(cdtype), gamma=gamma, alpha=alpha)
    expected = rl.sigmoid_focal_loss(reduction=reduction, **kw)
    _check_loss(got, expected, reduction, rdtype, x.shape, x.shape, return_grad, 1.0,
                _scale_of_sum(rl.sigmoid_focal_loss, reduction, **kw), _infinite(x, target))


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid"])
@given(data=st.data())
def test_logistic(name, data):
    x, desc = data.draw(arrays(dtype=data.draw(LOGIT_DTYPES)), label="x")
    types = _loss_dtypes(x)
    out, out_errors = out_array(data.draw(OUT_KINDS, label="out"), x.shape,
                                types[1] if types else np.float64, x)
    errors = ((TypeError,) if types is None else ()) + out_errors
    note(desc)
    before = np.array(x, copy=True)
    with np.errstate(**STRICT_FP):
        got = outcome(lambda: getattr(csoftmax, name)(x, out=out), errors, out, protect=(x,))
    if got is None:
        return
    cdtype, rdtype = types
    if out is not None:
        assert got is out
    elif x.ndim == 0:
        assert isinstance(got, np.generic)
    assert got.dtype == rdtype
    close(got, getattr(rl, name)(before.astype(cdtype)), _rtol(rdtype))


# ------------------------------------------------------------------ backward functions

@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@given(data=st.data())
def test_backward(name, data):
    g, desc = data.draw(arrays(dtype=data.draw(LOGIT_DTYPES)), label="grad_output")
    same = data.draw(st.sampled_from([True] * 5 + [False]), label="same shape")
    y_shape = g.shape if same else g.shape + (2,)
    y_dtype = data.draw(st.sampled_from(["float64", "float32", "float16"]), label="output dtype")
    # output holds probabilities or log-probabilities: no huge values
    y = data.draw(values(y_shape, y_dtype, special=False, low=-5.0, high=1.0), label="output")
    y = with_layout(y, data.draw(st.sampled_from(["contiguous", "reversed", "fortran",
                                                  "readonly", "byteswapped"])))
    axis = data.draw(st.one_of(st.just(-1), axes(g.ndim, allow_tuple=False, allow_none=False)),
                     label="axis")
    types = _loss_dtypes(g)
    if types is not None:
        rdtype = np.promote_types(types[1], y.dtype.newbyteorder("="))
        cdtype = np.dtype(np.float32) if rdtype.itemsize == 2 else rdtype
    else:
        rdtype = cdtype = np.dtype(np.float64)
    out, out_errors = out_array(data.draw(OUT_KINDS, label="out"), g.shape, rdtype, g)
    ndim = max(g.ndim, 1)
    errors = (((TypeError,) if types is None else ()) + (() if same else (ValueError,))
              + ((TypeError,) if isinstance(axis, (float, str))
                 else axis_errors(axis, ndim, False))
              + out_errors)
    note(desc)
    before = np.array(g, copy=True)
    with np.errstate(**STRICT_FP):
        got = outcome(lambda: getattr(csoftmax, name)(g, y, axis, out=out), errors, out,
                      protect=(g,))
    if got is None:
        return
    if out is not None:
        assert got is out
    assert got.dtype == rdtype and got.shape == g.shape
    gv, yv = before.astype(cdtype), y.astype(cdtype)
    expected = getattr(rl, name)(gv.reshape(gv.shape or (1,)), yv.reshape(yv.shape or (1,)),
                                 axis).reshape(g.shape)
    # Slices holding near-overflow g are not compared: sum(g y) may overflow
    # where the longdouble oracle does not. Non-finite g may give nan or a limit.
    with np.errstate(invalid="ignore"):
        huge = np.abs(np.nan_to_num(gv)) > np.finfo(cdtype).max / 4
    huge = huge.reshape(huge.shape or (1,))
    kept = ~np.broadcast_to(huge.any(axis=axis, keepdims=True), huge.shape).reshape(g.shape)
    # dx = g - (something of g's size): it cancels, so errors scale with |g| n e^y
    n = g.shape[axis] if g.ndim else 1
    scale = _spread(gv) * max(1, n) * max(1.0, np.exp(min(_spread(yv), 50)))
    close(np.asarray(got)[kept], expected[kept], _rtol(rdtype), scale,
          nan_ok=~np.isfinite(gv)[kept])


# ------------------------------------------------------------------ one_hot and hardmax

@given(data=st.data())
def test_one_hot(data):
    dtype = data.draw(st.sampled_from(["int64", "int8", "uint8", "int32", "float64", "bool"]),
                      label="labels dtype")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    low = 0 if dtype in ("uint8", "bool") else -2
    labels = data.draw(hnp.arrays(dtype, shape, elements=st.integers(low, 6) if dtype != "bool"
                                  else st.booleans()), label="labels")
    num_classes = data.draw(st.sampled_from([None, None, 0, 3, 7, -1, 2.5]), label="num_classes")
    out_dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int8, bool]),
                          label="dtype")
    errors = ()
    if np.dtype(dtype).kind not in "iu":
        errors = (TypeError,)
    elif num_classes == 2.5:
        errors = (TypeError,)
    elif num_classes is not None and num_classes < 0:
        errors = (ValueError,)
    else:
        n = num_classes if num_classes is not None else (int(labels.max()) + 1 if labels.size
                                                         else 0)
        if labels.size and ((labels < 0).any() or (labels >= n).any()):
            errors = (IndexError,)
    got = outcome(lambda: csoftmax.one_hot(labels, num_classes, dtype=out_dtype), errors)
    if got is None:
        return
    n = got.shape[-1]
    expected = np.eye(n, dtype=out_dtype)[labels.astype(np.intp)] if labels.size else \
        np.zeros(labels.shape + (n,), out_dtype)
    assert got.dtype == np.dtype(out_dtype)
    np.testing.assert_array_equal(got, expected)


@given(data=st.data())
def test_hardmax(data):
    x, desc = data.draw(arrays(dtype=data.draw(LOGIT_DTYPES)), label="x")
    axis = data.draw(st.one_of(st.just(-1), axes(x.ndim, allow_tuple=False, allow_none=False)),
                     label="axis")
    types = _loss_dtypes(x)
    errors = (TypeError,) if types is None else ()
    if x.ndim and not errors:
        errors = ((TypeError,) if isinstance(axis, (float, str, tuple))
                  else axis_errors(axis, x.ndim, False))
    note(desc)
    got = outcome(lambda: csoftmax.hardmax(x, axis), errors)
    if got is None:
        return
    rdtype = x.dtype.newbyteorder("=") if x.dtype.kind == "f" else np.dtype(np.float64)
    assert got.dtype == rdtype and got.shape == x.shape
    if x.ndim == 0:
        assert got == 1
        return
    expected = np.zeros(x.shape, rdtype)
    if x.size:
        np.put_along_axis(expected, np.argmax(x, axis=axis, keepdims=True), 1, axis=axis)
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ regressions found by fuzzing

def test_one_hot_negative_label_without_num_classes_is_an_index_error():
    with pytest.raises(IndexError, match="label -2"):
        csoftmax.one_hot(np.array([-2]))
    with pytest.raises(IndexError, match="label -1"):
        csoftmax.one_hot(np.array([[3, -1]]))


def test_targets_beyond_float32_range_raise_no_floating_point_warning():
    x = np.zeros(3, np.float32)
    t = np.array([0.0, 1.0, 1e300])
    with np.errstate(**STRICT_FP):
        bce = csoftmax.binary_cross_entropy_with_logits(x, t, reduction="none")
        kl = csoftmax.kl_div(x, t, reduction="none")
    assert bce.dtype == kl.dtype == np.float32
    assert np.isfinite(bce[:2]).all() and np.isfinite(kl[:2]).all()
    assert not np.isfinite(bce[2]) and not np.isfinite(kl[2])


def test_sigmoid_focal_gradient_at_the_largest_logits_is_finite():
    """Regression: ce * gamma u^(gamma-1) overflowed before the factor
    sigmoid(x) sigmoid(-x) (0 there) was applied: a nan gradient."""
    x = np.array([-1.7976931348623157e308, 1.7976931348623157e308, -3e38, 3e38])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype) if dtype == np.float64 else np.float32([-3e38, 3e38, -3e38, 3e38])
        _, grad = csoftmax.sigmoid_focal_loss(xd, t, return_grad=True)
        expected = rl.sigmoid_focal_loss(xd.astype(np.float64), t)[1]
        np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_losses_beyond_float64_range_sum_to_inf_without_a_warning():
    x = np.full((2, 1), np.finfo(np.float64).max)
    with np.errstate(**STRICT_FP):
        assert csoftmax.nll_loss(x, np.array([0, 0]), reduction="sum") == -np.inf
        assert csoftmax.nll_loss(x, np.array([0, 0])) == -np.inf
