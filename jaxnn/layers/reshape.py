"""Shape-only layers: `flatten` and `reshape`.

They move no numbers, only re-index them, so the backward pass is the inverse re-indexing:
``dL/dx = dy.reshape(x.shape)``.  The batch axis 0 is never touched.
"""
from __future__ import annotations

import math
from typing import Sequence

from jaxnn.layers.base import Layer, describe
from jaxnn.util import as_int
from jaxnn.spec import configured

Shape = tuple[int, ...]


def _checked_target(shape: Sequence[int]) -> Shape:
    """The per-example target shape, validated: positive sizes and at most one ``-1``; an int
    ``d`` means ``(d,)``, numpy integers are ints."""
    if as_int(shape) is not None:
        shape = (shape,)
    try:
        target = tuple(shape)
    except TypeError:
        raise ValueError(f"reshape: shape must be an int or a tuple of ints (without the batch axis), "
                         f"got {shape!r}") from None
    for size in target:
        if as_int(size) is None or (size < 1 and size != -1):
            raise ValueError(f"reshape: target shape {target} must hold positive ints and at most one -1, "
                             f"got entry {size!r}")
    target = tuple(as_int(size) for size in target)
    if target.count(-1) > 1:
        raise ValueError(f"reshape: target shape {target} has more than one -1; at most one size can be inferred")
    return target


def _resolve(target: Shape, in_shape: Shape, name: str) -> Shape:
    """``target`` with its ``-1`` replaced so that ``prod(result) == prod(in_shape)``.

    Raises ValueError when no such size exists (sizes don't match).
    """
    size = math.prod(in_shape)
    known = math.prod(s for s in target if s != -1)
    if -1 in target:
        if size % known:
            raise ValueError(f"{name}: cannot reshape per-example shape {in_shape} ({size} elements) into "
                             f"{target}: {size} is not divisible by {known}")
        return tuple(size // known if s == -1 else s for s in target)
    if known != size:
        raise ValueError(f"{name}: cannot reshape per-example shape {in_shape} ({size} elements) into "
                         f"{target} ({known} elements); the element counts must be equal")
    return target


def _reshape_layer(target: Shape, name: str) -> Layer:
    """(N, *in_shape) -> (N, *target), ``target`` per example with at most one ``-1``."""

    @describe(name)
    def init_fn(key, in_shape):
        return _resolve(target, tuple(in_shape), name), ()

    def apply_fn(params, x, **_):
        """y[n] = x[n] read in row-major order into ``target``."""
        if x.ndim < 1:
            raise ValueError(f"{name} expects a batch of shape (N, ...), got a scalar")
        return x.reshape((x.shape[0], *_resolve(target, x.shape[1:], name)))

    def backward_fn(params, x, dy, **_):
        """dL/dx = dy.reshape(x.shape): a re-indexing's VJP is the inverse re-indexing."""
        expected = (x.shape[0], *_resolve(target, x.shape[1:], name))
        if dy.shape != expected:
            raise ValueError(f"{name}: upstream gradient dy must have the output shape {expected}, got {dy.shape}")
        return (), dy.reshape(x.shape)

    return Layer(init_fn, apply_fn, backward_fn)


@configured
def flatten() -> Layer:
    """(N, d1, ..., dk) -> (N, d1 * ... * dk), row-major (C order), e.g. NHWC images -> vectors.

    Forward ``y = x.reshape(N, -1)``; backward ``dL/dx = dy.reshape(x.shape)``.  No params: ``()``.
    """
    return _reshape_layer((-1,), "flatten")


@configured
def reshape(shape: Sequence[int]) -> Layer:
    """(N, *in_shape) -> (N, *shape), row-major; ``shape`` excludes the batch axis.

    At most one entry of ``shape`` may be ``-1``, inferred from the input size.
    ValueError (at construction, ``init`` or ``apply``) when the shape is malformed or its
    element count differs from the input's.  Backward ``dL/dx = dy.reshape(x.shape)``.
    No params: ``()``.
    """
    return _reshape_layer(_checked_target(shape), "reshape")
