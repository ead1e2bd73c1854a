"""Inverted dropout (Srivastava et al. 2014)."""
from __future__ import annotations

import jax

from jaxnn.layers.base import Layer, describe
from jaxnn.util import check_number
from jaxnn.spec import configured


@configured
def dropout(rate: float) -> Layer:
    """Zero each unit with probability ``rate`` in training; identity otherwise.

    Inverted dropout: kept units are scaled by ``1 / (1 - rate)`` during training so the
    expected activation is unchanged and inference needs no rescaling.
    ``y = x * m / (1 - rate)``, ``m ~ Bernoulli(1 - rate)`` drawn from ``key``.
    Backward with the same key rebuilds the same mask: ``dL/dx = dy * m / (1 - rate)``
    (Srivastava et al. 2014: dropped units pass no gradient); without training, ``dL/dx = dy``.
    """
    rate = check_number("dropout: rate", rate, 0, 1, high_open=True)

    def scaled_mask(key, x):
        if key is None:
            raise ValueError("dropout with train=True needs a PRNG key: pass key=jax.random.key(...)")
        keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
        return keep.astype(x.dtype) / (1.0 - rate)

    @describe("dropout")
    def init_fn(key, in_shape):
        return tuple(in_shape), ()

    def apply_fn(params, x, *, key=None, train=False):
        if not train or rate == 0.0:
            return x
        return x * scaled_mask(key, x)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """dx = dy * m / (1 - rate) with the forward's mask m (Srivastava et al. 2014)."""
        if not train or rate == 0.0:
            return (), dy
        return (), dy * scaled_mask(key, x)

    return Layer(init_fn, apply_fn, backward_fn)
