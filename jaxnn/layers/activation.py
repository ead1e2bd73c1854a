"""Activation layers: a fixed nonlinearity by name, PReLU and maxout.

The backward of ``activation(name)`` is ``dL/dz = dL/da * sigma'(z)`` with the
hand-written derivative from `jaxnn.activations` (IIT Mandi, "Common activation
derivatives"), or the softmax VJP.  PReLU and maxout are in UMT Lahore's "Activation
Functions" list.
"""
from __future__ import annotations

import jax.numpy as jnp

from jaxnn import activations
from jaxnn.layers.base import Layer, check_param_dict, describe
from jaxnn.util import check_number, check_positive_int
from jaxnn.spec import configured


@configured
def activation(name: str, **hyperparameters) -> Layer:
    """Elementwise (or last-axis, for softmax) nonlinearity ``a = sigma(z)``; no params.

    ``name`` is any of `jaxnn.activations.NAMES`; hyper-parameters such as
    ``alpha`` for leaky_relu/elu are passed through: ``activation("elu", alpha=0.5)``.
    Backward: ``dL/dz = da * sigma'(z)`` elementwise (IIT Mandi, "Common activation
    derivatives"); for softmax ``dL/dz = s * (da - <da, s>)``, ``s = softmax(z)``.
    """
    act = activations.get(name, **hyperparameters)

    @describe(name)
    def init_fn(key, in_shape):
        return tuple(in_shape), ()

    def apply_fn(params, z, **_):
        return act.fn(z)

    def backward_fn(params, z, da, **_):
        """dz = da * sigma'(z) (softmax: its VJP); no params (IIT Mandi, activation derivatives)."""
        return (), act.vjp(z, da)

    return Layer(init_fn, apply_fn, backward_fn)


@configured
def prelu(init_slope: float = 0.25) -> Layer:
    """Parametric ReLU (He et al. 2015): ``a = z`` for z >= 0, ``alpha_c z`` otherwise.

    One learnable slope per feature (last axis): params ``{"alpha": (C,)}``.  UMT Lahore's
    "Activation Functions" writes it ``max(alpha x, x)`` (equal for ``alpha <= 1``).
    Backward (He et al. 2015): ``dL/dz = da * (1 if z >= 0 else alpha)``,
    ``dL/dalpha_c = sum over all other axes of da * min(z, 0)``.
    """
    init_slope = check_number("prelu: init_slope", init_slope)

    @describe("prelu")
    def init_fn(key, in_shape):
        if len(in_shape) < 1:
            raise ValueError("prelu expects inputs (N, ..., C) with a feature axis, got in_shape () "
                             "(without the batch axis)")
        return tuple(in_shape), {"alpha": jnp.full((in_shape[-1],), init_slope, jnp.result_type(float))}

    def apply_fn(params, z, **_):
        check_param_dict("prelu", params, ("alpha",))
        return jnp.where(z >= 0, z, params["alpha"] * z)

    def backward_fn(params, z, da, **_):
        """dz = da * (1 if z >= 0 else alpha); dalpha_c = sum da * min(z, 0) (He et al. 2015)."""
        negative_part = jnp.where(z >= 0, 0, z)
        d_alpha = jnp.sum((da * negative_part).reshape(-1, z.shape[-1]), axis=0)
        return {"alpha": d_alpha}, jnp.where(z >= 0, da, params["alpha"] * da)

    return Layer(init_fn, apply_fn, backward_fn)


@configured
def maxout(pieces: int) -> Layer:
    """Maxout (Goodfellow et al. 2013): the max over groups of ``pieces`` consecutive features.

    z: (N, ..., D) -> a: (N, ..., D / pieces), ``a_j = max_k z_{j*pieces + k}``; put a
    ``dense(units * pieces)`` before it for the learned affine pieces (UMT Lahore,
    "Activation Functions": ``max(w_1^T x + b_1, w_2^T x + b_2)``).  Backward
    (Goodfellow et al. 2013): ``dL/dz_{j*pieces + k} = da_j`` if ``k`` is the argmax of
    group ``j``, else 0; ties share it equally, as autodiff of ``jnp.max`` does.
    """
    pieces = check_positive_int("maxout: pieces", pieces)

    def grouped(z):
        if z.shape[-1] % pieces:
            raise ValueError(f"maxout({pieces}) needs a last axis divisible by {pieces}, got shape {z.shape}")
        return z.reshape(*z.shape[:-1], z.shape[-1] // pieces, pieces)

    @describe("maxout")
    def init_fn(key, in_shape):
        if len(in_shape) < 1 or in_shape[-1] % pieces:
            raise ValueError(f"maxout({pieces}) needs a feature count divisible by {pieces}, got in_shape "
                             f"{in_shape}")
        return (*in_shape[:-1], in_shape[-1] // pieces), ()

    def apply_fn(params, z, **_):
        return jnp.max(grouped(z), axis=-1)

    def backward_fn(params, z, da, **_):
        """dz = da routed to each group's argmax, shared equally on ties (Goodfellow et al. 2013)."""
        groups = grouped(z)
        is_max = (groups == jnp.max(groups, axis=-1, keepdims=True)).astype(da.dtype)
        share = is_max / jnp.sum(is_max, axis=-1, keepdims=True)
        return (), (share * da[..., None]).reshape(z.shape)

    return Layer(init_fn, apply_fn, backward_fn)
