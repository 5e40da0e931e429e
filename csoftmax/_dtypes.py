"""Which dtype a call computes in and which it returns.

float32 and float64 run in the compiled kernels. float16 and bfloat16 (from
ml_dtypes) are computed in float32 and returned in their own dtype. bool and
integer inputs become float64, as in SciPy. Complex and extended-precision
(longdouble) inputs take the NumPy path in csoftmax._generic.
"""
import numpy as np

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_half(dtype):
    """float16, or ml_dtypes' bfloat16 (a void-kind dtype to NumPy)."""
    return dtype.char == "e" or (dtype.kind == "V" and dtype.name == "bfloat16")


def is_generic(dtype):
    """True for dtypes the compiled kernels do not cover (complex, longdouble)."""
    return dtype.kind == "c" or (dtype.kind == "f" and dtype.itemsize > 8)


def result_dtype(input_dtype, requested=None, what="x"):
    """The dtype of the result, from the input's dtype and the `dtype=` argument."""
    if requested is not None:
        dtype = np.dtype(requested)
        if not (dtype.kind in "fc" or is_half(dtype)):
            raise TypeError(f"dtype must be a floating or complex dtype, got {dtype}")
        return dtype.newbyteorder("=")  # the kernels compute in native byte order
    if input_dtype.kind in "fc" or is_half(input_dtype):
        return input_dtype.newbyteorder("=")
    if input_dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{what} must be a numeric array, got dtype {input_dtype}")


def compute_dtype(result):
    """The dtype the kernels run in for a given result dtype."""
    return np.dtype(np.float32) if is_half(result) else result
