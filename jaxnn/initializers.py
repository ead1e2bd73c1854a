"""Weight initializers: ``init(key, shape, dtype=None) -> Array``.

Named schemes are plain functions (``glorot_uniform(key, (fan_in, fan_out))``);
schemes with a hyper-parameter are factories returning one (``normal(0.01)``).
``dtype=None`` means JAX's default float (float32, or float64 under x64).

Variance scaling (IIT Mandi, "Practical notes & numerical stability": "proper
initialization (Xavier/He)" against saturation): keep the variance of activations
and of back-propagated gradients roughly constant across layers by choosing
``Var[W] = scale / n`` where ``n`` is fan_in, fan_out or their mean:

===============  ==========  =====================  ====================================
scheme           n           scale                  reference
===============  ==========  =====================  ====================================
glorot/xavier    (in+out)/2  1                      Glorot & Bengio 2010 (tanh, sigmoid)
he/kaiming       fan_in      2                      He et al. 2015 (ReLU)
lecun            fan_in      1                      LeCun et al. 1998 (SELU)
===============  ==========  =====================  ====================================

A uniform U(-a, a) has variance a^2/3, so its limit is ``a = sqrt(3 scale / n)``.
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
from jax import Array

from jaxnn.util import as_int, check_number
from jaxnn.spec import configured

Initializer = Callable[..., Array]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``.

    Dense ``(fan_in, fan_out)``; conv kernels HWIO ``(*spatial, in, out)`` have
    ``fan_in = prod(spatial) * in`` and ``fan_out = prod(spatial) * out``; a vector
    ``(n,)`` counts as ``(n, n)``; an int ``n`` is the shape ``(n,)``.
    """
    shape = (shape,) if as_int(shape) is not None else tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _dtype(dtype):
    return jnp.result_type(float) if dtype is None else dtype


def zeros(key: Array, shape, dtype=None) -> Array:
    """All zeros (biases)."""
    del key
    return jnp.zeros(shape, _dtype(dtype))


def ones(key: Array, shape, dtype=None) -> Array:
    """All ones (normalization scales)."""
    del key
    return jnp.ones(shape, _dtype(dtype))


@configured
def constant(value: float) -> Initializer:
    """Every entry equal to ``value``."""
    check_number("constant: value", value)

    def init(key, shape, dtype=None):
        del key
        return jnp.full(shape, value, _dtype(dtype))

    return init


@configured
def normal(std: float = 0.01, mean: float = 0.0) -> Initializer:
    """Entries drawn from N(mean, std^2)."""
    check_number("normal: std", std, 0)
    check_number("normal: mean", mean)

    def init(key, shape, dtype=None):
        return mean + std * jax.random.normal(key, shape, _dtype(dtype))

    return init


@configured
def uniform(scale: float = 0.05) -> Initializer:
    """Entries drawn from U(-scale, scale)."""
    check_number("uniform: scale", scale, 0)

    def init(key, shape, dtype=None):
        return jax.random.uniform(key, shape, _dtype(dtype), -scale, scale)

    return init


@configured
def variance_scaling(scale: float, mode: str, distribution: str, doc: str | None = None) -> Initializer:
    """Var[W] = scale / n, n = fan_in | fan_out | (fan_in + fan_out)/2 (see module doc).

    ``distribution`` is ``"normal"`` (untruncated Gaussian, so the variance is exact) or
    ``"uniform"`` (U(-a, a) with a = sqrt(3 scale / n)).  ``doc`` becomes the
    initializer's docstring.
    """
    check_number("variance_scaling: scale", scale, 0, low_open=True)
    modes = ("fan_in", "fan_out", "fan_avg")
    if mode not in modes:
        raise ValueError(f"variance_scaling: mode must be one of {modes}, got {mode!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"variance_scaling: distribution must be 'normal' or 'uniform', got {distribution!r}")

    def init(key, shape, dtype=None):
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(n, 1)
        if distribution == "normal":
            return math.sqrt(variance) * jax.random.normal(key, shape, _dtype(dtype))
        limit = math.sqrt(3.0 * variance)
        return jax.random.uniform(key, shape, _dtype(dtype), -limit, limit)

    init.__doc__ = doc
    return init


glorot_uniform = variance_scaling(1.0, "fan_avg", "uniform", "Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).")
glorot_normal = variance_scaling(1.0, "fan_avg", "normal", "Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out)).")
he_uniform = variance_scaling(2.0, "fan_in", "uniform", "He/Kaiming uniform: U(-a, a), a = sqrt(6 / fan_in).")
he_normal = variance_scaling(2.0, "fan_in", "normal", "He/Kaiming normal: N(0, 2 / fan_in).")
lecun_normal = variance_scaling(1.0, "fan_in", "normal", "LeCun normal: N(0, 1 / fan_in).")
lecun_uniform = variance_scaling(1.0, "fan_in", "uniform", "LeCun uniform: U(-a, a), a = sqrt(3 / fan_in).")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


@configured
def orthogonal(gain: float = 1.0) -> Initializer:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), via QR of a Gaussian.

    For ``shape = (*rest, n_out)`` the matrix is ``(prod(rest), n_out)``, reshaped back.
    """
    check_number("orthogonal: gain", gain)

    def init(key, shape, dtype=None):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = jax.random.normal(key, (max(rows, cols), min(rows, cols)), _dtype(dtype))
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diag(r))  # makes the distribution uniform (Mezzadri 2007)
        q = q if rows >= cols else q.T
        return gain * q.reshape(shape)

    return init


_REGISTRY = {
    "zeros": zeros, "ones": ones,
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
    "he_uniform": he_uniform, "he_normal": he_normal,
    "kaiming_uniform": he_uniform, "kaiming_normal": he_normal,
    "lecun_normal": lecun_normal, "lecun_uniform": lecun_uniform,
}


_FACTORIES = {constant: "0.1", normal: "0.01", uniform: "0.05", orthogonal: "", variance_scaling:
              "2.0, 'fan_in', 'normal'"}


def get(init: str | Initializer) -> Initializer:
    """An initializer by name (``"he_normal"``...) or the callable itself.

    A factory passed uncalled (``initializers.normal`` instead of ``initializers.normal(0.01)``)
    is a ValueError that says so.
    """
    if any(init is factory for factory in _FACTORIES):
        raise ValueError(f"initializers.{init.__name__} makes an initializer: call it, e.g. "
                         f"initializers.{init.__name__}({_FACTORIES[init]})")
    if callable(init):
        return init
    if not isinstance(init, str) or init not in _REGISTRY:
        raise ValueError(f"unknown initializer {init!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[init]
