"""embedding: lookup values, scatter-add backward against jax.vjp, out-of-range ids."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_trees_close
from jaxnn import initializers
from jaxnn.layers.base import serial
from jaxnn.layers.dense import dense
from jaxnn.layers.embedding import embedding, validate_ids
from jaxnn.layers.reshape import flatten

VOCAB, FEATURES = 5, 3


def float64_table(seed=3):
    return {"table": jax.random.normal(jax.random.key(seed), (VOCAB, FEATURES), jnp.float64)}


def assert_backward_matches_vjp_for_ids(layer, params, ids, seed=0):
    """layer.backward equals jax.vjp of apply: dparams to 1e-8, and dx is vjp's float0 zeros."""
    y, vjp = jax.vjp(lambda p, i: layer.apply(p, i), params, ids)
    dy = jax.random.normal(jax.random.key(seed), y.shape, y.dtype)
    expected_dp, expected_dx = vjp(dy)
    dp, dx = layer.backward(params, ids, dy)
    assert_trees_close(dp, expected_dp, what="dparams")
    assert expected_dx.dtype == jax.dtypes.float0  # integer inputs have no tangent space
    assert dx.dtype == jax.dtypes.float0 and dx.shape == expected_dx.shape == ids.shape
    return dp, dy


def test_init_shapes_and_default_std(key):
    layer = embedding(VOCAB, FEATURES)
    out_shape, params = layer.init(key, (7,))
    assert out_shape == (7, FEATURES)
    assert params["table"].shape == (VOCAB, FEATURES)
    assert layer.init(key, ())[0] == (FEATURES,)
    _, big = embedding(1000, 100).init(key, ())
    assert abs(float(jnp.std(big["table"])) - 1.0) < 0.02  # N(0, 1), as torch.nn.Embedding


def test_custom_init(key):
    _, params = embedding(VOCAB, FEATURES, embedding_init=initializers.zeros).init(key, ())
    np.testing.assert_array_equal(np.asarray(params["table"]), np.zeros((VOCAB, FEATURES)))


@pytest.mark.parametrize("ids", [np.array([4, 0, 2]), np.array([[1, 1, 3], [0, 4, 1]])])
def test_lookup_values(ids):
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    y = layer.apply(params, jnp.asarray(ids))
    assert y.shape == (*ids.shape, FEATURES)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(params["table"])[ids])


def test_lookup_equals_one_hot_matmul():
    params = float64_table()
    ids = jnp.array([[3, 1], [1, 0]])
    y = embedding(VOCAB, FEATURES).apply(params, ids)
    np.testing.assert_allclose(np.asarray(y), np.asarray(jax.nn.one_hot(ids, VOCAB, dtype=jnp.float64)
                                                          @ params["table"]), rtol=1e-15)


def test_backward_repeated_ids_accumulate():
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    ids = jnp.array([[2, 0, 2], [2, 4, 0]])  # id 2 three times, 0 twice, 1 and 3 never
    dp, dy = assert_backward_matches_vjp_for_ids(layer, params, ids)
    dy = np.asarray(dy)
    dtable = np.asarray(dp["table"])
    np.testing.assert_allclose(dtable[2], dy[0, 0] + dy[0, 2] + dy[1, 0], rtol=1e-15)
    np.testing.assert_allclose(dtable[0], dy[0, 1] + dy[1, 2], rtol=1e-15)
    np.testing.assert_array_equal(dtable[4], dy[1, 1])
    np.testing.assert_array_equal(dtable[[1, 3]], 0.0)


def test_backward_equals_one_hot_transpose_times_dy():
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    ids = jnp.array([1, 1, 1, 4])
    dy = jax.random.normal(jax.random.key(9), (4, FEATURES), jnp.float64)
    dp, _ = layer.backward(params, ids, dy)
    one_hot = jax.nn.one_hot(ids, VOCAB, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(dp["table"]), np.asarray(one_hot.T @ dy), rtol=1e-14)


def test_backward_inside_serial_and_jit(key):
    model = serial(embedding(VOCAB, FEATURES), flatten(), dense(2))
    out_shape, params = model.init(key, (4,))
    assert out_shape == (2,)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
    ids = jnp.array([[0, 3, 3, 1], [4, 4, 2, 0]])
    y, vjp = jax.vjp(lambda p: model.apply(p, ids), params)
    dy = jax.random.normal(jax.random.key(1), y.shape, y.dtype)
    (expected,) = vjp(dy)
    dp, dx = jax.jit(model.backward)(params, ids, dy)
    assert_trees_close(dp, expected, what="dparams")
    assert dx.dtype == jax.dtypes.float0 and dx.shape == ids.shape


def test_out_of_range_ids_raise_eagerly():
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    with pytest.raises(ValueError, match=f"id 5 is out of range.*vocab_size = {VOCAB}"):
        layer.apply(params, jnp.array([0, 5]))
    with pytest.raises(ValueError, match="id -1 is out of range"):
        layer.apply(params, jnp.array([-1, 2]))
    with pytest.raises(ValueError, match="id 7 is out of range"):
        layer.backward(params, jnp.array([7]), jnp.ones((1, FEATURES)))
    with pytest.raises(ValueError, match="id 9 is out of range"):
        validate_ids(np.array([[0, 9]]), VOCAB)
    assert validate_ids(np.array([0, 4]), VOCAB) is not None


def test_out_of_range_ids_under_jit_follow_documented_behaviour():
    """Traced ids can't be checked: -vocab <= id < 0 wraps, beyond gives NaN rows and no gradient."""
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    ids = jnp.array([VOCAB, -1, -VOCAB - 1, 2])
    y = jax.jit(layer.apply)(params, ids)
    table = np.asarray(params["table"])
    assert np.isnan(np.asarray(y[0])).all() and np.isnan(np.asarray(y[2])).all()
    np.testing.assert_array_equal(np.asarray(y[1]), table[VOCAB - 1])
    np.testing.assert_array_equal(np.asarray(y[3]), table[2])
    _, vjp = jax.vjp(jax.jit(layer.apply), params, ids)
    dy = jnp.arange(4 * FEATURES, dtype=jnp.float64).reshape(4, FEATURES) + 1
    (expected, _) = vjp(dy)
    dp, _ = jax.jit(layer.backward)(params, ids, dy)
    assert_trees_close(dp, expected, what="dparams")
    expected_table = np.zeros((VOCAB, FEATURES))
    expected_table[VOCAB - 1] = dy[1]
    expected_table[2] = dy[3]
    np.testing.assert_array_equal(np.asarray(dp["table"]), expected_table)


def test_errors(key):
    layer = embedding(VOCAB, FEATURES)
    params = float64_table()
    with pytest.raises(ValueError, match="integer ids, got dtype float64"):
        layer.apply(params, jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, T, \.\.\.\), got shape \(\)"):
        layer.apply(params, jnp.array(1))
    with pytest.raises(ValueError, match=r"params\['table'\] must have shape .*\(5, 3\), got \(4, 3\)"):
        layer.apply({"table": jnp.zeros((4, 3))}, jnp.array([1]))
    with pytest.raises(ValueError, match=r"dy must have the output shape \(2, 3\)"):
        layer.backward(params, jnp.array([1, 2]), jnp.ones((2, 4)))
    for bad in [(0, 3), (5, -1), (5.0, 3), (True, 3)]:
        with pytest.raises(ValueError, match="must be a positive int"):
            embedding(*bad)


def test_float32_table_by_default_without_x64(key):
    with jax.enable_x64(False):
        layer = embedding(VOCAB, FEATURES)
        _, params = layer.init(key, (2,))
        ids = jnp.array([[0, 1]], dtype=jnp.int32)
        y = jax.jit(layer.apply)(params, ids)
        dp, _ = jax.jit(layer.backward)(params, ids, jnp.ones_like(y))
    assert params["table"].dtype == y.dtype == dp["table"].dtype == jnp.float32
