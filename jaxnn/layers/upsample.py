"""Nearest-neighbour upsampling of NHWC images, the decoder's inverse of pooling.

A convolutional decoder must grow the spatial size back.  Resize-then-convolve
(``upsample`` followed by a ``conv2d``) does it without the checkerboard artifacts of
strided transposed convolutions (Odena, Dumoulin & Olah 2016, "Deconvolution and
Checkerboard Artifacts", Distill).  With factors ``(s_h, s_w)``::

    forward:   y[n, i, j, c] = x[n, i // s_h, j // s_w, c]            (each pixel -> an s_h x s_w block)
    backward:  dx[n, a, b, c] = sum_{p < s_h, q < s_w} dy[n, a s_h + p, b s_w + q, c]

The backward is the adjoint of copying: each input pixel was copied into one block of
the output, so it receives the sum of that block's gradients (a sum pooling with window
and stride ``s``, i.e. ``s_h s_w`` times `avg_pool`'s forward).
"""
from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from jaxnn.layers.base import Layer, describe
from jaxnn.layers.window import as_tuple, check_input
from jaxnn.spec import configured


@configured
def upsample(factor: int | Sequence[int] = 2) -> Layer:
    """Nearest-neighbour upsampling. x: (N, H, W, C) -> y: (N, H s_h, W s_w, C); no params.

    ``factor``: an int ``s`` (both axes) or an ``(s_h, s_w)`` pair of positive ints.
    Forward and backward formulas: see the module docstring.  Compare
    ``torch.nn.Upsample(scale_factor=s, mode="nearest")`` (on NCHW) and
    ``jax.image.resize(x, shape, "nearest")`` for integer factors.
    """
    s_h, s_w = as_tuple(factor, 2, "upsample factor")

    @describe("upsample")
    def init_fn(key, in_shape):
        check_input("upsample", in_shape, 2, None, batched=False)
        height, width, channels = in_shape
        return (height * s_h, width * s_w, channels), ()

    def apply_fn(params, x, **_):
        check_input("upsample", x.shape, 2, None, batched=True)
        n, height, width, channels = x.shape
        blocks = jnp.broadcast_to(x[:, :, None, :, None, :], (n, height, s_h, width, s_w, channels))
        return blocks.reshape(n, height * s_h, width * s_w, channels)

    def backward_fn(params, x, dy, **_):
        """The adjoint of copying each pixel into an ``s_h x s_w`` block (Odena, Dumoulin &
        Olah 2016): each input pixel receives the sum of its block's gradients,

            dx[n, a, b, c] = sum_{p < s_h, q < s_w} dy[n, a s_h + p, b s_w + q, c]
        """
        check_input("upsample", x.shape, 2, None, batched=True)
        n, height, width, channels = x.shape
        expected = (n, height * s_h, width * s_w, channels)
        if dy.shape != expected:
            raise ValueError(f"upsample: upstream gradient dy must have the output shape (N, H*s_h, W*s_w, C) "
                             f"= {expected}, got {dy.shape}")
        return (), dy.reshape(n, height, s_h, width, s_w, channels).sum(axis=(2, 4))

    return Layer(init_fn, apply_fn, backward_fn)
