"""Backpropagation derived by hand (IIT Mandi, "Backpropagation for general L layers"), beside ``jax.grad``.

For a network ``y = f_L(... f_1(x))`` and a loss ``E(y, t)``:

1. forward pass, keeping each layer's input ``a^(l-1)`` (or the cache of a layer that has
   a ``forward``, e.g. an RNN's states at every step: `jaxnn.layers.base.vjp`);
2. output delta ``delta = dE/dy`` from the loss's hand gradient (`jaxnn.losses`), e.g.
   ``(softmax(z) - t)/N`` for softmax + cross-entropy, ``y - t`` for sum of squares;
3. each layer's ``backward`` turns ``dE/d(output)`` into its parameter gradients and
   ``dE/d(input)``; for a dense layer ``dE/dW = a^T delta``, ``dE/db = sum_n delta``, and
   the delta of the layer below is ``delta W^T * sigma'(z)`` (the activation layer's part);
4. L2 adds ``lambda W`` to each weight's gradient, never to biases (IIT Mandi, "Add L2
   regularization (weight decay)").

Mini-batch gradients are the average of per-example ones because the losses average
over the batch; `per_example_grads` shows it.  `check_grads` is the CS231n-style
finite-difference check.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import Array
import numpy as np

from jaxnn import losses
from jaxnn.layers import Layer
from jaxnn.layers.base import check_layer, vjp
from jaxnn.util import check_number, check_positive_int


def value_and_grad(model: Layer, loss, *, l2: float = 0.0) -> Callable[..., tuple[Array, Any]]:
    """Hand-derived ``(value, grads)`` of ``loss(model.apply(p, x), t) + l2/2 sum ||W||^2``.

    Returns ``fn(params, x, target, *, key=None)``, equal to ``jax.value_and_grad`` of the
    same objective (biases not regularized).  With a ``key`` the model runs in training
    mode (dropout active, the same masks in the forward and backward passes); without
    one it runs deterministically.  jit-compatible.
    """
    check_layer("value_and_grad: model", model)
    loss_fn = losses.get(loss)
    check_number("value_and_grad: l2", l2, 0)

    def objective_value_and_grad(params, x, target, *, key=None):
        train = key is not None
        y, pullback = vjp(model, params, x, key=key, train=train)  # one forward pass, its cache kept
        value = loss_fn.value(y, target)
        delta = loss_fn.grad(y, target)  # the output delta dE/dy
        grads, _ = pullback(delta)
        if l2:
            value = value + l2 * losses.l2_penalty(params)
            grads = jax.tree_util.tree_map(lambda g, w: g + l2 * w, grads, losses.l2_penalty_grad(params))
        return value, grads

    return objective_value_and_grad


def autodiff_value_and_grad(model: Layer, loss, *, l2: float = 0.0) -> Callable[..., tuple[Array, Any]]:
    """The same objective as `value_and_grad`, differentiated by ``jax.value_and_grad``."""
    check_layer("autodiff_value_and_grad: model", model)
    loss_fn = losses.get(loss)
    check_number("autodiff_value_and_grad: l2", l2, 0)

    def objective(params, x, target, key):
        y = model.apply(params, x, key=key, train=key is not None)
        value = loss_fn.value(y, target)
        return value + l2 * losses.l2_penalty(params) if l2 else value

    grad_fn = jax.value_and_grad(objective)

    def objective_value_and_grad(params, x, target, *, key=None):
        return grad_fn(params, x, target, key)

    return objective_value_and_grad


GRADIENT_PATHS = {"autodiff": autodiff_value_and_grad, "backprop": value_and_grad}


def gradient_path(name: str) -> Callable[..., Callable]:
    """``"autodiff"`` or ``"backprop"``: the factory ``(model, loss, *, l2) -> value_and_grad``."""
    if not isinstance(name, str) or name not in GRADIENT_PATHS:
        raise ValueError(f"unknown gradient path {name!r}; known: {', '.join(GRADIENT_PATHS)}")
    return GRADIENT_PATHS[name]


def per_example_grads(model: Layer, loss, *, l2: float = 0.0) -> Callable[..., Any]:
    """Gradients of each example's own loss: ``fn(params, x, target) -> grads`` with a
    leading batch axis on every leaf.

    Each example's delta flows back alone (for a dense layer ``dE_n/dW = a_n delta_n^T``),
    ``jax.vmap`` running the hand backward for all ``n`` at once.  For the mean-reduced
    losses the batch gradient is their mean (IIT Mandi, "Mini-batch and averaging":
    "compute per-example deltas and average"); for ``sum_of_squares`` (and ``l2=0``) it is
    their sum.
    Deterministic (no dropout key).
    """
    single = value_and_grad(model, loss, l2=l2)

    def grads_of_each_example(params, x, target):
        def one(x_n, t_n):
            return single(params, x_n[None], t_n[None])[1]

        return jax.vmap(one)(x, target)

    return grads_of_each_example


def _check_grads_arguments(f, params, grads, num_checks, eps, relative_floor) -> None:
    """ValueError naming the argument of `check_grads` that cannot work, before any compiling."""
    if not callable(f):
        raise ValueError(f"check_grads: f must be a function params -> scalar loss, got {type(f).__name__}")
    check_positive_int("check_grads: num_checks", num_checks)
    check_number("check_grads: eps", eps, 0, low_open=True)
    check_number("check_grads: relative_floor", relative_floor, 0)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise ValueError(f"check_grads: params{jax.tree_util.keystr(path)} has dtype {jnp.result_type(leaf)}; "
                             "finite differences need floating-point params (float64 with x64): "
                             "cast with .astype(jnp.float64)")
    out = jax.eval_shape(f, params)
    if not hasattr(out, "shape") or out.shape != ():
        raise ValueError(f"check_grads: f must return a scalar loss, got {getattr(out, 'shape', type(out).__name__)}; "
                         "reduce it, e.g. with jnp.sum or jnp.mean")
    if grads is not None and jax.tree_util.tree_structure(grads) != jax.tree_util.tree_structure(params):
        raise ValueError(f"check_grads: grads must have the structure of params, got "
                         f"{jax.tree_util.tree_structure(grads)} for params {jax.tree_util.tree_structure(params)}")


def check_grads(f: Callable[[Any], Array], params, grads=None, *, num_checks: int = 10,
                eps: float = 1e-6, seed: int = 0, relative_floor: float = 1e-6) -> dict[str, float]:
    """Central finite differences on random coordinates vs analytic gradients (CS231n).

    For each leaf, ``num_checks`` random coordinates ``i`` get
    ``g_num = (f(p + eps e_i) - f(p - eps e_i)) / (2 eps)``, compared with ``grads``
    (default ``jax.grad(f)(params)``) by the relative error
    ``|g - g_num| / max(|g|, |g_num|, relative_floor * max_j |g_j|)``.  The floor (relative
    to the leaf's largest gradient) keeps a coordinate whose gradient is nearly zero from
    reporting the finite difference's own absolute error as a huge relative one.
    Returns ``{leaf path: max relative error}``.  Use float64 params (x64): errors near
    1e-8 or below mean agreement.  A NaN anywhere (in ``f`` or ``grads``) is reported as NaN,
    never as agreement.
    """
    _check_grads_arguments(f, params, grads, num_checks, eps, relative_floor)
    if grads is None:
        grads = jax.grad(f)(params)
    rng = np.random.default_rng(seed)
    flat_params, treedef = jax.tree_util.tree_flatten_with_path(params)
    flat_grads = treedef.flatten_up_to(grads)
    leaves = [leaf for _, leaf in flat_params]
    f = jax.jit(f)
    report = {}
    for index, ((path, leaf), grad) in enumerate(zip(flat_params, flat_grads)):
        if jnp.size(leaf) == 0:
            continue
        grad = np.ravel(np.asarray(grad))
        floor = max(relative_floor * float(np.max(np.abs(grad))), np.finfo(np.float64).tiny)
        errors = [0.0]
        for i in rng.choice(leaf.size, min(num_checks, leaf.size), replace=False):
            bump = np.zeros(leaf.size, np.asarray(leaf).dtype)
            bump[i] = eps
            bump = bump.reshape(leaf.shape)
            plus = treedef.unflatten([*leaves[:index], leaf + bump, *leaves[index + 1:]])
            minus = treedef.unflatten([*leaves[:index], leaf - bump, *leaves[index + 1:]])
            numeric = float((f(plus) - f(minus)) / (2 * eps))
            scale = max(abs(numeric), abs(float(grad[i])), floor)
            errors.append(abs(numeric - float(grad[i])) / scale)
        report[jax.tree_util.keystr(path) or "params"] = float(np.max(errors))  # NaN propagates
    return report
