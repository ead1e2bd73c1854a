"""Layers: every hand-written backward equals jax.vjp of apply; values, shapes, dropout masks, errors.

Covers dense, activation (every registered name), prelu, maxout, dropout, serial, residual.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_trees_close
from jaxnn import activations, initializers
from jaxnn.layers import activation, dense, dropout, maxout, prelu, residual, serial


def draw(shape, seed=0, scale=1.0):
    """Standard-normal float64 test data from numpy (jax.random would compile per shape)."""
    return jnp.asarray(scale * np.random.default_rng(seed).standard_normal(shape))


def assert_backward_matches_vjp(layer, params, x, *, key=None, train=False, seed=0):
    """``checks.assert_backward_matches_vjp`` with the upstream ``dy`` drawn by numpy.

    Same oracle (``jax.vjp`` of ``apply``) and float64 tolerances; numpy draws avoid one
    ``jax.random`` compilation per output shape, which keeps this file fast on a shared CPU.
    """
    def f(p, inp):
        return layer.apply(p, inp, key=key, train=train)

    y, vjp = jax.vjp(f, params, x)
    dy = draw(y.shape, seed)
    expected_dp, expected_dx = vjp(dy)
    dp, dx = layer.backward(params, x, dy, key=key, train=train)
    assert_trees_close(dp, expected_dp, rtol=1e-8, atol=1e-12, what="dparams")
    assert_trees_close(dx, expected_dx, rtol=1e-8, atol=1e-12, what="dx")
    return dp, dx


def normal(shape, seed=1, scale=1.0):
    return draw(shape, seed, scale)


# --- dense -------------------------------------------------------------------------------

def test_dense_init_shapes_and_values(key):
    layer = dense(3)
    out_shape, params = layer.init(key, (5,))
    assert out_shape == (3,)
    assert params["W"].shape == (5, 3) and params["b"].shape == (3,)
    np.testing.assert_array_equal(np.asarray(params["b"]), np.zeros(3))
    limit = math.sqrt(6 / (5 + 3))  # glorot_uniform default
    assert np.abs(np.asarray(params["W"])).max() <= limit
    x = normal((4, 5))
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)),
                               np.asarray(x) @ np.asarray(params["W"]) + np.asarray(params["b"]), rtol=1e-13)


def test_dense_random_bias_init_is_independent_of_the_kernel(key):
    """W and b drawn from one key would be correlated (b equal to a row of W): use two keys."""
    layer = dense(3, kernel_init=initializers.normal(1.0), bias_init=initializers.normal(1.0))
    _, params = layer.init(key, (4,))
    W, b = np.asarray(params["W"]), np.asarray(params["b"])
    for row in W:
        assert not np.allclose(row, b), f"bias {b} repeats a row of W {W}"


@pytest.mark.parametrize("in_shape, use_bias", [((5,), True), ((5,), False), ((4, 5), True), ((4, 5), False)],
                         ids=["2d", "2d-nobias", "3d", "3d-nobias"])
def test_dense_backward_matches_vjp(in_shape, use_bias, key):
    layer = dense(3, use_bias=use_bias)
    out_shape, params = layer.init(key, in_shape)
    assert out_shape == (*in_shape[:-1], 3)
    assert ("b" in params) == use_bias
    params = {k: v + normal(v.shape, seed=9, scale=0.1) for k, v in params.items()}  # non-zero biases
    x = normal((2, *in_shape))
    dp, dx = assert_backward_matches_vjp(layer, params, x)
    # the lectures' formulas, in numpy: dW = sum_rows x^T dz, db = sum_rows dz, dx = dz W^T
    y = layer.apply(params, x)
    dz = np.asarray(draw(y.shape, 0))  # the dy the helper drew
    xs, dzs = np.asarray(x).reshape(-1, in_shape[-1]), dz.reshape(-1, 3)
    np.testing.assert_allclose(np.asarray(dp["W"]), xs.T @ dzs, rtol=1e-12)
    if use_bias:
        np.testing.assert_allclose(np.asarray(dp["b"]), dzs.sum(0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dx), dz @ np.asarray(params["W"]).T, rtol=1e-12)


def test_dense_without_bias_is_linear(key):
    layer = dense(2, use_bias=False)
    _, params = layer.init(key, (3,))
    assert set(params) == {"W"}
    x = normal((4, 3))
    np.testing.assert_allclose(np.asarray(layer.apply(params, 2 * x)), 2 * np.asarray(layer.apply(params, x)),
                               rtol=1e-14)


def test_dense_feature_mismatch_names_the_expected_shape(key):
    layer = dense(3)
    _, params = layer.init(key, (4,))
    with pytest.raises(ValueError) as info:
        layer.apply(params, normal((2, 5)))
    message = str(info.value)
    assert "(N, ..., 4)" in message and "(2, 5)" in message and "(4, 3)" in message
    with pytest.raises(ValueError, match=r"\(N, ..., 4\)"):
        layer.backward(params, normal((2, 5)), normal((2, 3)))
    with pytest.raises(ValueError, match=r"\(N, ..., 4\)"):
        layer.apply(params, normal((4,)))  # no batch axis


@pytest.mark.parametrize("units", [0, -2, 2.0, "3"])
def test_dense_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        dense(units)


def test_dense_init_without_feature_axis(key):
    with pytest.raises(ValueError, match="in_shape"):
        dense(3).init(key, ())


# --- activation layers -------------------------------------------------------------------

ACTIVATION_SPECS = [(name, {}) for name in activations.NAMES] + [
    ("leaky_relu", {"alpha": 0.2}), ("elu", {"alpha": 0.5}), ("gelu", {"approximate": True})]


@pytest.mark.parametrize("spec", ACTIVATION_SPECS,
                         ids=lambda s: s[0] + "".join(f"-{k}={v}" for k, v in s[1].items()))
def test_activation_layer_backward_matches_vjp(spec, key):
    name, kw = spec
    layer = activation(name, **kw)
    out_shape, params = layer.init(key, (3, 4))
    assert out_shape == (3, 4) and params == ()
    z = normal((2, 3, 4), scale=2.0)
    np.testing.assert_array_equal(np.asarray(layer.apply(params, z)),
                                  np.asarray(activations.get(name, **kw).fn(z)))
    dp, dx = assert_backward_matches_vjp(layer, params, z)
    assert dp == ()
    assert layer.name == name


def test_activation_layer_unknown_name():
    with pytest.raises(ValueError, match="unknown activation"):
        activation("sigmoidd")
    with pytest.raises(ValueError, match="alpha"):
        activation("tanh", alpha=0.3)


# --- prelu -------------------------------------------------------------------------------

def test_prelu_values_init_and_backward(key):
    layer = prelu(0.25)
    out_shape, params = layer.init(key, (4,))
    assert out_shape == (4,)
    np.testing.assert_array_equal(np.asarray(params["alpha"]), np.full(4, 0.25))
    params = {"alpha": jnp.array([0.1, 0.25, -0.5, 2.0])}
    z = jnp.array([[-2.0, 0.0, 3.0, -1.0], [1.0, -4.0, 0.0, 0.5], [0.0, -0.0, -3.0, -2.0]])
    expected = np.where(np.asarray(z) >= 0, np.asarray(z), np.asarray(params["alpha"]) * np.asarray(z))
    np.testing.assert_allclose(np.asarray(layer.apply(params, z)), expected, rtol=1e-15)
    dp, dx = assert_backward_matches_vjp(layer, params, z)
    # closed form: d alpha_c = sum_n dy_nc min(z_nc, 0)
    y = layer.apply(params, z)
    dy = np.asarray(draw(y.shape, 0))
    np.testing.assert_allclose(np.asarray(dp["alpha"]), (dy * np.minimum(np.asarray(z), 0)).sum(0), rtol=1e-13)


def test_prelu_backward_matches_vjp_on_3d_inputs(key):
    layer = prelu()
    _, params = layer.init(key, (5, 3))
    params = {"alpha": jnp.array([0.1, 0.3, 0.7])}
    assert_backward_matches_vjp(layer, params, normal((2, 5, 3)))


# --- maxout ------------------------------------------------------------------------------

def test_maxout_values_and_backward(key):
    layer = maxout(3)
    out_shape, params = layer.init(key, (6,))
    assert out_shape == (2,) and params == ()
    z = normal((4, 6))
    expected = np.asarray(z).reshape(4, 2, 3).max(-1)
    np.testing.assert_array_equal(np.asarray(layer.apply(params, z)), expected)
    assert_backward_matches_vjp(layer, params, z)
    assert_backward_matches_vjp(layer, params, normal((2, 3, 6)))  # extra middle axis


def test_maxout_ties_share_the_gradient_as_autodiff_does(key):
    layer = maxout(2)
    _, params = layer.init(key, (6,))
    # deliberate ties: (1, 1), (2, 2) inside a pair, (0, 0), and an untied pair
    z = jnp.array([[1.0, 1.0, 2.0, 2.0, -3.0, 5.0],
                   [0.0, 0.0, 7.0, -7.0, 4.0, 4.0]])
    _, dx = assert_backward_matches_vjp(layer, params, z)
    dy = jnp.array([[2.0, 4.0, -6.0], [1.0, 3.0, 8.0]])
    _, dx = layer.backward(params, z, dy)
    np.testing.assert_allclose(np.asarray(dx), [[1.0, 1.0, 2.0, 2.0, 0.0, -6.0],
                                                [0.5, 0.5, 3.0, 0.0, 4.0, 4.0]], rtol=1e-15)
    # three-way tie: each gets a third
    layer3 = maxout(3)
    _, dx = layer3.backward((), jnp.array([[1.0, 1.0, 1.0]]), jnp.array([[3.0]]))
    np.testing.assert_allclose(np.asarray(dx), [[1.0, 1.0, 1.0]], rtol=1e-15)
    assert_backward_matches_vjp(layer3, (), jnp.array([[1.0, 1.0, 1.0], [2.0, 0.0, 2.0]]))


def test_maxout_errors(key):
    for pieces in (0, -1, 2.0):
        with pytest.raises(ValueError, match="pieces"):
            maxout(pieces)
    with pytest.raises(ValueError, match="divisible by 4"):
        maxout(4).init(key, (6,))
    with pytest.raises(ValueError, match="divisible by 4"):
        maxout(4).apply((), normal((2, 6)))


# --- dropout -----------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.25, 0.5, 0.9])
def test_dropout_train_mask_scale_and_backward(rate, key):
    layer = dropout(rate)
    out_shape, params = layer.init(key, (40,))
    assert out_shape == (40,) and params == ()
    x = normal((50, 40)) + 3.0  # no exact zeros in x
    k = jax.random.key(3)
    y = np.asarray(layer.apply(params, x, key=k, train=True))
    kept = y != 0
    # kept units scaled by exactly 1/(1 - rate), dropped ones exactly 0
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / (1 - rate), rtol=1e-15)
    assert 0 < kept.sum() < kept.size
    # backward with the same key rebuilds the same mask
    dy = normal((50, 40), seed=4)
    dp, dx = layer.backward(params, x, dy, key=k, train=True)
    dx = np.asarray(dx)
    assert dp == ()
    np.testing.assert_array_equal(dx != 0, kept)
    np.testing.assert_allclose(dx[kept], np.asarray(dy)[kept] / (1 - rate), rtol=1e-15)
    assert_backward_matches_vjp(layer, params, x, key=k, train=True)
    # same key => same mask; another key => another mask
    np.testing.assert_array_equal(np.asarray(layer.apply(params, x, key=k, train=True)), y)
    assert not np.array_equal(np.asarray(layer.apply(params, x, key=jax.random.key(4), train=True)) != 0, kept)


def test_dropout_empirical_keep_fraction(key):
    rate = 0.3
    x = jnp.ones((500, 200))
    y = np.asarray(dropout(rate).apply((), x, key=jax.random.key(11), train=True))
    keep = np.mean(y != 0)
    # 100,000 Bernoulli(0.7) draws: standard error 0.0014
    assert abs(keep - (1 - rate)) < 0.01, keep
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_eval_is_identity(key):
    layer = dropout(0.5)
    x = normal((4, 6))
    for k in (None, jax.random.key(1)):
        np.testing.assert_array_equal(np.asarray(layer.apply((), x, key=k, train=False)), np.asarray(x))
        dp, dx = layer.backward((), x, 2 * x, key=k, train=False)
        np.testing.assert_array_equal(np.asarray(dx), 2 * np.asarray(x))
    assert_backward_matches_vjp(layer, (), x)


def test_dropout_rate_zero_is_identity_even_in_training():
    x = normal((4, 6))
    np.testing.assert_array_equal(np.asarray(dropout(0.0).apply((), x, key=jax.random.key(1), train=True)),
                                  np.asarray(x))


def test_dropout_train_without_key_raises():
    layer = dropout(0.5)
    x = normal((2, 3))
    with pytest.raises(ValueError, match="key"):
        layer.apply((), x, train=True)
    with pytest.raises(ValueError, match="key"):
        layer.backward((), x, x, train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rate_outside_unit_interval_raises(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        dropout(rate)


# --- serial ------------------------------------------------------------------------------

def mixed_model():
    return serial(dense(6), activation("tanh"), dropout(0.4), dense(8), prelu(0.2), maxout(2),
                  dense(3, use_bias=False), activation("softmax"))


def test_serial_init_shapes_and_apply_is_composition(key):
    model = mixed_model()
    out_shape, params = model.init(key, (5,))
    assert out_shape == (3,)
    assert isinstance(params, tuple) and len(params) == 8
    assert model.name == "serial" and [c.name for c in model.children] == [
        "dense", "tanh", "dropout", "dense", "prelu", "maxout", "dense", "softmax"]
    x = normal((4, 5))
    h = x
    for child, p in zip(model.children, params):
        h = child.apply(p, h)
    np.testing.assert_array_equal(np.asarray(model.apply(params, x)), np.asarray(h))


def test_serial_backward_matches_vjp_with_dropout_and_key(key):
    model = mixed_model()
    _, params = model.init(key, (5,))
    x = normal((4, 5))
    k = jax.random.key(5)
    assert_backward_matches_vjp(model, params, x, key=k, train=True)
    assert_backward_matches_vjp(model, params, x)  # eval mode, no key
    # the training forward differs from eval (dropout active), and is reproducible with the key
    y_train = model.apply(params, x, key=k, train=True)
    assert not np.allclose(np.asarray(y_train), np.asarray(model.apply(params, x)))
    np.testing.assert_array_equal(np.asarray(model.apply(params, x, key=k, train=True)), np.asarray(y_train))


def test_serial_child_keys_do_not_depend_on_siblings(key):
    """The key is split per child by position: a dropout's mask is the same whatever precedes it."""
    x = jnp.ones((3, 10))
    k = jax.random.key(2)
    a = serial(activation("identity"), dropout(0.5))
    b = serial(activation("tanh"), dropout(0.5))
    mask_a = np.asarray(a.apply(((), ()), x, key=k, train=True)) != 0
    mask_b = np.asarray(b.apply(((), ()), x, key=k, train=True)) != 0
    np.testing.assert_array_equal(mask_a, mask_b)


def test_serial_accepts_a_list_and_nests(key):
    inner = serial([dense(4), activation("relu")])
    model = serial(inner, dense(2), residual(serial(dense(2), activation("tanh"))))
    out_shape, params = model.init(key, (3,))
    assert out_shape == (2,)
    assert_backward_matches_vjp(model, params, normal((5, 3)))


def test_serial_errors(key):
    with pytest.raises(ValueError, match="argument 1"):
        serial(dense(2), "relu")
    model = serial(dense(2), activation("relu"))
    _, params = model.init(key, (3,))
    with pytest.raises(ValueError, match="expects a tuple of 2 params, got 1"):
        model.apply(params[:1], normal((2, 3)))
    with pytest.raises(ValueError, match="expects a tuple of 2 params"):
        model.backward(params[:1], normal((2, 3)), normal((2, 2)))


def test_empty_serial_is_identity(key):
    model = serial()
    out_shape, params = model.init(key, (3,))
    assert out_shape == (3,) and params == ()
    x = normal((2, 3))
    np.testing.assert_array_equal(np.asarray(model.apply(params, x)), np.asarray(x))
    assert_backward_matches_vjp(model, params, x)


# --- residual ----------------------------------------------------------------------------

def test_residual_values_and_backward(key):
    block = serial(dense(4), activation("tanh"), dense(4))
    layer = residual(block)
    out_shape, params = layer.init(key, (4,))
    assert out_shape == (4,)
    x = normal((3, 4))
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)),
                               np.asarray(x + block.apply(params, x)), rtol=1e-15)
    assert_backward_matches_vjp(layer, params, x)
    assert layer.name == "residual" and layer.children == (block,)


def test_residual_with_dropout_and_key(key):
    layer = residual(serial(dense(4), dropout(0.5), activation("relu")))
    _, params = layer.init(key, (4,))
    assert_backward_matches_vjp(layer, params, normal((6, 4)), key=jax.random.key(9), train=True)


# --- forward with a cache ------------------------------------------------------------------

def test_vjp_of_layers_without_forward_is_apply_then_backward(key):
    """``base.vjp`` of a serial of layers without their own ``forward`` (each cache is the
    child's input) and of a residual block: y equals apply, pullback equals jax.vjp."""
    from jaxnn.layers.base import vjp
    for model in (mixed_model(), residual(serial(dense(5), activation("tanh"), dense(5)))):
        _, params = model.init(key, (5,))
        x, dy = normal((4, 5)), normal((4, 3 if model.name == "serial" else 5), seed=3)
        k = jax.random.key(5)
        expected_y, expected_pullback = jax.vjp(lambda p, v: model.apply(p, v, key=k, train=True), params, x)
        y, pullback = vjp(model, params, x, key=k, train=True)
        assert_trees_close((y, pullback(dy)), (expected_y, expected_pullback(dy)))
        assert_trees_close(pullback(dy), model.backward(params, x, dy, key=k, train=True), rtol=0, atol=0)


def test_a_layer_gives_forward_and_backward_from_cache_together(key):
    """A user layer with only one of the pair is an error (`check_layer`); with both, serial
    passes its cache through."""
    from jaxnn.layers.base import Layer, check_layer, vjp
    square = dense(3)
    half = square._replace(forward=lambda p, x, **kw: (square.apply(p, x), x))
    with pytest.raises(ValueError, match="forward and backward_from_cache together"):
        check_layer("layer", half)
    with pytest.raises(ValueError, match="forward and backward_from_cache together"):
        serial(half)
    seen = []

    def forward(params, x, *, key=None, train=False):
        seen.append("forward")
        return square.apply(params, x), {"x": x}

    def backward_from_cache(params, cache, dy, *, key=None, train=False):
        seen.append("backward_from_cache")
        return square.backward(params, cache["x"], dy)

    cached = Layer(square.init, square.apply, square.backward, forward, backward_from_cache)
    model = serial(cached, activation("tanh"))
    _, params = model.init(key, (4,))
    x, dy = normal((2, 4)), normal((2, 3), seed=2)
    _, pullback = vjp(model, params, x)
    assert_trees_close(pullback(dy), jax.vjp(model.apply, params, x)[1](dy))
    assert seen == ["forward", "backward_from_cache"]


def test_residual_block_must_keep_the_shape(key):
    with pytest.raises(ValueError, match=r"keep the shape \(4,\)"):
        residual(dense(3)).init(key, (4,))
