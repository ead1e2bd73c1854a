"""layer_norm: statistics, backward against jax.vjp, forward against PyTorch, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_backward_matches_vjp, assert_trees_close
from jaxnn.layers.base import serial
from jaxnn.layers.dense import dense
from jaxnn.layers.normalization import layer_norm


def batch(shape, seed=1, loc=3.0, scale=2.5):
    return loc + scale * jax.random.normal(jax.random.key(seed), shape, jnp.float64)


def random_params(params, seed=7):
    """Non-trivial scale and bias (init gives the identity map, too easy a test)."""
    keys = iter(jax.random.split(jax.random.key(seed), 2))
    return {k: 1.0 + jax.random.normal(next(keys), v.shape, jnp.float64) for k, v in params.items()}


def reference_layer_norm(x, scale, bias, epsilon, axes):
    """Plain numpy y = (x - mean) / sqrt(var + eps) * scale + bias."""
    x = np.asarray(x)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * scale + bias


@pytest.mark.parametrize("shape", [(4, 6), (3, 5, 6)])
def test_output_has_zero_mean_unit_variance_per_row(key, shape):
    layer = layer_norm(epsilon=0.0)
    out_shape, params = layer.init(key, shape[1:])
    assert out_shape == shape[1:]
    y = np.asarray(layer.apply(params, batch(shape)))
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, rtol=1e-12)


def test_epsilon_shrinks_variance_as_formula_says(key):
    x = batch((3, 8))
    epsilon = 0.5
    layer = layer_norm(epsilon=epsilon)
    _, params = layer.init(key, (8,))
    y = np.asarray(layer.apply(params, x))
    var = np.asarray(x).var(axis=-1)
    np.testing.assert_allclose(y.var(axis=-1), var / (var + epsilon), rtol=1e-12)


def test_init_params_are_identity_affine(key):
    _, params = layer_norm().init(key, (5,))
    assert set(params) == {"scale", "bias"}
    np.testing.assert_array_equal(np.asarray(params["scale"]), np.ones(5))
    np.testing.assert_array_equal(np.asarray(params["bias"]), np.zeros(5))


@pytest.mark.parametrize("use_scale, use_bias", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)])
def test_forward_values_and_backward_matches_vjp(key, shape, use_scale, use_bias):
    layer = layer_norm(use_scale=use_scale, use_bias=use_bias)
    _, params = layer.init(key, shape[1:])
    assert set(params) == {k for k, on in (("scale", use_scale), ("bias", use_bias)) if on}
    params = random_params(params)
    x = batch(shape)
    expected = reference_layer_norm(x, np.asarray(params.get("scale", 1.0)), np.asarray(params.get("bias", 0.0)),
                                    1e-5, axes=-1)
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)), expected, rtol=1e-12, atol=1e-12)
    _, dx = assert_backward_matches_vjp(layer, params, x)
    assert dx.shape == x.shape


def test_backward_matches_vjp_over_two_axes(key):
    layer = layer_norm(axis=(-2, -1))
    _, params = layer.init(key, (3, 4))
    assert params["scale"].shape == (3, 4)
    params = random_params(params)
    x = batch((2, 3, 4))
    expected = reference_layer_norm(x, np.asarray(params["scale"]), np.asarray(params["bias"]), 1e-5, axes=(1, 2))
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)), expected, rtol=1e-12, atol=1e-12)
    assert_backward_matches_vjp(layer, params, x)


def test_middle_axis_with_positive_index(key):
    layer = layer_norm(axis=1)
    _, params = layer.init(key, (3, 4))
    assert params["bias"].shape == (3,)
    params = random_params(params)
    x = batch((2, 3, 4))
    expected = reference_layer_norm(x, np.asarray(params["scale"])[:, None], np.asarray(params["bias"])[:, None],
                                    1e-5, axes=1)
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)), expected, rtol=1e-12, atol=1e-12)
    assert_backward_matches_vjp(layer, params, x)


def test_backward_compact_formula_against_jax_grad_of_scalar_loss(key):
    """A second oracle: jax.grad of sum(w * y) equals backward with dy = w."""
    layer = layer_norm()
    params = random_params(layer.init(key, (6,))[1])
    x = batch((3, 6))
    w = batch((3, 6), seed=5, loc=0.0, scale=1.0)
    expected_dp, expected_dx = jax.grad(lambda p, v: jnp.sum(w * layer.apply(p, v)), argnums=(0, 1))(params, x)
    dp, dx = layer.backward(params, x, w)
    assert_trees_close(dp, expected_dp)
    assert_trees_close(dx, expected_dx)
    # the input gradient of a normalization is orthogonal to shifts of each row
    np.testing.assert_allclose(np.asarray(dx).sum(axis=-1), 0.0, atol=1e-12)


def test_inside_serial_matches_vjp(key):
    model = serial(dense(5), layer_norm(), dense(2))
    _, params = model.init(key, (3, 4))
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
    params = (params[0], random_params(params[1]), params[2])
    assert_backward_matches_vjp(model, params, batch((2, 3, 4)))


@pytest.mark.parametrize("shape, axis", [((4, 6), -1), ((2, 3, 4), -1), ((2, 3, 4), (-2, -1))])
def test_forward_matches_torch(key, shape, axis):
    torch = pytest.importorskip("torch")
    layer = layer_norm(epsilon=1e-3, axis=axis)
    params = random_params(layer.init(key, shape[1:])[1])
    x = batch(shape)
    normalized_shape = params["scale"].shape
    expected = torch.nn.functional.layer_norm(
        torch.from_numpy(np.array(x)), normalized_shape,
        weight=torch.from_numpy(np.array(params["scale"])),
        bias=torch.from_numpy(np.array(params["bias"])), eps=1e-3).numpy()
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)), expected, rtol=1e-10, atol=1e-12)


def test_float32_input_stays_float32_under_jit(key):
    with jax.enable_x64(False):
        layer = layer_norm()
        _, params = layer.init(key, (4,))
        x = jnp.arange(8, dtype=jnp.float32).reshape(2, 4)
        y = jax.jit(layer.apply)(params, x)
        dp, dx = jax.jit(layer.backward)(params, x, jnp.ones_like(x))
    assert y.dtype == jnp.float32 and dx.dtype == jnp.float32 and dp["scale"].dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y[0]), (np.arange(4) - 1.5) / np.sqrt(1.25 + 1e-5), rtol=1e-5)


def test_shape_errors(key):
    layer = layer_norm()
    _, params = layer.init(key, (4,))
    with pytest.raises(ValueError, match=r"expected input \(N, \.\.\., 4\)"):
        layer.apply(params, batch((2, 5)))
    with pytest.raises(ValueError, match="at least one feature axis"):
        layer.init(key, ())
    with pytest.raises(ValueError, match="at least one feature axis"):
        layer.apply(params, batch((4,)))
    with pytest.raises(ValueError, match="never the batch axis 0"):
        layer_norm(axis=0).init(key, (4,))
    with pytest.raises(ValueError, match="out of range"):
        layer_norm(axis=-3).init(key, (4,))
    with pytest.raises(ValueError, match="same axis twice"):
        layer_norm(axis=(1, -1)).init(key, (4,))
    with pytest.raises(ValueError, match="int or a non-empty tuple"):
        layer_norm(axis=())
    with pytest.raises(ValueError, match="epsilon"):
        layer_norm(epsilon=-1.0)
    with pytest.raises(ValueError, match=r"dy must have the input's shape \(2, 4\)"):
        layer.backward(params, batch((2, 4)), batch((2, 3)))
