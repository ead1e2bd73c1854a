"""Feature scaling, one-hot labels and mini-batches.

* Feature scaling (Liverpool, "Gradient descent: remarks", normalization and
  standardization) as pure fit/transform/inverse triples:
  min-max ``x' = a + (x - min)(b - a) / (max - min)`` and standardization
  ``x' = (x - mu) / sigma``, the statistics taken per feature over the first axis.
  ``_SCALERS`` is the one registry of them by name (``load``'s ``scale=``).
* :func:`one_hot` and a shuffling mini-batch generator :func:`batches` for notebooks
  (``jaxnn.train`` shuffles on device itself).
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
import numpy as np

from jaxnn.util import as_int, as_key, as_numeric, check_number, check_positive_int, is_concrete

ArrayLike = jax.typing.ArrayLike


# ============================================================================ scalers

class MinMaxState(NamedTuple):
    """Fitted min-max scaler: per-feature ``data_min``, ``data_max`` and the target
    interval ``feature_range = (a, b)``."""
    data_min: Array
    data_max: Array
    feature_range: tuple[float, float]


class StandardState(NamedTuple):
    """Fitted standardizer: per-feature ``mean`` and ``std`` (population, ddof=0), with
    ``std = 1`` for constant features."""
    mean: Array
    std: Array


def _float_array(x: ArrayLike, what: str = "x") -> Array:
    """``x`` as a jax array of a float dtype (integers become the default float)."""
    x = as_numeric(what, x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{what} must have shape (N, ...) with N >= 1 examples; got {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _constant(x: Array) -> Array:
    """Mask of features that take one value over the examples (exactly ``max == min``)."""
    return jnp.max(x, axis=0) == jnp.min(x, axis=0)


def minmax_fit(x: ArrayLike, feature_range: tuple[float, float] = (0.0, 1.0)) -> MinMaxState:
    """Per-feature minimum and maximum of ``x``: ``(N, *F)`` -> state with ``(*F,)`` arrays."""
    low, high = feature_range
    check_number("feature_range: a", low)
    check_number("feature_range: b", high)
    if not low < high:
        raise ValueError(f"feature_range must be (a, b) with a < b; got {feature_range}")
    x = _float_array(x)
    return MinMaxState(jnp.min(x, axis=0), jnp.max(x, axis=0), (float(low), float(high)))


def _fitted_features(x: ArrayLike, features: Array, what: str) -> Array:
    """``x`` as a float array whose trailing axes are the fitted ``features`` shape ``F``:
    ``(N, *F)`` or one example ``F``.  Anything else would broadcast into a wrong result."""
    x = _float_array(x, what)
    shape = jnp.shape(features)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{what}: the scaler was fitted on features of shape {shape}, got x of shape {x.shape}; "
                         f"pass x of shape (N, {', '.join(map(str, shape))})")
    return x


def _minmax_range(state: MinMaxState) -> Array:
    """``max - min``, with 1 for constant features (scikit-learn's choice)."""
    data_range = state.data_max - state.data_min
    return jnp.where(data_range == 0, 1, data_range)


def minmax_transform(state: MinMaxState, x: ArrayLike) -> Array:
    """``x' = a + (x - min)(b - a) / (max - min)`` (Liverpool, normalization), per feature.

    Fitted data lands in ``[a, b]``; a constant feature (``max == min``) maps to ``a``
    rather than dividing by zero.  New data may fall outside ``[a, b]``.
    """
    low, high = state.feature_range
    return low + (_fitted_features(x, state.data_min, "minmax_transform") - state.data_min) * (high - low) \
        / _minmax_range(state)


def minmax_inverse(state: MinMaxState, x_scaled: ArrayLike) -> Array:
    """Undo :func:`minmax_transform`: ``x = min + (x' - a)(max - min) / (b - a)``."""
    low, high = state.feature_range
    x_scaled = _fitted_features(x_scaled, state.data_min, "minmax_inverse")
    return state.data_min + (x_scaled - low) * _minmax_range(state) / (high - low)


def standard_fit(x: ArrayLike) -> StandardState:
    """Per-feature mean and population standard deviation of ``x`` ``(N, *F)``.

    A constant feature gets ``std = 1`` (as scikit-learn's StandardScaler), so it is
    centred to 0 instead of divided by zero.
    """
    x = _float_array(x)
    std = jnp.where(_constant(x), 1, jnp.std(x, axis=0)).astype(x.dtype)
    return StandardState(jnp.mean(x, axis=0), std)


def standard_transform(state: StandardState, x: ArrayLike) -> Array:
    """``x' = (x - mu) / sigma`` (Liverpool, standardization): zero mean, unit variance on the fitted data."""
    return (_fitted_features(x, state.mean, "standard_transform") - state.mean) / state.std


def standard_inverse(state: StandardState, x_scaled: ArrayLike) -> Array:
    """Undo :func:`standard_transform`: ``x = x' sigma + mu``."""
    return _fitted_features(x_scaled, state.mean, "standard_inverse") * state.std + state.mean


_SCALERS = {"standard": (standard_fit, standard_transform),
            "minmax": (minmax_fit, minmax_transform)}


# ============================================================================ labels, batches

def one_hot(labels: ArrayLike, n_classes: int, dtype=None) -> Array:
    """One-hot rows: integer labels ``(N,)`` -> ``(N, n_classes)``, ``1`` at each label.

    dtype: defaults to JAX's default float.  Labels outside ``[0, n_classes)`` raise
    ``ValueError`` (checked when the labels are concrete, i.e. outside ``jit``).
    """
    labels = as_numeric("labels", labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}; cast whole-number labels "
                         "with labels.astype(int)")
    n_classes = check_positive_int("n_classes", n_classes)
    if labels.size and is_concrete(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            raise ValueError(f"labels must lie in [0, {n_classes - 1}] for n_classes="
                             f"{n_classes}; got values in [{low}, {high}]")
    return jax.nn.one_hot(labels, n_classes, dtype=dtype or jnp.result_type(float))


def batches(x: ArrayLike, y: ArrayLike, batch_size: int, *, key: Array | None = None,
            shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple]:
    """Mini-batches ``(x[idx], y[idx])`` covering the data once (one epoch).

    x: ``(N, ...)``, y: ``(N, ...)``, numpy or jax arrays (batches are of the same kind).
    shuffle: visit the examples in the order ``jax.random.permutation(key, N)``; pass a
    fresh ``key`` each epoch (an int is a seed).  drop_last: skip the final batch when it has fewer than
    ``batch_size`` examples (otherwise it is yielded, smaller).
    Arguments are checked here, before the first batch is asked for.
    """
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    y = y if isinstance(y, jax.Array) else np.asarray(y)
    n = len(x)
    if n == 0:
        raise ValueError("x is empty; batches need at least one example")
    if len(y) != n:
        raise ValueError(f"x and y must have the same number of examples; got {n} and {len(y)}")
    if as_int(batch_size) is None or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, {n}] (the number of examples), an int; "
                         f"got {batch_size!r}")
    if shuffle and key is None:
        raise ValueError("shuffle=True needs a key, e.g. key=jax.random.key(epoch); "
                         "or pass shuffle=False")
    order = np.asarray(jax.random.permutation(as_key(key, "batches"), n)) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return ((x[order[i:i + batch_size]], y[order[i:i + batch_size]])
            for i in range(0, stop, batch_size))
