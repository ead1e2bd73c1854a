"""Convolution layers (`conv1d`, `conv2d`) with their backward passes derived by hand.

Layouts: inputs are channels-last, ``(N, L, C)`` for 1-D and ``(N, H, W, C)`` (NHWC) for
2-D; kernels are ``(k, I, O)`` and ``(kh, kw, I, O)`` (HWIO); params are
``{"W": kernel, "b": (O,)}``.  Both layers share one n-dimensional implementation.

Forward (what deep-learning libraries call convolution is a cross-correlation, CS231n
"Convolutional Networks"), per spatial axis with stride ``s``, dilation ``d`` and zero
padding ``(lo, hi)``, writing ``xp`` for the padded input::

    y[n, o, co] = b[co] + sum_{k, ci} xp[n, o*s + k*d, ci] * W[k, ci, co]

Backward (CS231n assignment 2's ``conv_backward_naive`` computes the same three sums with loops)::

    dL/db[co]        = sum_{n, o} dy[n, o, co]
    dL/dW[k, ci, co] = sum_{n, o} xp[n, o*s + k*d, ci] * dy[n, o, co]   (correlate x with dy)
    dL/dx[n, i, ci]  = sum_{o, k, co : o*s + k*d = i + lo} dy[n, o, co] * W[k, ci, co]
                                                                        (transposed convolution)

``apply`` (`conv_forward`) takes its value from ``lax.conv_general_dilated`` and its
derivative from JAX's own derivative of the same sum written as one matmul of the input's
patches with the flattened kernel (im2col, `conv_matmul`): matmuls and strided slices'
adjoints, which XLA:CPU runs at the hand backward's speed inside a ``lax.scan``, where the
swapped-layout convolutions JAX derives from ``lax.conv_general_dilated`` run 10-70x
slower (jax-ml/jax#12868).

In the hand backward each sum is itself one call of ``lax.conv_general_dilated``; the
padding arithmetic is derived in `conv_input_grad` and `conv_kernel_grad`, following Dumoulin & Visin,
"A guide to convolution arithmetic for deep learning" (2016): section 2 (padding and
strides), section 4 (transposed convolution), section 5.1 (dilation).

The window arithmetic (padding, output sizes ``o = floor((n + lo + hi - d(k-1) - 1) / s) + 1``)
is in `jaxnn.layers.window`, shared with the pooling and upsampling layers.
"""
from __future__ import annotations

import functools
import itertools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from jaxnn import initializers
from jaxnn.layers.base import Array, Layer, check_param_dict, describe, require_key
from jaxnn.layers.window import (Padding, Pads, as_tuple, check_input, effective_size,
                                 output_size, resolve_padding, window_geometry,
                                 window_offset_slice)
from jaxnn.util import check_positive_int
from jaxnn.spec import configured


# ----------------------------------------------------------------------------------------
# The three convolutions: forward, input gradient, kernel gradient
# ----------------------------------------------------------------------------------------
def _spatial_letters(spatial_dims: int) -> str:
    return "DHW"[-spatial_dims:]


def conv_patches(x: Array, kernel_sizes: Sequence[int], strides: Sequence[int], pads: Pads,
                 dilation: Sequence[int], out_sizes: Sequence[int]) -> Array:
    """The input under every kernel tap (im2col, Chellapilla, Puri & Simard 2006):
    ``patches[n, o, (k, ci)] = xp[n, o*s + k*d, ci]``.

    x: (N, *in_spatial, I) -> (N, *out_spatial, K * I) with ``K = prod(kernel_sizes)``, the
    taps ``k`` in row-major window order and the input channel fastest, as the rows of
    ``kernel.reshape(K * I, O)``.  One strided slice of the zero-padded input per tap
    (`window_offset_slice`), concatenated along the channel axis.
    """
    xp = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    taps = [window_offset_slice(xp, [k * d for k, d in zip(tap, dilation)], strides, out_sizes)
            for tap in itertools.product(*map(range, kernel_sizes))]
    return jnp.concatenate(taps, axis=-1)


def conv_lax(x: Array, kernel: Array, strides: Sequence[int], pads: Pads,
             dilation: Sequence[int]) -> Array:
    """``y[n, o, co] = sum_{k, ci} xp[n, o*s + k*d, ci] W[k, ci, co]`` (no bias), by
    ``lax.conv_general_dilated`` in the standard layouts (NHWC input, HWIO kernel).

    x: (N, *spatial, I), kernel: (*window, I, O) -> y: (N, *out_spatial, O).
    """
    sp = _spatial_letters(x.ndim - 2)
    return lax.conv_general_dilated(
        x, kernel, window_strides=strides, padding=pads, rhs_dilation=dilation,
        dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))


def conv_matmul(x: Array, kernel: Array, strides: Sequence[int], pads: Pads,
                dilation: Sequence[int]) -> Array:
    """The same sum as `conv_lax`, as one matmul of the patches (`conv_patches`) with the
    kernel flattened to ``(K * I, O)`` (im2col).

    x: (N, *spatial, I), kernel: (*window, I, O) -> y: (N, *out_spatial, O).

    What ``jax.grad`` derives from it is plain matmuls, strided slices and their adjoints
    (``lax.pad``): ``dW = patches^T dy``, and ``dx`` is ``dy W^T`` scattered back tap by tap.
    """
    out_sizes = [output_size(n, effective_size(k, d), s, p) for n, k, d, s, p in
                 zip(x.shape[1:-1], kernel.shape[:-2], dilation, strides, pads)]
    patches = conv_patches(x, kernel.shape[:-2], strides, pads, dilation, out_sizes)
    return patches @ kernel.reshape(-1, kernel.shape[-1])


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def conv_forward(x: Array, kernel: Array, strides: tuple[int, ...], pads: Pads,
                 dilation: tuple[int, ...]) -> Array:
    """The convolution ``apply`` uses: its value is `conv_lax`'s, its derivative the one JAX
    derives from `conv_matmul` (``conv_forward_jvp``).

    x: (N, *spatial, I), kernel: (*window, I, O) -> y: (N, *out_spatial, O);
    ``strides``, ``pads``, ``dilation``: tuples (static).

    Why two formulations of one sum: the derivatives JAX derives from
    ``lax.conv_general_dilated`` are convolutions in swapped layouts (batch and feature axes
    exchanged, in/out channels swapped), which XLA:CPU runs 10-70x slower inside a
    ``lax.scan`` such as ``fit``'s epoch (jax-ml/jax#12868), while the im2col formulation
    runs 3-7x slower than the convolution when only evaluated.  So the value comes from the
    convolution and the derivative from the matmul; both are derived by JAX (no rule is
    written by hand, and the tests hold the value and the gradients to
    ``lax.conv_general_dilated``'s own in float64), so ``jax.grad`` of ``apply`` stays
    an oracle independent of the hand-written backward (`conv_input_grad`,
    `conv_kernel_grad`).  A ``custom_jvp`` rather than a ``custom_vjp``: forward-mode
    derivatives (``jax.jvp``, ``jax.hessian``) keep working.
    """
    return conv_lax(x, kernel, strides, pads, dilation)


@conv_forward.defjvp
def conv_forward_jvp(strides, pads, dilation, primals, tangents):
    """``(y, dy)``: ``y`` from the convolution, ``dy`` = `conv_matmul`'s JVP (JAX's own,
    ``jax.jvp``); a bilinear map's JVP is ``conv(dx, W) + conv(x, dW)``, and its transpose,
    what reverse mode runs, is matmuls and ``lax.pad``."""
    y = conv_forward(*primals, strides, pads, dilation)
    _, dy = jax.jvp(lambda x, kernel: conv_matmul(x, kernel, strides, pads, dilation),
                    primals, tangents)
    return y, dy


def conv_input_grad(dy: Array, kernel: Array, in_sizes: Sequence[int], strides: Sequence[int],
                    pads: Pads, dilation: Sequence[int]) -> Array:
    """``dL/dx``: the transposed convolution of ``dy`` with the flipped kernel.

    The backward of a convolution is a convolution: ``dy`` dilated by the stride, padded,
    and convolved with the kernel flipped in space and with its in/out channels swapped
    (Dumoulin & Visin 2016, sec. 4 "Transposed convolution arithmetic"; CS231n
    "Convolutional Networks").

    dy: (N, *out_spatial, O), kernel: (*window, I, O) -> dx: (N, *in_spatial, I).

    Per axis (input size ``n``, padding ``(lo, hi)``, kernel ``k``, ``k_eff = d(k-1)+1``,
    stride ``s``, output size ``o``): ``dx[i] = sum_{o', k : o' s + k d = i + lo} dy[o'] W[k]^T``.

    1. Dilate ``dy`` by the stride (``lhs_dilation = s``): ``s - 1`` zeros between
       entries, so entry ``o'`` sits at position ``o' s``; length ``(o - 1) s + 1``.
    2. Correlate (stride 1) with the kernel flipped in space, its in/out channels swapped
       (rhs spec ``..OI``), and dilated by ``d``.  With ``pad_lo'`` zeros in front, output
       ``i`` meets flipped tap ``k' = K-1-k`` at dilated position
       ``i + k' d - pad_lo' = o' s``, i.e. ``o' s + k d = i + (k_eff - 1) - pad_lo'``;
       matching the forward's ``o' s + k d = i + lo`` gives ``pad_lo' = k_eff - 1 - lo``.
    3. The output must have ``n`` positions: ``pad_lo' + (o-1)s + 1 + pad_hi' - k_eff + 1 = n``,
       so ``pad_hi' = n + lo - (o - 1) s - 1 = k_eff - 1 - hi + r`` where
       ``r = (n + lo + hi - k_eff) mod s`` counts the leftover input rows no window reached:
       their gradient is zero and the extra padding produces exactly those zeros.
    Either pad may be negative (``lo > k_eff - 1`` or ``hi > k_eff - 1 + r``): the
    convolution then crops the dilated ``dy``, dropping contributions that would land on
    padding, whose gradient is not wanted.
    """
    sp = _spatial_letters(dy.ndim - 2)
    window = [effective_size(k, d) for k, d in zip(kernel.shape[:-2], dilation)]
    transposed_pads = []
    for n, k_eff, s, (lo, _), o in zip(in_sizes, window, strides, pads, dy.shape[1:-1]):
        transposed_pads.append((k_eff - 1 - lo, n + lo - (o - 1) * s - 1))
    # The in/out swap is an explicit transpose, so the convolution keeps the standard
    # layouts: XLA:CPU runs swapped-layout convolutions far slower inside a lax.scan.
    flipped = jnp.swapaxes(jnp.flip(kernel, axis=tuple(range(dy.ndim - 2))), -1, -2)
    return lax.conv_general_dilated(
        dy, flipped, window_strides=(1,) * len(strides), padding=transposed_pads,
        lhs_dilation=strides, rhs_dilation=dilation,
        dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))


def conv_kernel_grad(x: Array, dy: Array, kernel_sizes: Sequence[int], strides: Sequence[int],
                     pads: Pads, dilation: Sequence[int]) -> Array:
    """``dL/dW[k, ci, co] = sum_{n, o} xp[n, o*s + k*d, ci] dy[n, o, co]``.

    The correlation of the padded input with the output gradient (CS231n assignment 2,
    ``conv_backward_naive``), itself one convolution whose output size follows Dumoulin &
    Visin (2016), sec. 2.4 and 5.1, with the roles of stride and dilation swapped.

    x: (N, *in_spatial, I), dy: (N, *out_spatial, O) -> dW: (*window, I, O).

    This is a convolution in which the *batch* axis is contracted: ``x`` plays the input
    with ``ci`` as its batch and ``n`` as its feature axis (lhs spec ``C..N``), ``dy`` plays
    the kernel with ``n`` as its input and ``co`` as its output feature (``I..O``).  The
    kernel tap index ``k`` becomes the output position, so the roles of stride and
    dilation swap: ``dy`` is dilated by ``s`` (``rhs_dilation = s``) and the window moves
    ``d`` per tap (``window_strides = d``).  The padding is the forward's ``lo`` in front
    and ``hi - r`` behind (negative: a crop), dropping the ``r = (n + lo + hi - k_eff) mod s``
    leftover rows that no window reached; then the output has exactly ``k`` positions:
    ``((n + lo + hi - r) - ((o-1)s + 1)) / d + 1 = (k_eff - 1) / d + 1 = k``.
    """
    sp = _spatial_letters(x.ndim - 2)
    kernel_pads = []
    for n, k, d, s, (lo, hi), o in zip(x.shape[1:-1], kernel_sizes, dilation, strides, pads,
                                       dy.shape[1:-1]):
        leftover = (n + lo + hi - effective_size(k, d)) - (o - 1) * s
        kernel_pads.append((lo, hi - leftover))
    # Batch and channel roles are swapped by explicit transposes, keeping the standard
    # layouts (XLA:CPU runs a batch-contracting layout 30-70x slower inside a lax.scan).
    x_channels_as_batch = jnp.moveaxis(x, (0, -1), (-1, 0))   # (I, *in_spatial, N)
    dy_as_kernel = jnp.moveaxis(dy, 0, -2)                     # (*out_spatial, N, O)
    dw = lax.conv_general_dilated(
        x_channels_as_batch, dy_as_kernel, window_strides=dilation, padding=kernel_pads,
        rhs_dilation=strides, dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))
    return jnp.moveaxis(dw, 0, -2)                             # (*window, I, O)


# ----------------------------------------------------------------------------------------
# The layers
# ----------------------------------------------------------------------------------------
@configured
def conv(spatial_dims: int, features: int, kernel_size: int | Sequence[int],
         stride: int | Sequence[int] = 1, padding: Padding = "SAME",
         dilation: int | Sequence[int] = 1, use_bias: bool = True,
         kernel_init: str | Callable = initializers.he_normal,
         bias_init: str | Callable = initializers.zeros) -> Layer:
    """A channels-last convolution over ``spatial_dims`` axes (see `conv1d`, `conv2d`)."""
    name = f"conv{spatial_dims}d"
    features = check_positive_int(f"{name}: features", features)
    kernel_sizes = as_tuple(kernel_size, spatial_dims, f"{name} kernel_size")
    strides = as_tuple(stride, spatial_dims, f"{name} stride")
    dilations = as_tuple(dilation, spatial_dims, f"{name} dilation")
    windows = tuple(effective_size(k, d) for k, d in zip(kernel_sizes, dilations))
    resolve_padding(padding, (1,) * spatial_dims, windows, strides, name)  # validate early
    kernel_init, bias_init = initializers.get(kernel_init), initializers.get(bias_init)

    @describe(name)
    def init_fn(key, in_shape):
        check_input(name, in_shape, spatial_dims, None, batched=False)
        *in_sizes, in_channels = in_shape
        _, out_sizes = window_geometry(name, in_sizes, windows, strides, padding)
        kernel_key, bias_key = jax.random.split(require_key(name, key))
        params = {"W": kernel_init(kernel_key, (*kernel_sizes, in_channels, features))}
        if use_bias:
            params["b"] = bias_init(bias_key, (features,))
        return (*out_sizes, features), params

    def checked_geometry(params, x):
        check_param_dict(name, params, ("W", "b") if use_bias else ("W",))
        check_input(name, x.shape, spatial_dims, params["W"].shape[-2], batched=True)
        return window_geometry(name, x.shape[1:-1], windows, strides, padding)[0]

    def apply_fn(params, x, *, key=None, train=False):
        pads = checked_geometry(params, x)
        dtype = jnp.result_type(x, params["W"])  # promote as dense's matmul does (float32 data, float64 kernel)
        y = conv_forward(x.astype(dtype), params["W"].astype(dtype), strides, pads, dilations)
        return y + params["b"] if use_bias else y

    def backward_fn(params, x, dy, *, key=None, train=False):
        """The three sums of the module docstring, each one convolution (CS231n
        "Convolutional Networks"; Dumoulin & Visin 2016, sec. 4 and 5.1):

            dL/db = sum_{n, o} dy[n, o]
            dL/dW = the correlation of the padded input with dy          (`conv_kernel_grad`)
            dL/dx = dy dilated by the stride, convolved with the flipped kernel
                    (the transposed convolution, `conv_input_grad`)
        """
        pads = checked_geometry(params, x)
        dtype = jnp.result_type(x, params["W"])
        kernel_grad = conv_kernel_grad(x.astype(dtype), dy.astype(dtype), kernel_sizes, strides, pads, dilations)
        grads = {"W": kernel_grad.astype(params["W"].dtype)}
        if use_bias:
            grads["b"] = dy.sum(axis=tuple(range(dy.ndim - 1))).astype(params["b"].dtype)
        dx = conv_input_grad(dy.astype(dtype), params["W"].astype(dtype), x.shape[1:-1], strides, pads, dilations)
        return grads, dx.astype(x.dtype)

    return Layer(init_fn, apply_fn, backward_fn)


@configured
def conv2d(features: int, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
           padding: Padding = "SAME", dilation: int | Sequence[int] = 1, use_bias: bool = True,
           kernel_init: str | Callable = initializers.he_normal,
           bias_init: str | Callable = initializers.zeros) -> Layer:
    """2-D convolution. x: (N, H, W, C) -> y: (N, H', W', features); W: (kh, kw, C, features).

    ``kernel_size``, ``stride``, ``dilation``: an int or an ``(h, w)`` pair.  ``padding``:
    ``"SAME"`` (``H' = ceil(H / s)``), ``"VALID"`` (``H' = floor((H - d(kh-1) - 1) / s) + 1``),
    an int, or ``((top, bottom), (left, right))``.  Forward and backward formulas: see the
    module docstring; compare ``torch.nn.functional.conv2d`` on NCHW / OIHW.
    """
    return conv(2, features, kernel_size, stride, padding, dilation, use_bias,
                kernel_init, bias_init)


@configured
def conv1d(features: int, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
           padding: Padding = "SAME", dilation: int | Sequence[int] = 1, use_bias: bool = True,
           kernel_init: str | Callable = initializers.he_normal,
           bias_init: str | Callable = initializers.zeros) -> Layer:
    """1-D convolution over sequences. x: (N, L, C) -> y: (N, L', features); W: (k, C, features).

    Same arguments and arithmetic as `conv2d`, on one spatial axis; explicit padding is
    an int or ``((lo, hi),)``.
    """
    return conv(1, features, kernel_size, stride, padding, dilation, use_bias,
                kernel_init, bias_init)
