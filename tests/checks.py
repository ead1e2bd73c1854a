"""Assertions shared by the test files (float64 agreement with independent oracles)."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax


def assert_trees_close(actual, expected, *, rtol=1e-8, atol=1e-12, what="tree"):
    """Same tree structure and, leaf by leaf, ``|a - e| <= atol + rtol |e|``
    (``chex.assert_trees_all_close``; ``chex.assert_trees_all_equal`` when both tolerances
    are 0).  float0 leaves (the gradient of an integer input) must be float0 on both sides."""
    chex.assert_trees_all_equal_structs(actual, expected)
    is_float0 = [jax.dtypes.float0 in (np.asarray(a).dtype, np.asarray(e).dtype)
                 for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected))]
    if any(is_float0):
        chex.assert_trees_all_equal_dtypes(actual, expected)
        actual, expected = ([leaf for leaf, skip in zip(jax.tree_util.tree_leaves(tree), is_float0) if not skip]
                            for tree in (actual, expected))
    chex.assert_trees_all_equal_shapes(actual, expected)
    if rtol == 0 and atol == 0:
        chex.assert_trees_all_equal(actual, expected, custom_message=what)
    else:
        chex.assert_trees_all_close(actual, expected, rtol=rtol, atol=atol, custom_message=what)


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


def gaussian(shape, seed, scale=1.0):
    """Test data drawn with NumPy (each new shape drawn with jax.random costs an XLA compile)."""
    return jnp.asarray(scale * np.random.default_rng(seed).standard_normal(shape))


def gaussian_like(tree, seed, scale=1.0):
    """A pytree of Gaussian arrays with the structure, shapes and dtypes of ``tree``."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return jax.tree_util.tree_unflatten(
        treedef, [gaussian(leaf.shape, seed + i, scale).astype(leaf.dtype) for i, leaf in enumerate(leaves)])


def build(layer, in_shape, seed=0, scale=1.0):
    """``(out_shape, params)``: the structure `layer.init` makes (traced by `jax.eval_shape`,
    not compiled) filled with Gaussian values, so biases are nonzero too."""
    traced = {}

    def init(key):
        traced["out_shape"], params = layer.init(key, in_shape)
        return params

    structure = jax.eval_shape(init, jax.random.key(0))
    return traced["out_shape"], gaussian_like(structure, seed, scale)


def _hand_backward(layer, params, x):
    """``(None, pullback)``: the layer's hand-written ``backward`` as a pullback."""
    return None, lambda dy: layer.backward(params, x, dy)


def assert_backward_matches_vjp_jit(*cases, seed=0, hand_vjp=_hand_backward):
    """`assert_backward_matches_vjp` for several ``(layer, params, x)`` compiled as one program.

    Same comparison (hand-written backward vs ``jax.vjp`` of apply, rtol 1e-8) with a NumPy
    ``dy``; compiling each small case separately would dominate the run time.  ``hand_vjp(layer,
    params, x) -> (y or None, pullback)`` is the path under test (default: ``layer.backward``;
    ``layers.base.vjp`` for the forward-with-cache path, whose ``y`` is compared with apply's too).
    Returns every case's ``(dparams, dx)``.
    """
    dys = [gaussian(jax.eval_shape(layer.apply, p, x).shape, seed + i) for i, (layer, p, x) in enumerate(cases)]

    @jax.jit
    def vjp_and_hand(params, xs, dys):
        results = []
        for (layer, _, _), p, x, dy in zip(cases, params, xs, dys):
            y, vjp = jax.vjp(lambda p_, x_, layer=layer: layer.apply(p_, x_), p, x)
            y_hand, pullback = hand_vjp(layer, p, x)
            results.append(((y, vjp(dy)), (y_hand, pullback(dy))))
        return results

    results = vjp_and_hand([c[1] for c in cases], [c[2] for c in cases], dys)
    for i, ((y, expected), (y_hand, actual)) in enumerate(results):
        if y_hand is not None:
            assert_trees_close(y_hand, y, what=f"case {i} y")
        assert_trees_close(actual[0], expected[0], what=f"case {i} dparams")
        assert_trees_close(actual[1], expected[1], what=f"case {i} dx")
    return [actual for _, (_, actual) in results]


def optimizer_trajectory(opt, params, grads):
    """Params after each of an optimizer's steps on a stream of gradients (leading axis =
    step), as one ``lax.scan`` (trace it under ``jax.jit``)."""
    def step(carry, g):
        p, state = carry
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p
    return jax.lax.scan(step, (params, opt.init(params)), grads)[1]
