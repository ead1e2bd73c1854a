"""The hand-written gradients and the optimizers in float32, on whatever device JAX runs on.

The rest of the suite checks agreement in float64 on the CPU, to ~1e-8.  Training runs in
float32, and on an accelerator: this file repeats the essential checks there, with float32
tolerances, so that `benchmarks/device_check.sh` can run it on a GPU
(``JAX_PLATFORMS=cuda pytest tests/test_float32_agreement.py``).  Matmuls and convolutions
run at ``"highest"`` precision: a GPU's default (TF32 on recent NVIDIA parts) rounds the
inputs to 10 mantissa bits, an error of ~1e-3 that says nothing about the gradients.

Tolerances: float32's unit round-off is 6e-8; sums over ~100 terms and the different order
in which the two sides add them allow a relative error of a few 1e-6, so 1e-4 relative
(with an absolute floor scaled by the values' size) is a loose but meaningful bound: a
wrong formula is off by O(1).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from checks import assert_trees_close, optimizer_trajectory

from jaxnn import backprop, layers, models, optim

RTOL, ATOL = 1e-4, 1e-5
DEVICE = jax.devices()[0]


def float32(shape, seed, scale=1.0):
    return jnp.asarray(scale * np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def as_float32(tree):
    return jax.tree_util.tree_map(lambda leaf: leaf.astype(jnp.float32) if jnp.issubdtype(leaf.dtype, jnp.floating)
                                  else leaf, tree)


LAYER_CASES = {  # name -> (layer, in_shape without the batch axis, batch)
    "dense": (layers.dense(7), (5,), 4),
    "conv2d": (layers.conv2d(4, (3, 3), padding="same"), (8, 8, 2), 3),
    "conv2d_strided": (layers.conv2d(3, (3, 3), stride=2), (9, 9, 2), 2),
    "max_pool": (layers.max_pool((2, 2)), (6, 6, 3), 2),
    "avg_pool": (layers.avg_pool((2, 2)), (6, 6, 3), 2),
    "layer_norm": (layers.layer_norm(), (6,), 4),
    "rnn_tanh": (layers.rnn(5, cell="tanh", return_sequences=True), (7, 3), 2),
    "lstm": (layers.rnn(5, cell="lstm"), (7, 3), 2),
    "gru": (layers.rnn(5, cell="gru"), (7, 3), 2),
}


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_hand_backward_matches_vjp_in_float32(name):
    layer, in_shape, batch = LAYER_CASES[name]
    with jax.default_matmul_precision("highest"):
        _, params = layer.init(jax.random.key(0), in_shape)
        params = as_float32(params)
        x = float32((batch, *in_shape), 1)
        y, vjp = jax.vjp(lambda p, inp: layer.apply(p, inp), params, x)
        dy = float32(y.shape, 2)
        expected = vjp(dy)
        actual = jax.jit(lambda p, inp, d: layer.backward(p, inp, d))(params, x, dy)
    assert y.dtype == jnp.float32 and next(iter(jax.tree_util.tree_leaves(actual))).dtype == jnp.float32
    assert_trees_close(actual, expected, rtol=RTOL, atol=ATOL, what=f"{name} on {DEVICE.platform}")


MODEL_CASES = {  # name -> (model, in_shape, batch, loss, target maker)
    "mlp": (models.mlp([16, 16, 10], activation="tanh"), (12,), 8, "softmax_cross_entropy",
            lambda n: jnp.arange(n) % 10),
    "cnn": (models.cnn((4,), n_outputs=3, dense_sizes=(8,)), (8, 8, 1), 4, "softmax_cross_entropy",
            lambda n: jnp.arange(n) % 3),
    "lstm": (models.rnn_regressor(6, 1, cell="lstm"), (10, 2), 4, "mse", lambda n: float32((n, 1), 3)),
}


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_backprop_matches_autodiff_on_whole_models_in_float32(name):
    model, in_shape, batch, loss, targets = MODEL_CASES[name]
    with jax.default_matmul_precision("highest"):
        params = as_float32(model.init(jax.random.key(0), in_shape)[1])
        x, t = float32((batch, *in_shape), 4), targets(batch)
        hand = jax.jit(backprop.value_and_grad(model, loss))(params, x, t)
        auto = jax.jit(backprop.autodiff_value_and_grad(model, loss))(params, x, t)
    assert_trees_close(hand, auto, rtol=RTOL, atol=ATOL, what=f"{name} on {DEVICE.platform}")


OPTIMIZER_CASES = {
    "sgd_nesterov": (optim.sgd(0.01, 0.9, nesterov=True), optax.sgd(0.01, 0.9, nesterov=True)),
    "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1)),
    "rmsprop_centered": (optim.rmsprop(0.01, 0.95, centered=True), optax.rmsprop(0.01, 0.95, centered=True)),
    "adam": (optim.adam(0.01), optax.adam(0.01)),
    "adamw": (optim.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)),
    "lion": (optim.lion(0.001), optax.lion(0.001)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_optimizers_match_optax_in_float32(name):
    ours, theirs = OPTIMIZER_CASES[name]
    params = {"W": float32((4, 3), 5), "b": float32((3,), 6)}
    grads = {"W": float32((30, 4, 3), 7, 0.1), "b": float32((30, 3), 8, 0.1)}

    trajectories = jax.jit(lambda params, grads: (optimizer_trajectory(ours, params, grads),
                                                  optimizer_trajectory(theirs, params, grads)))
    actual, expected = trajectories(params, grads)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(actual))
    assert_trees_close(actual, expected, rtol=RTOL, atol=ATOL, what=f"{name} on {DEVICE.platform}")
