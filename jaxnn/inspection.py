"""Inspecting models without running them: parameter counts, output shapes, a summary table.

`output_shape` and `summary` trace ``layer.init`` with ``jax.eval_shape``: no arrays are
computed and nothing compiles, so inspecting a large model is instant.
"""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxnn.layers import Layer
from jaxnn.util import as_shape

__all__ = ["count_params", "mlp_param_count", "output_shape", "summary"]



def count_params(params) -> int:
    """Number of scalars in a params pytree (a Python number counts as one)."""
    return sum(math.prod(jnp.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params))


def mlp_param_count(in_features: int, sizes: Sequence[int]) -> int:
    """``sum_l n_l n_{l+1} + n_{l+1}`` over consecutive widths (Liverpool, "Network size
    determines representational capacity": weights plus biases of each dense layer)."""
    widths = [in_features, *sizes]
    return sum(n_in * n_out + n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


def _abstract_init(layer: Layer, in_shape) -> tuple[tuple[int, ...], object]:
    """``layer.init`` traced, not run: ``(out_shape, params as jax.ShapeDtypeStruct leaves)``.

    No arrays are computed (nothing compiles), so inspecting a large model is instant.
    """
    out_shapes = []

    def params_of(key):
        out_shape, params = layer.init(key, tuple(in_shape))
        out_shapes.append(tuple(out_shape))
        return params

    params = jax.eval_shape(params_of, jax.random.key(0))
    return out_shapes[0], params


def _checked_in_shape(what: str, in_shape) -> tuple[int, ...]:
    """``in_shape`` as a tuple of positive ints (the per-example shape; an int ``d`` is ``(d,)``,
    as in every ``init``), else ValueError."""
    return as_shape(in_shape, what)


def output_shape(layer: Layer, in_shape) -> tuple[int, ...]:
    """The per-example output shape of ``layer`` for inputs of shape ``(N, *in_shape)``
    (an int ``d`` means ``(d,)``)."""
    return _abstract_init(layer, _checked_in_shape("output_shape", in_shape))[0]


def _rows(layer: Layer, params, in_shape, depth: int):
    """(indented name, output shape, param count) rows of a layer and its children."""
    if layer.name == "serial":
        shape = in_shape
        rows = []
        for child, child_params in zip(layer.children, params):
            child_rows, shape = _rows(child, child_params, shape, depth)
            rows += child_rows
        return rows, shape
    out_shape = output_shape(layer, in_shape)
    rows = [("  " * depth + layer.name, out_shape, count_params(params))]
    if len(layer.children) == 1:  # a wrapper (residual...) shares its params with its child
        rows += _rows(layer.children[0], params, in_shape, depth + 1)[0]
    return rows, out_shape


def summary(model: Layer, in_shape: Sequence[int], params=None) -> str:
    """A Keras-like table: layer, output shape (``None`` = batch axis), parameters.

    ``params`` defaults to a fresh ``model.init`` (traced only: no arrays are computed); pass
    trained params to count them.
    Returns the table as a string (print it).
    """
    in_shape = _checked_in_shape("summary", in_shape)
    if params is None:
        _, params = _abstract_init(model, in_shape)
    rows, _ = _rows(model, params, in_shape, 0)
    table = [("Layer", "Output shape", "Params")]
    table += [(name, str((None, *shape)), f"{n:,}") for name, shape, n in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [f"{table[0][0]:<{widths[0]}}  {table[0][1]:<{widths[1]}}  {table[0][2]:>{widths[2]}}", rule]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in table[1:]]
    lines += [rule, f"Total params: {count_params(params):,}"]
    return "\n".join(lines)
