"""Pooling layers on NHWC inputs: `max_pool`, `avg_pool`, `global_avg_pool`.

Forward (CS231n "Convolutional Networks", pooling layer), per spatial axis with window
``k``, stride ``s`` and padding ``(lo, hi)``; ``xp`` is the padded input::

    max_pool:  y[n, o, c] = max_{k} xp[n, o*s + k, c]            (padding holds -inf)
    avg_pool:  y[n, o, c] = (1 / count[o]) sum_{k} xp[n, o*s + k, c]   (padding holds 0)

Backward, written as a sum over the ``kh * kw`` window offsets ``k``: the strided slice
``xp[:, k::s][:o]`` holds, for every output at once, the element at offset ``k`` of its
window, and its adjoint scatters a ``(N, H', W', C)`` gradient back to those positions
(`window_offset_slice` / `window_offset_scatter`).  Overlapping windows (``s < k``)
accumulate, and the padding's gradient is cropped away::

    max_pool:  dxp[o*s + k] += dy[o]  if  k is the first offset (row-major) with xp[o*s+k] == y[o]
    avg_pool:  dxp[o*s + k] += dy[o] / count[o]     for every offset k

Ties in max pooling: JAX differentiates ``reduce_window`` max through
``select_and_scatter_add`` with ``select = (>=)``, which keeps the first maximal element in
row-major window order and sends it the whole gradient; we do the same (only the first
tie gets ``dy``, the others 0).  `max_pool`'s derivative is JAX's own derivative of
that selection (`first_maximum`, `max_pool_forward`), not ``select_and_scatter_add``.
The window arithmetic (padding, output sizes
``o = floor((n + lo + hi - k) / s) + 1``, Dumoulin & Visin 2016, sec. 3) is in
`jaxnn.layers.window`, shared with `jaxnn.layers.conv`.
"""
from __future__ import annotations

import functools
import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnn.layers.base import Array, Layer, describe
from jaxnn.layers.window import (Padding, Pads, as_tuple, check_input, resolve_padding,
                                 window_counts, window_geometry, window_offset_scatter,
                                 window_offset_slice, window_output_shape)
from jaxnn.spec import configured


# ----------------------------------------------------------------------------------------
# Padding, and the pools' shared plumbing (the two adjoint helpers are in `window`)
# ----------------------------------------------------------------------------------------
def crop_padding(xp: Array, pads: Pads) -> Array:
    """Remove the ``(lo, hi)`` spatial padding: (N, Hp, Wp, C) -> (N, H, W, C)."""
    (top, bottom), (left, right) = pads
    return xp[:, top:xp.shape[1] - bottom, left:xp.shape[2] - right, :]


def pad_input(x: Array, pads: Pads, value: float) -> Array:
    """Pad the spatial axes of x: (N, H, W, C) -> (N, H + lo + hi, W + lo + hi, C)."""
    return jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def pool_geometry(name: str, x_shape, windows, strides, padding) -> tuple[Pads, tuple[int, ...]]:
    """Validated ``(pads, out_sizes)`` of a 2-D pool on an (N, H, W, C) input."""
    check_input(name, x_shape, 2, None, batched=True)
    return window_geometry(name, x_shape[1:-1], windows, strides, padding)


def pool_arguments(name: str, window, stride, padding):
    """Normalize ``window``/``stride`` (``stride=None`` means ``stride = window``)."""
    windows = as_tuple(window, 2, f"{name} window")
    strides = windows if stride is None else as_tuple(stride, 2, f"{name} stride")
    resolve_padding(padding, (1, 1), windows, strides, name)  # validate early
    return windows, strides


def pool_init(name: str, windows, strides, padding):
    """``init`` of a parameterless pool: (H, W, C) -> ((H', W', C), ())."""

    @describe(name)
    def init_fn(key, in_shape):
        check_input(name, in_shape, 2, None, batched=False)
        _, out_sizes = pool_geometry(name, (1, *in_shape), windows, strides, padding)
        return (*out_sizes, in_shape[-1]), ()

    return init_fn


# ----------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------
def first_maximum(taps: Sequence[Array], peak: Array) -> Array:
    """``max_k taps[k]``, elementwise, written as a selection of the *first* tap equal to
    the maximum ``peak``.

    taps: the window's offsets in row-major order, each (N, H', W', C) (`window_offset_slice`);
    peak: their maximum (N, H', W', C), which only feeds comparisons -> (N, H', W', C).
    Differentiated by JAX this sends ``dy`` to the first maximal tap alone (ties
    included), the rule of JAX's own ``reduce_window`` max derivative and of `max_pool`'s
    hand backward.  Where no tap equals ``peak`` (a NaN in the window) the result is ``peak``.
    """
    y, found = taps[0], taps[0] == peak
    for tap in taps[1:]:
        first = (tap == peak) & ~found
        y, found = jnp.where(first, tap, y), found | first
    return jnp.where(found, y, peak)


def max_pool_taps(x: Array, windows: tuple[int, ...], strides: tuple[int, ...],
                  pads: Pads) -> list[Array]:
    """The ``kh * kw`` strided slices of the ``-inf``-padded input, row-major: each
    (N, H', W', C), ``taps[k][n, o, c] = xp[n, o*s + k, c]``."""
    out_sizes = window_output_shape("max_pool", x.shape[1:-1], windows, strides, pads)
    xp = pad_input(x, pads, -jnp.inf)
    return [window_offset_slice(xp, offset, strides, out_sizes)
            for offset in itertools.product(*map(range, windows))]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def max_pool_forward(x: Array, windows: tuple[int, ...], strides: tuple[int, ...],
                     pads: Pads) -> Array:
    """`max_pool`'s forward: value from ``lax.reduce_window``, derivative the one JAX
    derives from `first_maximum` of the window's taps (``max_pool_forward_jvp``).

    x: (N, H, W, C) -> (N, H', W', C).  JAX differentiates ``reduce_window`` max through
    ``select_and_scatter_add``, which XLA:CPU runs several times slower inside a
    ``lax.scan``; the selection's derivative is selects and the slices' adjoints
    (``lax.pad``).  Evaluated alone, ``reduce_window`` is the faster of the two (2.4x
    inside the digits CNN's forward).  Both are derived by JAX, and the tests hold the
    value, VJP and JVP to ``reduce_window``'s own, ties included.
    """
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *windows, 1), (1, *strides, 1),
                             ((0, 0), *pads, (0, 0)))


@max_pool_forward.defjvp
def max_pool_forward_jvp(windows, strides, pads, primals, tangents):
    """``(y, dy)``: ``y`` from ``reduce_window``, ``dy`` = ``jax.jvp`` of `first_maximum`
    of the taps, ``y`` standing for their maximum."""
    y = max_pool_forward(*primals, windows, strides, pads)
    _, dy = jax.jvp(lambda x: first_maximum(max_pool_taps(x, windows, strides, pads), y),
                    primals, tangents)
    return y, dy


@configured
def max_pool(window: int | Sequence[int], stride: int | Sequence[int] | None = None,
             padding: Padding = "VALID") -> Layer:
    """Max over ``window`` patches. x: (N, H, W, C) -> y: (N, H', W', C); no params.

    ``window``/``stride``: int or ``(h, w)``; ``stride=None`` means non-overlapping windows
    (``stride = window``).  ``padding``: ``"VALID"``, ``"SAME"`` (pads with -inf, so padding
    is never the max), an int or ``((top, bottom), (left, right))``.

    Backward: each ``dy[n, o, c]`` goes to the (first, in row-major order) position of the
    maximum in window ``o``; overlapping windows accumulate (see module docstring).
    """
    windows, strides = pool_arguments("max_pool", window, stride, padding)

    def apply_fn(params, x, *, key=None, train=False):
        pads, _ = pool_geometry("max_pool", x.shape, windows, strides, padding)
        return max_pool_forward(x, windows, strides, pads)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """Route each gradient to its window's argmax (CS231n "Convolutional Networks",
        pooling layer; the first maximum in row-major order, like JAX's own VJP):

            dxp[o*s + k] += dy[o]   for k the first offset with xp[o*s + k] == y[o]
            dx = dxp without its padding
        """
        pads, out_sizes = pool_geometry("max_pool", x.shape, windows, strides, padding)
        xp = pad_input(x, pads, -jnp.inf)
        offsets = list(itertools.product(*map(range, windows)))   # row-major window order
        taps = [window_offset_slice(xp, offset, strides, out_sizes) for offset in offsets]
        # y as the taps' elementwise max: a second reduce_window here makes this backward
        # run 2x slower inside a lax.scan on XLA:CPU
        y = functools.reduce(jnp.maximum, taps)
        dxp = jnp.zeros_like(xp)
        routed = jnp.zeros(y.shape, bool)       # has this window's max been found yet?
        for offset, tap in zip(offsets, taps):
            is_max = (tap == y) & ~routed
            routed = routed | is_max
            dxp = dxp + window_offset_scatter(jnp.where(is_max, dy, 0), offset, strides,
                                              xp.shape[1:-1])
        return (), crop_padding(dxp, pads)

    return Layer(pool_init("max_pool", windows, strides, padding), apply_fn, backward_fn)


# ----------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------
@configured
def avg_pool(window: int | Sequence[int], stride: int | Sequence[int] | None = None,
             padding: Padding = "VALID", count_include_pad: bool = True) -> Layer:
    """Mean over ``window`` patches. x: (N, H, W, C) -> y: (N, H', W', C); no params.

    Arguments as `max_pool`; padding holds zeros.  ``count_include_pad=True`` (the default
    of ``flax.linen.avg_pool`` and ``torch.nn.functional.avg_pool2d``) divides every window
    by ``kh * kw``, padded zeros included; ``False`` divides by the number of real inputs
    in the window (``count[o]``, static, from `window_counts`).

    Backward: ``dy[o] / count[o]`` is spread evenly over window ``o``; overlapping windows
    accumulate (see module docstring).
    """
    windows, strides = pool_arguments("avg_pool", window, stride, padding)

    def divisor(x, pads, out_sizes):
        if count_include_pad:
            return int(np.prod(windows))
        counts = window_counts(x.shape[1:-1], windows, strides, pads, out_sizes)
        return jnp.asarray(counts[None, :, :, None], x.dtype)

    def apply_fn(params, x, *, key=None, train=False):
        pads, out_sizes = pool_geometry("avg_pool", x.shape, windows, strides, padding)
        sums = lax.reduce_window(x, 0.0, lax.add, (1, *windows, 1),
                                 (1, *strides, 1), ((0, 0), *pads, (0, 0)))
        return sums / divisor(x, pads, out_sizes)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """Spread each gradient evenly over its window (CS231n "Convolutional Networks",
        pooling layer; the mean's derivative is 1 / count for each of its inputs):

            dxp[o*s + k] += dy[o] / count[o]   for every offset k of window o
            dx = dxp without its padding       (count = kh * kw with count_include_pad)
        """
        pads, out_sizes = pool_geometry("avg_pool", x.shape, windows, strides, padding)
        share = dy / divisor(x, pads, out_sizes)
        padded_sizes = [n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads)]
        dxp = sum(window_offset_scatter(share, offset, strides, padded_sizes)
                  for offset in itertools.product(*map(range, windows)))
        return (), crop_padding(dxp, pads)

    return Layer(pool_init("avg_pool", windows, strides, padding), apply_fn, backward_fn)


@configured
def global_avg_pool() -> Layer:
    """Mean over all spatial positions. x: (N, H, W, C) -> y: (N, C); no params.

    ``y[n, c] = (1 / HW) sum_{h, w} x[n, h, w, c]``;  backward: ``dx[n, h, w, c] = dy[n, c] / HW``.
    """

    @describe("global_avg_pool")
    def init_fn(key, in_shape):
        check_input("global_avg_pool", in_shape, 2, None, batched=False)
        return (in_shape[-1],), ()

    def apply_fn(params, x, *, key=None, train=False):
        check_input("global_avg_pool", x.shape, 2, None, batched=True)
        return x.mean(axis=(1, 2))

    def backward_fn(params, x, dy, *, key=None, train=False):
        """``dx[n, h, w, c] = dy[n, c] / HW``: `avg_pool`'s backward with one window
        covering the whole image (Lin, Chen & Yan 2014, "Network In Network")."""
        check_input("global_avg_pool", x.shape, 2, None, batched=True)
        _, height, width, _ = x.shape
        return (), jnp.broadcast_to(dy[:, None, None, :] / (height * width), x.shape)

    return Layer(init_fn, apply_fn, backward_fn)
