"""Synthetic datasets from an explicit ``jax.random`` key.

Classification (``xor``, ``two_moons``, ``circles``, ``spirals``, ``blobs``) and
regression (``function_1d``, ``polynomial``) generators return jax arrays: ``x`` in JAX's
default float dtype, class labels int32.  Same key, same data; an int key is a seed
(``jax.random.key(key)``), as in ``fit``.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.datasets.preprocessing import Array, ArrayLike, _float_array
from jaxnn.util import as_int, as_key, check_number, check_positive_int


def _check_generator_args(key, n: int, noise: float, min_n: int = 1) -> Array:
    """The generator's key (an int is a seed, as in ``fit``), after checking ``n`` and ``noise``."""
    if as_int(n) is None or n < min_n:
        raise ValueError(f"n must be an int >= {min_n}; got {n!r}")
    check_number("noise", noise, 0)
    return as_key(key, "datasets")


def _class_counts(n: int, n_classes: int) -> list[int]:
    """``n`` split over classes as evenly as possible, the first classes taking extras."""
    return [n // n_classes + (k < n % n_classes) for k in range(n_classes)]


def _points(x: np.ndarray, y: np.ndarray) -> tuple[Array, Array]:
    """A noiseless layout built with numpy, as jax arrays: default float, int32 labels."""
    return jnp.asarray(x, dtype=jnp.result_type(float)), jnp.asarray(y, dtype=jnp.int32)


@jax.jit
def _shuffle_and_jitter(key: Array, x: Array, y: Array, noise: float) -> tuple[Array, Array]:
    """Random order, then ``x + noise * N(0, 1)`` (one compiled program per shape)."""
    order_key, noise_key = jax.random.split(key)
    order = jax.random.permutation(order_key, x.shape[0])
    x, y = x[order], y[order]
    return x + noise * jax.random.normal(noise_key, x.shape, x.dtype), y


@functools.partial(jax.jit, static_argnums=1)
def _xor_points(key: Array, n: int, noise: float) -> tuple[Array, Array]:
    quadrant_key, magnitude_key, noise_key = jax.random.split(key, 3)
    quadrant = jax.random.permutation(quadrant_key, jnp.arange(n) % 4)
    signs = jnp.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])[quadrant]
    magnitude = 1 - jax.random.uniform(magnitude_key, (n, 2))             # in (0, 1]
    x = signs * magnitude
    y = (quadrant % 2).astype(jnp.int32)                                   # quadrants 2, 4
    return x + noise * jax.random.normal(noise_key, x.shape, x.dtype), y


def xor(key: Array, n: int, noise: float = 0.0) -> tuple[Array, Array]:
    """The XOR problem: ``x`` ``(n, 2)`` in ``[-1, 1]^2``, ``y = 1`` iff ``x0 * x1 < 0``.

    Each point's quadrant is drawn so the four quadrants get ``n / 4`` points each (±1),
    hence class counts differ by at most 1; coordinates' magnitudes are uniform in
    ``(0, 1]``.  Labels follow the noiseless point; ``noise`` (std of added Gaussian
    noise) then blurs the boundary.  Not linearly separable (Minsky & Papert, 1969).
    """
    key = _check_generator_args(key, n, noise)
    return _xor_points(key, int(n), noise)


def two_moons(key: Array, n: int, noise: float = 0.0) -> tuple[Array, Array]:
    """Two interleaved half circles, as scikit-learn's ``make_moons``: ``(n, 2)``, labels.

    Class 0 (``n // 2`` points): ``(cos t, sin t)``, unit circle centred at ``(0, 0)``;
    class 1 (the rest): ``(1 - cos t, 0.5 - sin t)``, unit circle centred at
    ``(1, 0.5)``; ``t`` evenly spaced in ``[0, pi]``.  Shuffled, then Gaussian ``noise``.
    """
    key = _check_generator_args(key, n, noise, min_n=2)
    n_outer = n // 2
    t_outer, t_inner = np.linspace(0, np.pi, n_outer), np.linspace(0, np.pi, n - n_outer)
    x = np.concatenate([np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
                        np.stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)])
    return _shuffle_and_jitter(key, *_points(x, np.arange(n) >= n_outer), noise)


def circles(key: Array, n: int, noise: float = 0.0, factor: float = 0.5
            ) -> tuple[Array, Array]:
    """Two concentric circles, as scikit-learn's ``make_circles``: ``(n, 2)``, labels.

    Class 0 (``n // 2`` points): radius 1; class 1 (the rest): radius ``factor``; angles
    evenly spaced in ``[0, 2 pi)``.  Shuffled, then Gaussian ``noise``.
    """
    key = _check_generator_args(key, n, noise, min_n=2)
    check_number("factor", factor)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1); "
                         f"got {factor}")
    n_outer = n // 2
    angle = np.concatenate([np.linspace(0, 2 * np.pi, m, endpoint=False)
                            for m in (n_outer, n - n_outer)])
    radius = np.where(np.arange(n) < n_outer, 1.0, factor)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _shuffle_and_jitter(key, *_points(x, np.arange(n) >= n_outer), noise)


def spirals(key: Array, n: int, noise: float = 0.0, n_classes: int = 2,
            turns: float = 1.0) -> tuple[Array, Array]:
    """Interleaved spiral arms, one per class: ``(n, 2)``, labels (as CS231n's example).

    Arm ``k`` of ``K``: ``r (cos theta, sin theta)`` with ``r`` evenly spaced in
    ``(0, 1]`` and ``theta = 2 pi (turns r + k / K)``.  Class counts differ by at most 1.
    Shuffled, then Gaussian ``noise``.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    check_number("turns", turns)
    key = _check_generator_args(key, n, noise, min_n=n_classes)
    if n_classes < 2 or turns <= 0:
        raise ValueError(f"need n_classes >= 2 and turns > 0; got {n_classes}, {turns}")
    counts = _class_counts(n, n_classes)
    y = np.repeat(np.arange(n_classes), counts)
    r = np.concatenate([np.arange(1, count + 1) / count for count in counts])
    theta = 2 * np.pi * (turns * r + y / n_classes)
    x = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _shuffle_and_jitter(key, *_points(x, y), noise)


@functools.partial(jax.jit, static_argnums=3)
def _clusters(key: Array, centers: Array, std: Array, n: int) -> tuple[Array, Array]:
    order_key, noise_key = jax.random.split(key)
    labels = np.repeat(np.arange(len(std)), _class_counts(n, len(std)))
    y = jax.random.permutation(order_key, jnp.asarray(labels, jnp.int32))
    noise = jax.random.normal(noise_key, (n, centers.shape[1]), centers.dtype)
    return centers[y] + std[y][:, None] * noise, y


def blobs(key: Array, n: int, centers: int | ArrayLike = 3, std: float | ArrayLike = 1.0,
          *, n_features: int = 2, center_box: tuple[float, float] = (-10.0, 10.0)
          ) -> tuple[Array, Array]:
    """Isotropic Gaussian clusters, as scikit-learn's ``make_blobs``.

    centers: an int ``K`` (centres drawn uniformly in ``center_box ** n_features``) or a
    ``(K, D)`` array.  std: one standard deviation, or one per cluster ``(K,)``.
    Returns ``x = centers[y] + std[y] * N(0, I)`` ``(n, D)`` and labels ``y`` ``(n,)``,
    class counts differing by at most 1, in random order.
    """
    centers_key, key = jax.random.split(as_key(key, "blobs"))
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be >= 1 or a (K, D) array; got {centers}")
        low, high = center_box
        centers = jax.random.uniform(centers_key, (int(centers), n_features),
                                     minval=low, maxval=high)
    centers = _float_array(centers, "centers")
    if centers.ndim != 2:
        raise ValueError(f"centers must have shape (K, D); got {centers.shape}")
    key = _check_generator_args(key, n, 0.0, min_n=centers.shape[0])
    std = jnp.broadcast_to(jnp.asarray(std, centers.dtype), centers.shape[:1])
    if bool(jnp.any(std < 0)):
        raise ValueError(f"std must be >= 0; got {std}")
    return _clusters(key, centers, std, int(n))


def _sin(x: Array) -> Array:
    """``sin(pi x)``: one full period on ``[-1, 1]``."""
    return jnp.sin(jnp.pi * x)


def _step(x: Array) -> Array:
    """Heaviside step: 1 for ``x > 0``, else 0."""
    return (x > 0).astype(x.dtype)


FUNCTIONS_1D: dict[str, Callable[[Array], Array]] = {
    "sin": _sin, "abs": jnp.abs, "step": _step, "square": jnp.square,
}
"""Named targets of :func:`function_1d`: ``sin`` = sin(pi x), ``abs`` = |x|,
``step`` = 1[x > 0], ``square`` = x**2."""


def _uniform_inputs(key: Array, n: int, x_range: tuple[float, float]) -> Array:
    low, high = x_range
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high; got {x_range}")
    return jax.random.uniform(key, (n, 1), minval=low, maxval=high)


def function_1d(key: Array, n: int, fn: str | Callable[[Array], Array] = "sin",
                noise: float = 0.0, x_range: tuple[float, float] = (-1.0, 1.0)
                ) -> tuple[Array, Array]:
    """Samples of a 1-D function for regression (universal approximation demos).

    ``x`` ``(n, 1)`` uniform in ``x_range`` (unsorted); ``y = fn(x) + noise * N(0, 1)``
    ``(n, 1)``.  fn: a name in :data:`FUNCTIONS_1D` or an elementwise ``jnp`` function.
    """
    key = _check_generator_args(key, n, noise)
    if isinstance(fn, str):
        if fn not in FUNCTIONS_1D:
            raise ValueError(f"unknown function {fn!r}; known: {', '.join(FUNCTIONS_1D)} "
                             f"(or pass a callable)")
        fn = FUNCTIONS_1D[fn]
    elif not callable(fn):
        raise ValueError(f"fn must be a name in {', '.join(FUNCTIONS_1D)} or an elementwise function such as "
                         f"jnp.cos, got {fn!r}")
    x_key, noise_key = jax.random.split(key)
    x = _uniform_inputs(x_key, n, x_range)
    y = fn(x)
    return x, y + noise * jax.random.normal(noise_key, y.shape, y.dtype)


def polynomial(key: Array, n: int, coefficients: Sequence[float], noise: float = 0.0,
               x_range: tuple[float, float] = (-1.0, 1.0)) -> tuple[Array, Array]:
    """Samples of ``y = w0 + w1 x + w2 x^2 + ... + noise * N(0, 1)`` (Liverpool's polynomial
    basis functions), ``coefficients = (w0, w1, ...)`` in increasing degree.

    Returns ``x`` ``(n, 1)`` uniform in ``x_range`` and ``y`` ``(n, 1)``.
    """
    key = _check_generator_args(key, n, noise)
    coefficients = jnp.asarray(coefficients, dtype=jnp.result_type(float))
    if coefficients.ndim != 1 or coefficients.size == 0:
        raise ValueError(f"coefficients must be a non-empty sequence (w0, w1, ...); "
                         f"got shape {coefficients.shape}")
    x_key, noise_key = jax.random.split(key)
    x = _uniform_inputs(x_key, n, x_range)
    y = jnp.polyval(coefficients[::-1], x)                  # Horner's rule
    return x, y + noise * jax.random.normal(noise_key, y.shape, y.dtype)
