"""Dense (fully connected) layer: z = x @ W + b.

The course notes write ``z^(l) = W^(l) a^(l-1) + b^(l)`` with column vectors (IIT Mandi,
"Forward propagation through L hidden layers"; Liverpool, "Forward propagation"); with
batch-first rows our ``W`` is their ``W`` transposed, of shape ``(fan_in, units)``.
"""
from __future__ import annotations

import jax

from jaxnn import initializers
from jaxnn.layers.base import Layer, check_param_dict, describe, require_key
from jaxnn.util import as_numeric, check_positive_int
from jaxnn.spec import configured


@configured
def dense(units: int, *, kernel_init=initializers.glorot_uniform, bias_init=initializers.zeros,
          use_bias: bool = True) -> Layer:
    """Affine map ``z = x @ W + b``.  x: (N, ..., fan_in) -> z: (N, ..., units).

    Params ``{"W": (fan_in, units), "b": (units,)}`` (no ``"b"`` when ``use_bias=False``).
    Backward (IIT Mandi, "Vectorized backpropagation (single example)" and "Mini-batch and
    averaging", with ``dz = dL/dz`` one row per example): ``dL/dW = x^T dz`` (the notes'
    ``delta a^T``), ``dL/db = sum_n dz``, ``dL/dx = dz W^T`` (the notes' ``W^T delta``).
    With the mean-reduced losses the ``1/N`` of the batch average is already in ``dz``.
    Extra middle axes (e.g. time) are treated as more rows.
    """
    units = check_positive_int("dense: units", units)
    kernel_init, bias_init = initializers.get(kernel_init), initializers.get(bias_init)

    @describe("dense")
    def init_fn(key, in_shape):
        if len(in_shape) < 1:
            raise ValueError(f"dense expects inputs of shape (N, ..., features), got in_shape {tuple(in_shape)} "
                             "without the batch axis")
        fan_in = in_shape[-1]
        kernel_key, bias_key = jax.random.split(require_key("dense", key))
        params = {"W": kernel_init(kernel_key, (fan_in, units))}
        if use_bias:
            params["b"] = bias_init(bias_key, (units,))
        return (*in_shape[:-1], units), params

    def check(params, x):
        check_param_dict("dense", params, ("W", "b") if use_bias else ("W",))
        fan_in = params["W"].shape[0]
        if x.ndim < 2 or x.shape[-1] != fan_in:
            raise ValueError(f"dense expects input (N, ..., {fan_in}) to match W of shape {params['W'].shape}, "
                             f"got shape {x.shape}")

    def apply_fn(params, x, **_):
        x = as_numeric("dense: inputs x", x)
        check(params, x)
        z = x @ params["W"]
        return z + params["b"] if use_bias else z

    def backward_fn(params, x, dz, **_):
        """dW = x^T dz, db = sum_n dz, dx = dz W^T (IIT Mandi, vectorized backpropagation)."""
        x, dz = as_numeric("dense: inputs x", x), as_numeric("dense: upstream gradient dz", dz)
        check(params, x)
        rows_x = x.reshape(-1, x.shape[-1])
        rows_dz = dz.reshape(-1, dz.shape[-1])
        grads = {"W": rows_x.T @ rows_dz}
        if use_bias:
            grads["b"] = rows_dz.sum(axis=0)
        return grads, dz @ params["W"].T

    return Layer(init_fn, apply_fn, backward_fn)
