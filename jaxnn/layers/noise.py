"""Additive Gaussian noise, the corruption of a denoising autoencoder.

Vincent et al. (2008), "Extracting and Composing Robust Features with Denoising
Autoencoders": train the network to map a corrupted input back to the clean one, so it
must learn the structure of the data rather than the identity.  Corruption happens only
in training; at inference the layer is the identity (like `dropout`).
"""
from __future__ import annotations

import jax

from jaxnn.layers.base import Layer, describe
from jaxnn.util import check_number
from jaxnn.spec import configured


@configured
def gaussian_noise(std: float) -> Layer:
    """``y = x + std * eps``, ``eps ~ N(0, I)`` drawn from ``key``, in training only.

    x: (N, ...) -> y: same shape; no params.  ``train=False`` (or ``std=0``): ``y = x``.
    The noise does not depend on ``x``, so ``dy/dx = I`` and the backward is the identity,
    ``dL/dx = dL/dy``.  Same key => same noise (the draw is ``jax.random.normal(key, x.shape)``).
    ValueError when training without a key.
    """
    std = check_number("gaussian_noise: std", std, 0)

    def is_active(key, train):
        """Noise is added in training only; training without a key is a user error."""
        if train and std != 0 and key is None:
            raise ValueError("gaussian_noise with train=True needs a PRNG key: "
                             "pass key=jax.random.key(...)")
        return train and std != 0

    @describe("gaussian_noise")
    def init_fn(key, in_shape):
        return tuple(in_shape), ()

    def apply_fn(params, x, *, key=None, train=False):
        if not is_active(key, train):
            return x
        return x + std * jax.random.normal(key, x.shape, x.dtype)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """dL/dx = dy: the noise does not depend on x (Vincent et al. 2008's corruption)."""
        is_active(key, train)  # same validation as the forward pass
        return (), dy

    return Layer(init_fn, apply_fn, backward_fn)
