"""Assertions shared by the test files (float64 agreement with independent oracles)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def assert_trees_close(actual, expected, *, rtol=1e-8, atol=1e-12, what="tree"):
    """Leaf-by-leaf ``np.testing.assert_allclose`` with matching tree structure."""
    a_leaves, a_def = jax.tree_util.tree_flatten(actual)
    e_leaves, e_def = jax.tree_util.tree_flatten(expected)
    assert a_def == e_def, f"{what}: structure {a_def} != {e_def}"
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        assert np.shape(a) == np.shape(e), f"{what} leaf {i}: shape {np.shape(a)} != {np.shape(e)}"
        if jax.dtypes.float0 in (np.asarray(a).dtype, np.asarray(e).dtype):  # gradient of an integer input
            assert np.asarray(a).dtype == np.asarray(e).dtype, f"{what} leaf {i}: float0 expected"
            continue
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol,
                                   err_msg=f"{what} leaf {i}")


def assert_backward_matches_vjp(layer, params, x, *, key=None, train=False, seed=0,
                                rtol=1e-8, atol=1e-12):
    """A layer's hand-written ``backward`` equals ``jax.vjp`` of its ``apply``.

    Draws a random upstream gradient ``dy`` of the output's shape and compares
    ``layer.backward(params, x, dy)`` with the autodiff VJP, for params and input.
    Returns ``(dparams, dx)`` for further checks.
    """
    def f(p, inp):
        return layer.apply(p, inp, key=key, train=train)

    y, vjp = jax.vjp(f, params, x)
    dy = jax.random.normal(jax.random.key(seed), y.shape, y.dtype)
    expected_dp, expected_dx = vjp(dy)
    dp, dx = layer.backward(params, x, dy, key=key, train=train)
    assert_trees_close(dp, expected_dp, rtol=rtol, atol=atol, what="dparams")
    assert_trees_close(dx, expected_dx, rtol=rtol, atol=atol, what="dx")
    return dp, dx
