"""Model builders and inspection: `mlp`, `count_params`, `summary`.

A model is just a `Layer` (usually a `serial`), so everything that takes a layer takes a
model, and its params are a plain pytree.
"""
from __future__ import annotations

import math
from typing import Sequence

import jax

from jaxnn import initializers
from jaxnn.layers import Layer, dense, dropout, serial
from jaxnn.layers import activation as activation_layer

# He init keeps ReLU-family activations' variance (He et al. 2015), LeCun init is what
# SELU's self-normalization assumes, Glorot suits the symmetric saturating ones.
_HE_FAMILY = {"relu", "leaky_relu", "elu", "gelu", "swish", "silu"}


def default_kernel_init(activation_name: str):
    """The initializer matched to an activation (lecture 001: Xavier for tanh, He for ReLU)."""
    if activation_name in _HE_FAMILY:
        return initializers.he_uniform
    if activation_name == "selu":
        return initializers.lecun_normal
    return initializers.glorot_uniform


def mlp(sizes: Sequence[int], activation: str = "relu", output_activation: str = "identity", *,
        dropout_rate: float = 0.0, kernel_init=None) -> Layer:
    """Multi-layer perceptron: ``sizes = (hidden_1, ..., hidden_L, output)``.

    ``serial(dense(h_1), act, [dropout], ..., dense(h_L), act, [dropout], dense(output),
    [output_act])``; ``mlp([C])`` has no hidden layer (a linear/logistic regression).
    ``kernel_init=None`` picks `default_kernel_init` for the hidden activation.
    """
    sizes = list(sizes)
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"mlp: sizes must be a non-empty list of positive ints (hidden widths..., output), "
                         f"got {sizes!r}")
    init = kernel_init if kernel_init is not None else default_kernel_init(activation)
    stack = []
    for width in sizes[:-1]:
        stack += [dense(width, kernel_init=init), activation_layer(activation)]
        if dropout_rate:
            stack.append(dropout(dropout_rate))
    stack.append(dense(sizes[-1], kernel_init=init if output_activation != "identity" else
                       initializers.glorot_uniform))
    if output_activation not in ("identity", "linear"):
        stack.append(activation_layer(output_activation))
    return serial(*stack)


def count_params(params) -> int:
    """Number of scalars in a params pytree."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))


def mlp_param_count(in_features: int, sizes: Sequence[int]) -> int:
    """The lectures' formula (004): ``sum_l n_l n_{l+1} + n_{l+1}`` over consecutive widths."""
    widths = [in_features, *sizes]
    return sum(n_in * n_out + n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


def _rows(layer: Layer, params, in_shape, depth: int):
    """(indented name, output shape, param count) rows of a layer and its children."""
    if layer.name == "serial":
        shape = in_shape
        rows = []
        for child, child_params in zip(layer.children, params):
            child_rows, shape = _rows(child, child_params, shape, depth)
            rows += child_rows
        return rows, shape
    out_shape = layer.init(jax.random.key(0), in_shape)[0]
    rows = [("  " * depth + layer.name, out_shape, count_params(params))]
    if len(layer.children) == 1:  # a wrapper (residual...) shares its params with its child
        rows += _rows(layer.children[0], params, in_shape, depth + 1)[0]
    return rows, out_shape


def summary(model: Layer, in_shape: Sequence[int], params=None) -> str:
    """A Keras-like table: layer, output shape (``None`` = batch axis), parameters.

    ``params`` defaults to a fresh ``model.init``; pass trained params to count them.
    Returns the table as a string (print it).
    """
    in_shape = tuple(in_shape)
    if params is None:
        _, params = model.init(jax.random.key(0), in_shape)
    rows, _ = _rows(model, params, in_shape, 0)
    table = [("Layer", "Output shape", "Params")]
    table += [(name, str((None, *shape)), f"{n:,}") for name, shape, n in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [f"{table[0][0]:<{widths[0]}}  {table[0][1]:<{widths[1]}}  {table[0][2]:>{widths[2]}}", rule]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in table[1:]]
    lines += [rule, f"Total params: {count_params(params):,}"]
    return "\n".join(lines)
