"""The few helpers several modules share, each with one home.

Depends on jax only, so every layer of the house (optim included) may import it.
"""
from __future__ import annotations

import math
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


def _short(name: str) -> str:
    """The argument's own name in ``"where: name"`` (messages read ``got name=value``)."""
    return name.rsplit(": ", 1)[-1].split(" ", 1)[0]


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int if it is a positive integer (numpy's included, not a bool), else
    ValueError naming ``name``."""
    number = as_int(value)
    if number is None or number < 1:
        raise ValueError(f"{name} must be a positive int, got {_short(name)}={value!r}")
    return number


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float if it is a real number (numpy's and 0-d arrays included, bools and
    strings not) within ``[low, high]`` (an end is left out when ``*_open``), else ValueError
    naming ``name`` and the interval.  A traced value cannot be inspected and is returned as is."""
    if not is_concrete(value):
        return value
    number = None
    if not isinstance(value, (bool, str)) and hasattr(value, "__float__") and jnp.ndim(value) == 0:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    inside = number is not None and (low is None and high is None or not math.isnan(number)) and (
        low is None or (number > low if low_open else number >= low)) and (
        high is None or (number < high if high_open else number <= high))
    if not inside:
        if low is None and high is None:
            wanted = ""
        elif high is None:
            wanted = f"{'>' if low_open else '>='} {low}"
        elif low is None:
            wanted = f"{'<' if high_open else '<='} {high}"
        else:
            wanted = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        if number is None:  # the wrong type: say so first
            wanted = f"a number {wanted}".rstrip()
        raise ValueError(f"{name} must be {wanted}, got {_short(name)}={value!r}")
    return number


def as_numeric(what: str, value: Any) -> Array:
    """``value`` as a jax array of numbers or bools (lists and numpy arrays are converted; jax
    arrays, traced ones included, pass as they are), else ValueError naming ``what``."""
    array = value
    if not isinstance(value, jax.Array):
        try:
            array = jnp.asarray(value)
        except (TypeError, ValueError):
            array = None
    if array is None or not (jnp.issubdtype(array.dtype, jnp.number) or jnp.issubdtype(array.dtype, jnp.bool_)):
        got = f"dtype {value.dtype}" if hasattr(value, "dtype") else f"{type(value).__name__} {value!r:.60}"
        raise ValueError(f"{what} must be a numeric array, got {got}; convert strings or objects to numbers "
                         "first (class names to integer labels 0..C-1)")
    return array


def as_shape(in_shape: Any, what: str) -> tuple[int, ...]:
    """The per-example shape ``in_shape`` as a tuple of positive ints, else ValueError naming
    ``what`` and the expected form.  An int ``d`` means ``(d,)``; numpy integers are ints.

    Every layer's ``init`` takes its ``in_shape`` through here (see `jaxnn.layers.describe`).
    """
    if as_int(in_shape) is not None:
        in_shape = (in_shape,)
    if hasattr(in_shape, "dtype") and (jnp.ndim(in_shape) >= 2 or not jnp.issubdtype(in_shape.dtype, jnp.integer)):
        # the data itself, not its shape
        raise ValueError(f"{what}: in_shape must be the per-example input shape, got an array of shape "
                         f"{jnp.shape(in_shape)}; pass x.shape[1:] (the shape without the batch axis)")
    try:
        sizes = tuple(as_int(d) for d in in_shape)
    except TypeError:
        sizes = None
    if sizes is None or any(d is None or d < 1 for d in sizes):
        raise ValueError(f"{what}: in_shape must be the per-example input shape, an int or a tuple of "
                         f"positive ints without the batch axis, such as 64, (64,) or (8, 8, 1); "
                         f"got {in_shape!r:.80}")
    return sizes


def as_key(key: Any, what: str) -> Array:
    """A PRNG key: a typed key (``jax.random.key(0)``) or a legacy uint32 one passes, an int is a
    seed (``jax.random.key(key)``); anything else is a ValueError naming ``what``."""
    if as_int(key) is not None:
        return jax.random.key(key)
    if isinstance(key, jax.Array) and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                                       or (key.dtype == jnp.uint32 and key.ndim >= 1)):
        return key
    raise ValueError(f"{what}: key must be a PRNG key such as jax.random.key(0), or an int seed; "
                     f"got {key!r:.80}")


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


def finite_or_none(value: Any) -> Any:
    """``value`` (dicts, lists, tuples of numbers) with every NaN or infinite float replaced
    by None, so that it is strict JSON (``null``); numpy numbers and arrays become Python ones."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return finite_or_none(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def tqdm_or_none():
    """tqdm's progress bar class, or None when the optional extra is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm
