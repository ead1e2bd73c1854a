"""flatten and reshape: values, shapes, backward against jax.vjp, use inside serial."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_backward_matches_vjp, assert_trees_close
from jaxnn.layers.base import serial
from jaxnn.layers.dense import dense
from jaxnn.layers.reshape import flatten, reshape


def batch(shape, seed=1):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float64)


def test_flatten_values_and_shape(key):
    layer = flatten()
    out_shape, params = layer.init(key, (2, 3, 4))
    assert out_shape == (24,) and params == ()
    x = batch((5, 2, 3, 4))
    y = layer.apply(params, x)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x).reshape(5, 24))
    # row-major: element (n, i, j, k) lands at column (i*3 + j)*4 + k
    assert y[3, (1 * 3 + 2) * 4 + 1] == x[3, 1, 2, 1]


def test_flatten_backward_matches_vjp(key):
    layer = flatten()
    x = batch((3, 2, 2, 3))
    _, dx = assert_backward_matches_vjp(layer, (), x)
    assert dx.shape == x.shape


def test_flatten_of_vectors_and_scalars_per_example(key):
    layer = flatten()
    assert layer.init(key, (7,))[0] == (7,)
    assert layer.init(key, ())[0] == (1,)
    x = batch((4,))
    np.testing.assert_array_equal(np.asarray(layer.apply((), x)), np.asarray(x)[:, None])
    assert_backward_matches_vjp(layer, (), x)


def test_reshape_values_infers_minus_one(key):
    layer = reshape((3, -1))
    out_shape, params = layer.init(key, (12,))
    assert out_shape == (3, 4) and params == ()
    x = batch((2, 12))
    y = layer.apply(params, x)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x).reshape(2, 3, 4))


@pytest.mark.parametrize("target, in_shape", [((2, 6), (3, 4)), ((-1,), (2, 3)), ((4, 3, 1), (12,))])
def test_reshape_backward_matches_vjp(target, in_shape):
    x = batch((2, *in_shape))
    assert_backward_matches_vjp(reshape(target), (), x)


def test_reshape_then_flatten_is_identity_inside_serial(key):
    model = serial(reshape((2, 3)), flatten())
    out_shape, params = model.init(key, (6,))
    assert out_shape == (6,) and params == ((), ())
    x = batch((4, 6))
    np.testing.assert_array_equal(np.asarray(model.apply(params, x)), np.asarray(x))
    dy = batch((4, 6), seed=2)
    grads, dx = model.backward(params, x, dy)
    assert grads == ((), ())
    np.testing.assert_array_equal(np.asarray(dx), np.asarray(dy))


def test_flatten_between_layers_in_serial_matches_vjp(key):
    model = serial(dense(4), flatten(), dense(3), reshape((3, 1)))
    out_shape, params = model.init(key, (2, 5))
    assert out_shape == (3, 1)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
    x = batch((3, 2, 5))
    dp, dx = assert_backward_matches_vjp(model, params, x)
    assert dx.shape == x.shape
    # the flatten sits between two dense layers: dense(3) sees 8 = 2 * 4 features
    assert params[2]["W"].shape == (8, 3)
    assert_trees_close(dp[1], ())


@pytest.mark.parametrize("bad", [(2, -1, -1), (0, 3), (2.0, 3), (-2, 3)])
def test_reshape_rejects_malformed_target(bad):
    with pytest.raises(ValueError, match="reshape"):
        reshape(bad)


def test_reshape_rejects_mismatched_sizes(key):
    with pytest.raises(ValueError, match=r"\(3, 4\) \(12 elements\) into \(5, 2\)"):
        reshape((5, 2)).init(key, (3, 4))
    with pytest.raises(ValueError, match="not divisible by 5"):
        reshape((5, -1)).init(key, (12,))
    layer = reshape((2, 3))
    _, params = layer.init(key, (6,))
    with pytest.raises(ValueError, match=r"\(7,\) \(7 elements\)"):
        layer.apply(params, batch((2, 7)))


def test_backward_rejects_wrong_dy_shape():
    x = batch((2, 3, 2))
    with pytest.raises(ValueError, match=r"output shape \(2, 6\)"):
        flatten().backward((), x, batch((2, 5)))


def test_flatten_rejects_unbatched_scalar():
    with pytest.raises(ValueError, match=r"\(N, \.\.\.\)"):
        flatten().apply((), jnp.float64(1.0))


def test_jit_and_dtype_follow_input(key):
    layer = flatten()
    x32 = jnp.ones((2, 3, 2), jnp.float32)
    y = jax.jit(layer.apply)((), x32)
    assert y.dtype == jnp.float32 and y.shape == (2, 6)
    _, dx = jax.jit(layer.backward)((), x32, jnp.ones((2, 6), jnp.float32))
    assert dx.dtype == jnp.float32 and dx.shape == (2, 3, 2)
