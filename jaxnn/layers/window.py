"""Window arithmetic: where a sliding window fits, shared by `conv`, `pool` and `upsample`.

A convolution or pooling window of size ``k`` with dilation ``d`` spans ``k_eff = d (k - 1) + 1``
input positions; it moves by the stride ``s`` over an input of size ``n`` padded with
``(lo, hi)`` extra positions.  Per spatial axis the number of window positions is::

    o = floor((n + lo + hi - d (k - 1) - 1) / s) + 1

(Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016):
section 2.4 for zero padding and strides, section 3 for pooling, section 5.1 for dilation;
CS231n "Convolutional Networks" writes it ``(W - F + 2P) / S + 1`` for ``d = 1``).

Everything here but the last section is pure geometry on Python ints: no arrays, nothing
traced, so errors are raised while a model is built or traced, with the layer's name and
expected layout.  The last section holds the two array helpers the layers share: the input
under one window tap for every output position at once (a strided slice), and its adjoint.
"""
from __future__ import annotations

from typing import Sequence, Union

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnn.layers.base import Array, Shape

#: ``"SAME"``, ``"VALID"``, an int ``p`` or one ``(lo, hi)`` pair per spatial axis.
Padding = Union[str, int, Sequence[tuple[int, int]]]
#: explicit ``((lo, hi), ...)`` zero padding, one pair per spatial axis.
Pads = tuple[tuple[int, int], ...]

#: user-facing names of the spatial axes, per number of spatial axes (error messages).
SPATIAL_AXES = {1: ("L",), 2: ("H", "W")}


def is_non_negative_int(value) -> bool:
    """True for Python/NumPy ints >= 0 (not bools, not floats)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


def as_tuple(value: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    """``value`` as an ``n``-tuple of positive ints: ``3 -> (3, 3)``, ``(3, 2) -> (3, 2)``."""
    values = list(value) if isinstance(value, (tuple, list)) else [value] * n
    if len(values) == n and all(is_non_negative_int(v) and v >= 1 for v in values):
        return tuple(int(v) for v in values)
    raise ValueError(f"{what} must be a positive int or a sequence of {n} positive ints, "
                     f"got {value!r}")


def effective_size(kernel_size: int, dilation: int) -> int:
    """Extent of a dilated window: ``k_eff = d (k - 1) + 1`` (Dumoulin & Visin, sec. 5.1)."""
    return dilation * (kernel_size - 1) + 1


def same_padding(in_size: int, window: int, stride: int) -> tuple[int, int]:
    """XLA/TensorFlow "SAME" padding of one axis: the output has ``ceil(n / s)`` positions.

    The total padding is ``max((o - 1) s + k_eff - n, 0)``; the odd extra row goes at the
    end (``lo = total // 2``), as in ``lax.padtype_to_pads``.  ``window`` is ``k_eff``.
    """
    out = -(-in_size // stride)
    total = max((out - 1) * stride + window - in_size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding: Padding, in_sizes: Sequence[int], windows: Sequence[int],
                    strides: Sequence[int], what: str) -> Pads:
    """Explicit ``((lo, hi), ...)`` zero padding, one pair per spatial axis.

    ``padding`` is ``"SAME"``, ``"VALID"`` (no padding), an int ``p`` (``(p, p)`` on every
    axis) or one ``(lo, hi)`` pair of non-negative ints per axis.  ``windows`` are the
    effective (dilated) window sizes.
    """
    n = len(in_sizes)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * n
        if mode == "SAME":
            return tuple(same_padding(i, k, s) for i, k, s in zip(in_sizes, windows, strides))
    elif is_non_negative_int(padding):
        return ((int(padding), int(padding)),) * n
    elif isinstance(padding, (tuple, list)) and len(padding) == n and all(
            isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(map(is_non_negative_int, pair)) for pair in padding):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    raise ValueError(f"{what}: padding must be 'SAME', 'VALID', a non-negative int or "
                     f"{n} (lo, hi) pairs of non-negative ints, got {padding!r}")


def output_size(in_size: int, window: int, stride: int, pad: tuple[int, int]) -> int:
    """Number of window positions: ``o = floor((n + lo + hi - k_eff) / s) + 1``.

    (Dumoulin & Visin 2016, sec. 2.4 and 3, with dilation (sec. 5.1) folded into
    ``k_eff = d (k - 1) + 1``.)  For "SAME" padding this equals ``ceil(n / s)``, for
    "VALID" ``floor((n - k_eff) / s) + 1``.  The last ``(n + lo + hi - k_eff) mod s``
    padded rows are never reached by a window.
    """
    return (in_size + pad[0] + pad[1] - window) // stride + 1


def window_output_shape(name: str, in_sizes: Sequence[int], windows: Sequence[int],
                        strides: Sequence[int], pads: Pads) -> tuple[int, ...]:
    """Spatial output sizes, or ValueError when a window does not fit the padded input."""
    for axis, (n, k, p) in enumerate(zip(in_sizes, windows, pads)):
        if n + p[0] + p[1] < k:
            raise ValueError(f"{name}: window of (effective) size {k} on spatial axis {axis} "
                             f"is larger than the padded input size {n} + {p[0]} + {p[1]}; "
                             f"use padding='SAME' or a smaller window")
    return tuple(output_size(n, k, s, p) for n, k, s, p in zip(in_sizes, windows, strides, pads))


def window_geometry(name: str, in_sizes: Sequence[int], windows: Sequence[int],
                    strides: Sequence[int], padding: Padding) -> tuple[Pads, tuple[int, ...]]:
    """``(pads, out_sizes)``: the explicit padding and the spatial output sizes, validated."""
    pads = resolve_padding(padding, in_sizes, windows, strides, name)
    return pads, window_output_shape(name, in_sizes, windows, strides, pads)


def window_counts(in_sizes: Sequence[int], windows: Sequence[int], strides: Sequence[int],
                  pads: Pads, out_sizes: Sequence[int]) -> np.ndarray:
    """Number of real (non-padding) inputs in each window of a 2-D pool: (H', W').

    Per axis, window ``o`` covers padded positions ``[o s, o s + k)``, the real ones are
    ``[lo, lo + n)``; the 2-D count is the outer product of the per-axis counts.
    """
    per_axis = []
    for n, k, s, (lo, _), o in zip(in_sizes, windows, strides, pads, out_sizes):
        starts = np.arange(o) * s
        per_axis.append(np.minimum(starts + k, lo + n) - np.maximum(starts, lo))
    return np.multiply.outer(*per_axis)


def check_input(name: str, shape: Shape, spatial_dims: int, channels: int | None,
                batched: bool) -> None:
    """ValueError naming the expected channels-last layout when ``shape`` does not fit it."""
    axes = ("N",) * int(batched) + SPATIAL_AXES[spatial_dims] + ("C",)
    shape = tuple(shape)
    sizes = shape[int(batched):]   # an empty batch is fine; empty spatial or channel axes are not
    ok = len(shape) == len(axes) and all(map(is_non_negative_int, shape)) and min(sizes) >= 1
    if ok and channels is not None:
        ok = shape[-1] == channels
    if not ok:
        what = "input" if batched else "in_shape (without the batch axis)"
        want = f" with C={channels}" if channels is not None else ""
        raise ValueError(f"{name} expects {''.join(axes)} {what} ({', '.join(axes)}){want}, "
                         f"got shape {shape}")


# ----------------------------------------------------------------------------------------
# One window tap for every output position: a strided slice, and its adjoint
# ----------------------------------------------------------------------------------------
def window_offset_slice(xp: Array, offset: Sequence[int], strides: Sequence[int],
                        out_sizes: Sequence[int]) -> Array:
    """``xp[n, o*s + offset, c]`` for every output position ``o``: (N, *out_sizes, C).

    xp: padded input (N, *padded_sizes, C); ``offset`` is the tap's position inside the
    window (``k d`` for tap ``k`` of a window with dilation ``d``).  A strided slice.
    """
    start = (0, *offset, 0)
    limit = (xp.shape[0], *(k + (o - 1) * s + 1 for k, o, s in zip(offset, out_sizes, strides)),
             xp.shape[-1])
    return lax.slice(xp, start, limit, (1, *strides, 1))


def window_offset_scatter(values: Array, offset: Sequence[int], strides: Sequence[int],
                          padded_sizes: Sequence[int]) -> Array:
    """Adjoint of `window_offset_slice`: ``out[n, o*s + offset, c] = values[n, o, c]``, 0 elsewhere.

    values: (N, *out_sizes, C) -> (N, *padded_sizes, C).  One ``lax.pad``: ``offset`` zeros
    in front, ``s - 1`` zeros between entries (interior padding), the rest at the end.
    """
    config = [(0, 0, 0)]
    for k, s, o, size in zip(offset, strides, values.shape[1:-1], padded_sizes):
        config.append((k, size - k - (o - 1) * s - 1, s - 1))
    config.append((0, 0, 0))
    return lax.pad(values, jnp.zeros((), values.dtype), config)
