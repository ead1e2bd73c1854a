"""The few helpers several modules share, each with one home.

Depends on jax only, so every layer of the house (optim included) may import it.
"""
from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array


def is_concrete(*values: Any) -> bool:
    """True when no argument is traced, i.e. its values can be inspected on the host now."""
    return not any(isinstance(value, jax.core.Tracer) for value in values)


def as_int(value: Any) -> int | None:
    """``value`` as a Python int if it is an integer (numpy's included, bools not), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int if it is a positive integer (numpy's included, not a bool), else
    ValueError naming ``name``."""
    number = as_int(value)
    if number is None or number < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    return number


def is_weight(leaf: Array) -> bool:
    """Weights are the leaves with 2 or more axes (dense and conv kernels, recurrent and
    embedding matrices); biases, normalization scales and PReLU slopes (vectors) and
    scalars are not.  Decides what L2 regularization and weight decay touch (IIT Mandi,
    "L2 regularization": biases are not regularized)."""
    return jnp.ndim(leaf) >= 2


def all_finite(tree: Any) -> Array:
    """A bool scalar: every element of every leaf of ``tree`` is finite (no NaN, no inf)."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


# One dispatch for a whole tree of new buffers (the compiled epoch donates its inputs).
copy_tree = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))
