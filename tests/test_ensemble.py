"""Deep ensembles (jaxnn.ensemble): member k of one vmapped fit_ensemble is train.fit of
member k's params and key; per-member validation history and early stopping; bad inputs."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from checks import assert_trees_close
from jaxnn import ensemble, models, train
from jaxnn.ensemble import member

N_FEATURES, N_CLASSES, K = 5, 3, 3
OPTIMIZER = optax.adam(1e-2)


@pytest.fixture(scope="module")
def data():
    k1, k2, k3 = jax.random.split(jax.random.key(42), 3)
    x = jax.random.normal(k1, (96, N_FEATURES))
    y = jnp.argmax(x @ jax.random.normal(k2, (N_FEATURES, N_CLASSES)), axis=1).astype(jnp.int32)
    x_val = jax.random.normal(k3, (40, N_FEATURES))
    y_val = jnp.argmax(x_val @ jax.random.normal(k2, (N_FEATURES, N_CLASSES)), axis=1).astype(jnp.int32)
    return np.asarray(x), np.asarray(y), (np.asarray(x_val), np.asarray(y_val))


@pytest.fixture(scope="module")
def dropout_model():
    return models.mlp([8, N_CLASSES], activation="tanh", dropout_rate=0.3)


def fit_both(model, params_stack, data, **kwargs):
    """fit_ensemble of the stack, and train.fit of each member with fold_in(key, k)."""
    x, y, validation = data
    options = dict(epochs=3, batch_size=16, validation=validation, **kwargs)
    stacked, history = train.fit_ensemble(model, params_stack, "softmax_cross_entropy", OPTIMIZER, x, y,
                                          key=jax.random.key(1), **options)
    alone = [train.fit(model, member(params_stack, k), "softmax_cross_entropy", OPTIMIZER, x, y,
                       key=jax.random.fold_in(jax.random.key(1), k), progress=False, **options)
             for k in range(ensemble.ensemble_size(params_stack))]
    return (stacked, history), alone


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_member_k_is_fit_with_member_k_params_and_key(dropout_model, data, grad):
    """Dropout on: each member draws its own masks from its own key, as fit does (float64:
    equal to round-off; the vmapped matmuls may sum in another order)."""
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    (stacked, history), alone = fit_both(dropout_model, params_stack, data, grad=grad)
    assert history["epoch"] == [1, 2, 3] and history["members"] == K
    for k, (params, fit_history) in enumerate(alone):
        assert_trees_close(member(stacked, k), params, rtol=1e-10, atol=1e-13, what=f"member {k}")
        for name in ("loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose([values[k] for values in history[name]], fit_history[name], rtol=1e-10)
    spread = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree_util.tree_leaves(member(stacked, 0)),
                                                            jax.tree_util.tree_leaves(member(stacked, 1)))]
    assert max(spread) > 1e-3  # the members really differ


def test_member_equals_fit_in_float32(data):
    with jax.enable_x64(False):
        model = models.mlp([8, N_CLASSES], activation="tanh", dropout_rate=0.3)
        x, y, (x_val, y_val) = data
        data32 = (x.astype(np.float32), y, (x_val.astype(np.float32), y_val))
        params_stack = ensemble.init_ensemble(model, 0, (N_FEATURES,), 2)
        (stacked, history), alone = fit_both(model, params_stack, data32, grad="backprop")
        for k, (params, fit_history) in enumerate(alone):
            assert_trees_close(member(stacked, k), params, rtol=1e-5, atol=1e-6, what=f"member {k}")
            np.testing.assert_allclose([v[k] for v in history["loss"]], fit_history["loss"], rtol=1e-5)


def test_init_ensemble_and_key_stacks(dropout_model):
    params_stack = ensemble.init_ensemble(dropout_model, 7, (N_FEATURES,), K)
    for k in range(K):
        expected = dropout_model.init(jax.random.fold_in(jax.random.key(7), k), (N_FEATURES,))[1]
        assert_trees_close(member(params_stack, k), expected, rtol=0, atol=0)
    keys = jax.random.split(jax.random.key(3), K)
    from_stack = ensemble.init_ensemble(dropout_model, keys, (N_FEATURES,), K)
    assert_trees_close(member(from_stack, 2), dropout_model.init(keys[2], (N_FEATURES,))[1], rtol=0, atol=0)
    assert ensemble.member_keys(jax.random.key(3), K).shape == (K,)
    assert ensemble.member_keys(jax.random.PRNGKey(3), K).shape == (K, 2)  # legacy uint32 keys too


def test_a_key_stack_trains_member_k_with_key_k_and_history_has_a_member_axis(dropout_model, data):
    x, y, validation = data
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    options = dict(epochs=3, batch_size=16, validation=validation)  # as fit_both: the same compiled epoch
    folded, _ = train.fit_ensemble(dropout_model, params_stack, "softmax_cross_entropy", OPTIMIZER, x, y,
                                   key=jax.random.key(1), **options)
    keys = jax.vmap(lambda k: jax.random.fold_in(jax.random.key(1), k))(jnp.arange(K))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a normal run is quiet
        stacked, history = train.fit_ensemble(dropout_model, params_stack, "softmax_cross_entropy", OPTIMIZER, x,
                                              y, key=keys, **options)
    assert_trees_close(stacked, folded, rtol=0, atol=0)
    assert sorted(history) == ["epoch", "loss", "members", "time", "val_accuracy", "val_loss"]
    for name in ("loss", "val_loss", "val_accuracy"):
        assert np.shape(history[name]) == (3, K), name
        assert all(isinstance(v, float) for values in history[name] for v in values)
    assert history["epoch"] == [1, 2, 3] and len(history["time"]) == 3


def test_early_stopping_is_per_member_and_each_member_is_fit_with_patience(data):
    """A member stops on its own plateau and is frozen from then on (NaN in its later
    history); with restore_best it ends at its own best epoch, as fit(patience=...) does."""
    x, y, (x_val, y_val) = data
    model = models.mlp([16, N_CLASSES], activation="tanh")
    optimizer = optax.sgd(2.0)  # a large step: the validation loss jumps, members stop at different epochs
    params_stack = ensemble.init_ensemble(model, 0, (N_FEATURES,), 4)
    options = dict(epochs=12, batch_size=8, validation=(x_val[:12], y_val[:12]), patience=2)
    stacked, history = train.fit_ensemble(model, params_stack, "softmax_cross_entropy", optimizer, x, y,
                                          key=5, **options)
    stopped = history["stopped_early"]
    assert any(s is not None for s in stopped) and len(set(stopped)) > 1, stopped  # stopped, not all together
    for k in range(4):
        params, fit_history = train.fit(model, member(params_stack, k), "softmax_cross_entropy", optimizer, x, y,
                                        key=jax.random.fold_in(jax.random.key(5), k), progress=False, **options)
        assert stopped[k] == fit_history.get("stopped_early")
        assert history["best_epoch"][k] == fit_history["best_epoch"]
        assert_trees_close(member(stacked, k), params, rtol=1e-10, atol=1e-13, what=f"member {k}")
        trained = [values[k] for values in history["val_loss"]]
        assert np.all(np.isfinite(trained[:len(fit_history["val_loss"])]))
        assert np.all(np.isnan(trained[len(fit_history["val_loss"]):]))  # frozen after it stopped
    assert len(history["epoch"]) == (options["epochs"] if None in stopped else max(stopped))


def test_a_member_whose_loss_becomes_nan_is_frozen_and_the_others_go_on(dropout_model, data):
    x, y, validation = data
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    broken = jax.tree_util.tree_map(lambda leaf: leaf.at[1].set(jnp.nan), params_stack)
    options = dict(epochs=3, batch_size=16, validation=validation)
    with pytest.warns(RuntimeWarning, match="member 1's loss became NaN or inf in epoch 1"):
        stacked, history = train.fit_ensemble(dropout_model, broken, "softmax_cross_entropy", OPTIMIZER, x, y,
                                              key=1, **options)
    assert history["nan_epoch"] == [None, 1, None]
    assert np.isnan(history["loss"][1][1]) and np.isfinite(history["loss"][1][0])
    assert len(history["epoch"]) == 3
    alone, _ = train.fit(dropout_model, member(params_stack, 2), "softmax_cross_entropy", OPTIMIZER, x, y,
                         key=jax.random.fold_in(jax.random.key(1), 2), progress=False, **options)
    assert_trees_close(member(stacked, 2), alone, rtol=1e-10, atol=1e-13)


def test_predict_ensemble_stacks_each_members_predictions(dropout_model, data):
    x = data[0][:50]
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    out = train.predict_ensemble(dropout_model, params_stack, x, batch_size=16)  # 4 chunks, the last padded
    assert out.shape == (K, 50, N_CLASSES)
    for k in range(K):
        np.testing.assert_allclose(out[k], train.predict(dropout_model, member(params_stack, k), x), rtol=1e-12)


def test_the_reexports_are_the_ensemble_functions():
    assert train.fit_ensemble is ensemble.fit_ensemble
    assert train.init_ensemble is ensemble.init_ensemble
    assert train.predict_ensemble is ensemble.predict_ensemble


# ----------------------------------------------------------------------------- bad inputs

def test_leaves_that_disagree_on_the_member_axis_are_named(dropout_model, data):
    x, y, _ = data
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    params_stack = (dict(params_stack[0], b=params_stack[0]["b"][:2]), *params_stack[1:])  # b: 2 members, W: 3
    with pytest.raises(ValueError, match=r"disagree on the leading member axis K \(\[2, 3\]\).*\[2, 8\]"):
        train.fit_ensemble(dropout_model, params_stack, "softmax_cross_entropy", OPTIMIZER, x, y, epochs=1,
                           batch_size=16, key=0)
    with pytest.raises(ValueError, match="predict_ensemble: params_stack.*disagree"):
        train.predict_ensemble(dropout_model, params_stack, x)


def test_plain_params_or_no_members_are_a_value_error(dropout_model, data):
    x, y, _ = data
    params = dropout_model.init(jax.random.key(0), (N_FEATURES,))[1]  # one network, no member axis
    with pytest.raises(ValueError, match=r"member axis.*Shapes: \[0\]\['W'\] \[5, 8\]"):
        ensemble.predict_ensemble(dropout_model, params, x)  # K = 5 for W, 8 for b: they disagree
    empty = jax.tree_util.tree_map(lambda leaf: leaf[:0], ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), 2))
    with pytest.raises(ValueError, match=r"K = 0 members.*\[0, 5, 8\]"):
        train.fit_ensemble(dropout_model, empty, "softmax_cross_entropy", OPTIMIZER, x, y, epochs=1,
                           batch_size=16, key=0)
    with pytest.raises(ValueError, match="a leaf is a scalar"):
        ensemble.ensemble_size({"w": jnp.zeros(())})
    with pytest.raises(ValueError, match="members.*positive int, got members=0"):
        ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), 0)


def test_a_key_stack_of_the_wrong_length_is_named(dropout_model, data):
    x, y, _ = data
    params_stack = ensemble.init_ensemble(dropout_model, 0, (N_FEATURES,), K)
    keys = jax.random.split(jax.random.key(0), K + 1)
    with pytest.raises(ValueError, match=r"stack of K = 3 keys.*shape \(4,\) for params with K = 3"):
        train.fit_ensemble(dropout_model, params_stack, "softmax_cross_entropy", OPTIMIZER, x, y, epochs=1,
                           batch_size=16, key=keys)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2\)"):
        ensemble.member_keys(jnp.zeros((2, 2, 2), jnp.uint32), 2, "fit_ensemble")
