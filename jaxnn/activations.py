"""Activation functions a = sigma(z) and their derivatives written by hand.

Every elementwise activation comes with ``derivative(z) = d sigma / dz`` as a function of
the pre-activation ``z`` (IIT Mandi, "Activation Functions" and "Common activation
derivatives"; UMT Lahore and HSE, "Activation functions"); the backward pass multiplies
it into the upstream gradient: ``dL/dz = dL/da * sigma'(z)``.  ``softmax`` and
``log_softmax`` act on the last axis and are not elementwise, so they carry a
vector-Jacobian product instead.  `get` is the one registry for names.

Numerically stable forms: ``sigmoid`` never exponentiates a positive number,
``softplus`` is ``logaddexp(z, 0)``, ``softmax`` subtracts the row maximum (IIT Mandi,
"Practical notes & numerical stability": the log-sum-exp trick ``s' = s - max_k s_k``),
``elu`` only exponentiates the negative part.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import erf
from jax import Array

from jaxnn.util import check_number


class Activation(NamedTuple):
    """``fn(z) -> a``; ``derivative(z) -> da/dz`` (elementwise, else None); ``vjp(z, da) -> dz``;
    ``kernel_init``: the name of the initializer matched to it (see `KERNEL_INIT`)."""

    fn: Callable[[Array], Array]
    derivative: Callable[[Array], Array] | None
    vjp: Callable[[Array, Array], Array]
    kernel_init: str = "glorot_uniform"


# --- elementwise activations and their derivatives -------------------------------------

def identity(z: Array) -> Array:
    """a = z."""
    return z


def d_identity(z: Array) -> Array:
    return jnp.ones_like(z)


def relu(z: Array) -> Array:
    """a = max(z, 0).

    Through ``jax.nn.relu``: a ``max`` whose autodiff derivative at 0 is 0 (plain
    ``jnp.maximum`` would split the tie, 0.5), and on XLA:CPU about 2x faster than
    ``where(z > 0, z, 0)``.  The derivative of the hand-written path is `d_relu`.
    """
    return jax.nn.relu(z)


def d_relu(z: Array) -> Array:
    """1 for z > 0, else 0 (the subgradient 0 at z = 0, as jax.nn.relu)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: Array, alpha: float = 0.01) -> Array:
    """a = z for z >= 0, alpha z otherwise."""
    return jnp.where(z >= 0, z, alpha * z)


def d_leaky_relu(z: Array, alpha: float = 0.01) -> Array:
    return jnp.where(z >= 0, 1.0, alpha).astype(z.dtype)


def elu(z: Array, alpha: float = 1.0) -> Array:
    """a = z for z > 0, alpha (e^z - 1) otherwise (Clevert et al. 2016)."""
    # where(), not minimum(): autodiff of minimum splits the gradient at the tie z = 0
    return jnp.where(z > 0, z, alpha * jnp.expm1(jnp.where(z > 0, 0.0, z)))


def d_elu(z: Array, alpha: float = 1.0) -> Array:
    return jnp.where(z > 0, 1.0, alpha * jnp.exp(jnp.where(z > 0, 0.0, z))).astype(z.dtype)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(z: Array) -> Array:
    """a = lambda elu(z, alpha) with the self-normalizing constants (Klambauer et al. 2017)."""
    return _SELU_SCALE * elu(z, _SELU_ALPHA)


def d_selu(z: Array) -> Array:
    return _SELU_SCALE * d_elu(z, _SELU_ALPHA)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(z: Array, approximate: bool = False) -> Array:
    """a = z Phi(z) (Hendrycks & Gimpel 2016); ``approximate=True`` uses the tanh form.

    Exact is PyTorch's default; ``jax.nn.gelu`` defaults to the tanh approximation.
    """
    if approximate:
        return 0.5 * z * (1 + jnp.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3)))
    return 0.5 * z * (1 + erf(z / math.sqrt(2.0)))


def d_gelu(z: Array, approximate: bool = False) -> Array:
    """Phi(z) + z phi(z); for the tanh form 0.5(1+t) + 0.5 z (1-t^2) u'(z)."""
    if approximate:
        t = jnp.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z**2)
        return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * du
    cdf = 0.5 * (1 + erf(z / math.sqrt(2.0)))
    pdf = jnp.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return cdf + z * pdf


def sigmoid(z: Array) -> Array:
    """a = 1 / (1 + e^-z), via XLA's logistic op, which never overflows (for z << 0 it
    does not form e^-z).  A where/abs/exp form is as stable but ~30% slower in an LSTM."""
    return jax.lax.logistic(z)


def d_sigmoid(z: Array) -> Array:
    """sigma(z) (1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: Array) -> Array:
    """a = tanh z."""
    return jnp.tanh(z)


def d_tanh(z: Array) -> Array:
    """1 - tanh^2 z."""
    return 1 - jnp.tanh(z) ** 2


def swish(z: Array) -> Array:
    """a = z sigma(z) (Ramachandran et al. 2017; = SiLU)."""
    return z * sigmoid(z)


def d_swish(z: Array) -> Array:
    """sigma(z) (1 + z (1 - sigma(z)))."""
    s = sigmoid(z)
    return s * (1 + z * (1 - s))


def softplus(z: Array) -> Array:
    """a = log(1 + e^z), as logaddexp(z, 0)."""
    return jnp.logaddexp(z, 0.0)


def d_softplus(z: Array) -> Array:
    """sigma(z)."""
    return sigmoid(z)


# --- activations over the last axis ----------------------------------------------------

def softmax(z: Array) -> Array:
    """a_k = e^{z_k} / sum_j e^{z_j} over the last axis, with the row max subtracted."""
    shifted = z - jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=-1, keepdims=True)


def softmax_vjp(z: Array, da: Array) -> Array:
    """dL/dz = s * (da - <da, s>), since ds_i/dz_j = s_i (delta_ij - s_j)."""
    s = softmax(z)
    return s * (da - jnp.sum(da * s, axis=-1, keepdims=True))


def log_softmax(z: Array) -> Array:
    """a_k = z_k - log sum_j e^{z_j} (log-sum-exp with the max subtracted)."""
    shifted = z - jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))


def log_softmax_vjp(z: Array, da: Array) -> Array:
    """dL/dz = da - softmax(z) sum_k da_k."""
    return da - softmax(z) * jnp.sum(da, axis=-1, keepdims=True)


# --- the registry ----------------------------------------------------------------------

def _elementwise(fn, derivative, kernel_init: str) -> Activation:
    return Activation(fn, derivative, lambda z, da: da * derivative(z), kernel_init)


# The initializer that keeps the variance of activations through a layer (IIT Mandi,
# "Xavier/He initialization"): He for the ReLU family, whose negative half is (nearly) zero
# (He et al. 2015); LeCun for SELU, as its self-normalization assumes (Klambauer et al. 2017);
# Glorot for the symmetric saturating ones and the identity (Glorot & Bengio 2010).
KERNEL_INIT: dict[str, str] = {
    **{name: "he_uniform" for name in ("relu", "leaky_relu", "elu", "gelu", "swish", "silu")},
    "selu": "lecun_normal",
}


_REGISTRY: dict[str, tuple[Callable, Callable | None, Callable | None]] = {
    # name: (fn, derivative or None, vjp for non-elementwise ones)
    "identity": (identity, d_identity, None),
    "linear": (identity, d_identity, None),
    "relu": (relu, d_relu, None),
    "leaky_relu": (leaky_relu, d_leaky_relu, None),
    "elu": (elu, d_elu, None),
    "selu": (selu, d_selu, None),
    "gelu": (gelu, d_gelu, None),
    "swish": (swish, d_swish, None),
    "silu": (swish, d_swish, None),
    "softplus": (softplus, d_softplus, None),
    "sigmoid": (sigmoid, d_sigmoid, None),
    "tanh": (tanh, d_tanh, None),
    "softmax": (softmax, None, softmax_vjp),
    "log_softmax": (log_softmax, None, log_softmax_vjp),
}

# Keyword hyper-parameters each activation accepts (e.g. get("leaky_relu", alpha=0.2)).
_HYPERPARAMETERS = {"leaky_relu": {"alpha"}, "elu": {"alpha"}, "gelu": {"approximate"}}

NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get(name: str, **hyperparameters) -> Activation:
    """The `Activation` registered as ``name``, with hyper-parameters bound.

    >>> get("leaky_relu", alpha=0.2).fn(jnp.array([-1.0, 2.0]))
    Array([-0.2,  2. ], dtype=float32)
    """
    if callable(name) and not isinstance(name, str):
        given = getattr(name, "__name__", repr(name))
        raise ValueError(f"activations are chosen by name, got the function {given!r}; pass its name, "
                         f"e.g. {given if given in _REGISTRY else 'relu'!r}, one of: {', '.join(NAMES)}")
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(NAMES)}")
    unexpected = set(hyperparameters) - _HYPERPARAMETERS.get(name, set())
    if unexpected:
        allowed = sorted(_HYPERPARAMETERS.get(name, set())) or "none"
        raise ValueError(f"activation {name!r} got unexpected hyper-parameters {sorted(unexpected)}; "
                         f"it accepts: {allowed}")
    if "alpha" in hyperparameters:
        check_number(f"{name}: alpha", hyperparameters["alpha"])
    if not isinstance(hyperparameters.get("approximate", False), bool):
        raise ValueError(f"gelu: approximate must be True or False, got {hyperparameters['approximate']!r}")
    fn, derivative, vjp = _REGISTRY[name]
    kernel_init = KERNEL_INIT.get(name, "glorot_uniform")
    if hyperparameters:
        fn = functools.partial(fn, **hyperparameters)
        derivative = functools.partial(derivative, **hyperparameters)
    if derivative is None:
        return Activation(fn, None, vjp, kernel_init)
    return _elementwise(fn, derivative, kernel_init)
