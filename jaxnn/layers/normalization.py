"""Layer normalization (Ba, Kiros & Hinton 2016, "Layer Normalization", arXiv:1607.06450).

Each example is normalized by its own mean and variance over the feature axes (not over
the batch, unlike batch norm), so training and inference compute the same thing and the
batch size does not matter.  For one example with features ``x_1..x_D``::

    mu = mean(x)                     sigma = sqrt(mean((x - mu)^2) + epsilon)
    xhat = (x - mu) / sigma          y = scale * xhat + bias

The variance is the biased (1/D) one, as in the paper and ``torch.nn.LayerNorm``.

Backward.  With ``dxhat = dy * scale`` and means over the D normalized features,
``dL/dscale = sum_batch dy * xhat``, ``dL/dbias = sum_batch dy`` and::

    dL/dx = (1 / sigma) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

Derivation: ``d xhat_j / d x_i = (1/sigma) (delta_ij - 1/D - xhat_i xhat_j / D)``
(the ``-1/D`` from the mean, the last term from sigma, using
``d sigma / d x_i = xhat_i / D``); contracting with ``dxhat_j`` gives the formula.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax import Array

from jaxnn.layers.base import Layer, check_param_dict, describe
from jaxnn.util import as_int, check_number
from jaxnn.spec import configured

Axes = tuple[int, ...]


def _axes_spec(axis: int | Sequence[int]) -> tuple[int, ...]:
    """``axis`` as a non-empty tuple of ints (validated at construction)."""
    try:
        axes = (axis,) if as_int(axis) is not None else tuple(axis)
    except TypeError:
        axes = ()
    if not axes or not all(as_int(a) is not None for a in axes):
        raise ValueError(f"layer_norm: axis must be an int or a non-empty tuple of ints, got {axis!r}")
    return tuple(as_int(a) for a in axes)


def _normalized_axes(axes: tuple[int, ...], ndim: int) -> Axes:
    """Sorted negative axes of a batch of ``ndim`` axes; the batch axis 0 is not allowed.

    Axes follow numpy's convention on the batched array: ``1..ndim-1`` or ``-1..-(ndim-1)``.
    """
    if ndim < 2:
        raise ValueError(f"layer_norm expects inputs of shape (N, ..., D) with at least one feature axis, "
                         f"got inputs with {ndim} axes (batch axis included)")
    negative = []
    for a in axes:
        neg = a - ndim if a >= 0 else a
        if not -ndim < neg <= -1:
            raise ValueError(f"layer_norm: axis {a} is out of range for inputs with {ndim} axes "
                             f"(batch axis included); use an axis in 1..{ndim - 1} or -1..-{ndim - 1}, "
                             "never the batch axis 0")
        negative.append(neg)
    if len(set(negative)) != len(negative):
        raise ValueError(f"layer_norm: axis {axes} names the same axis twice")
    return tuple(sorted(negative))


def _feature_shape(x_shape: tuple[int, ...], axes: Axes) -> tuple[int, ...]:
    """Sizes of the normalized axes: the shape of ``scale`` and ``bias``."""
    return tuple(x_shape[a] for a in axes)


def _broadcastable(p: Array, ndim: int, axes: Axes) -> Array:
    """``p`` of the feature shape reshaped to broadcast against a batch of ``ndim`` axes."""
    sizes = iter(p.shape)
    return p.reshape(tuple(next(sizes) if i - ndim in axes else 1 for i in range(ndim)))


def _standardize(x: Array, axes: Axes, epsilon: float) -> tuple[Array, Array]:
    """``(xhat, 1/sigma)``: x minus its mean over ``axes``, divided by sigma = sqrt(var + eps)."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    variance = jnp.mean(centered * centered, axis=axes, keepdims=True)
    inv_sigma = jax.lax.rsqrt(variance + epsilon)
    return centered * inv_sigma, inv_sigma


def _init_params(in_shape: tuple[int, ...], axes_spec: tuple[int, ...], use_scale: bool,
                 use_bias: bool) -> dict:
    """``{"scale": ones(F), "bias": zeros(F)}`` (the identity affine map) for inputs
    ``(N, *in_shape)``, F the sizes of the normalized axes; a key is left out when its
    ``use_`` flag is off."""
    axes = _normalized_axes(axes_spec, len(in_shape) + 1)
    features = _feature_shape((None, *in_shape), axes)
    params = {}
    if use_scale:
        params["scale"] = jnp.ones(features)
    if use_bias:
        params["bias"] = jnp.zeros(features)
    return params


def _checked_axes(axes_spec: tuple[int, ...], params: dict, x: Array) -> Axes:
    """The normalized axes of ``x`` (N, ..., F), after checking that ``scale`` and ``bias``
    have the shape F of those axes."""
    axes = _normalized_axes(axes_spec, x.ndim)
    features = _feature_shape(x.shape, axes)
    for name in ("scale", "bias"):
        if name in params and params[name].shape != features:
            raise ValueError(f"layer_norm: input of shape {x.shape} normalized over axes {axes} has "
                             f"features {features}, but params[{name!r}] has shape {params[name].shape}; "
                             f"expected input (N, ..., {', '.join(map(str, params[name].shape))})")
    return axes


def _layer_norm_forward(params: dict, x: Array, axes: Axes, epsilon: float, use_scale: bool,
                        use_bias: bool) -> Array:
    """y = scale * xhat + bias, xhat = (x - mean) / sqrt(var + epsilon) over ``axes``
    (Ba et al. 2016). x, y: (N, ..., F)."""
    y, _ = _standardize(x, axes, epsilon)
    if use_scale:
        y = y * _broadcastable(params["scale"], x.ndim, axes)
    if use_bias:
        y = y + _broadcastable(params["bias"], x.ndim, axes)
    return y


def _affine_grads(dy: Array, xhat: Array, axes: Axes, use_scale: bool, use_bias: bool) -> dict:
    """``dscale = sum dy * xhat`` and ``dbias = sum dy``, summed over every axis of the batch
    that is not normalized; each of shape F."""
    batch_axes = tuple(i for i in range(dy.ndim) if i - dy.ndim not in axes)
    grads = {}
    if use_scale:
        grads["scale"] = jnp.sum(dy * xhat, axis=batch_axes)
    if use_bias:
        grads["bias"] = jnp.sum(dy, axis=batch_axes)
    return grads


def _standardize_backward(dxhat: Array, xhat: Array, inv_sigma: Array, axes: Axes) -> Array:
    """dL/dx from dL/dxhat for xhat = (x - mu) / sigma, means over ``axes`` (module docstring):
    ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sigma``."""
    mean_dxhat = jnp.mean(dxhat, axis=axes, keepdims=True)
    mean_dxhat_xhat = jnp.mean(dxhat * xhat, axis=axes, keepdims=True)
    return inv_sigma * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


def _layer_norm_backward(params: dict, x: Array, dy: Array, axes: Axes, epsilon: float,
                         use_scale: bool, use_bias: bool) -> tuple[dict, Array]:
    """``(dL/dparams, dL/dx)`` of `_layer_norm_forward` for upstream ``dy`` (x's shape):
    the affine grads, then ``dxhat = dy * scale`` carried back through the standardization.

    Ba et al. 2016; derivation in the module docstring.
    """
    if dy.shape != x.shape:
        raise ValueError(f"layer_norm: upstream gradient dy must have the input's shape {x.shape}, got {dy.shape}")
    xhat, inv_sigma = _standardize(x, axes, epsilon)
    grads = _affine_grads(dy, xhat, axes, use_scale, use_bias)
    dxhat = dy * _broadcastable(params["scale"], x.ndim, axes) if use_scale else dy
    return grads, _standardize_backward(dxhat, xhat, inv_sigma, axes)


@configured
def layer_norm(epsilon: float = 1e-5, use_scale: bool = True, use_bias: bool = True,
               axis: int | Sequence[int] = -1) -> Layer:
    """Layer normalization (Ba et al. 2016): ``y = scale * (x - mu) / sigma + bias``.

    x: (N, ..., D) -> y: same shape; mu and sigma per example (and per position: for
    (N, T, D) inputs each of the N*T rows is normalized over its D features).
    ``axis`` (int or tuple, counted on the batched array, never 0) names the normalized
    axes; the default ``-1`` matches ``torch.nn.LayerNorm(D)``, and ``axis=(-2, -1)``
    matches ``torch.nn.LayerNorm((H, D))``.

    Params ``{"scale": F, "bias": F}`` with F the sizes of the normalized axes, initialized
    to ones and zeros (the identity affine map); a key is omitted when its ``use_`` flag is
    off (``{}`` when both are).  Backward: see the module docstring.
    """
    epsilon = check_number("layer_norm: epsilon", epsilon, 0)
    axes_spec = _axes_spec(axis)

    @describe("layer_norm")
    def init_fn(key, in_shape):
        in_shape = tuple(in_shape)
        return in_shape, _init_params(in_shape, axes_spec, use_scale, use_bias)

    def apply_fn(params, x, **_):
        """y = scale * xhat + bias, xhat = (x - mean) / sqrt(var + epsilon) over the axes."""
        check_param_dict("layer_norm", params, ("scale",) * use_scale + ("bias",) * use_bias)
        axes = _checked_axes(axes_spec, params, x)
        return _layer_norm_forward(params, x, axes, epsilon, use_scale, use_bias)

    def backward_fn(params, x, dy, **_):
        """dscale = sum dy*xhat, dbias = sum dy, dx = (dxhat - mean dxhat - xhat mean(dxhat xhat)) / sigma."""
        axes = _checked_axes(axes_spec, params, x)
        return _layer_norm_backward(params, x, dy, axes, epsilon, use_scale, use_bias)

    return Layer(init_fn, apply_fn, backward_fn)
