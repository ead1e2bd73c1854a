"""The compiled training loop: correctness, compilation reuse, determinism, safety."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from checks import assert_trees_close
from jaxnn import layers, losses, models, shuffle, train

N_FEATURES, N_CLASSES = 5, 3


@pytest.fixture(scope="module")
def data():
    k1, k2 = jax.random.split(jax.random.key(42))
    x = jax.random.normal(k1, (96, N_FEATURES))
    w = jax.random.normal(k2, (N_FEATURES, N_CLASSES))
    y = jnp.argmax(x @ w, axis=1).astype(jnp.int32)
    return np.asarray(x), np.asarray(y)


@pytest.fixture(scope="module")
def model():
    return models.mlp([8, N_CLASSES], activation="tanh")


@pytest.fixture(scope="module")
def params(model):
    return model.init(jax.random.key(0), (N_FEATURES,))[1]


OPTIMIZER = optax.adam(1e-2)


def run(model, params, data, **kwargs):
    options = dict(epochs=3, batch_size=16, key=jax.random.key(1), progress=False)
    options.update(kwargs)
    return train.fit(model, params, "softmax_cross_entropy", OPTIMIZER, *data, **options)


def test_fit_matches_a_hand_written_loop(model, params, data):
    """One epoch of fit = the same permutation, batches and optax steps written out here:
    example i at position p[i] of the epoch, p = shuffle.permutation(fold_in(key, 0), n)."""
    x, y = data
    trained, history = run(model, params, data, epochs=1)
    key = jax.random.key(1)
    epoch_key = jax.random.fold_in(key, 0)
    order = np.argsort(np.asarray(shuffle.permutation(epoch_key, len(x))))[: (len(x) // 16) * 16]
    p, state = params, OPTIMIZER.init(params)
    batch_losses = []
    for batch in order.reshape(-1, 16):
        value, grads = jax.value_and_grad(
            lambda q: losses.softmax_cross_entropy(model.apply(q, x[batch]), y[batch]))(p)
        updates, state = OPTIMIZER.update(grads, state, p)
        p = optax.apply_updates(p, updates)
        batch_losses.append(value)
    assert_trees_close(trained, p, rtol=1e-10)
    np.testing.assert_allclose(history["loss"][0], np.mean(batch_losses), rtol=1e-10)


def test_fit_does_not_consume_the_callers_params(model, params, data):
    before = jax.tree_util.tree_map(np.array, params)
    run(model, params, data, epochs=1)
    assert_trees_close(params, before, rtol=0, atol=0)


def test_same_key_gives_bit_identical_params(model, params, data):
    a, _ = run(model, params, data)
    b, _ = run(model, params, data)
    assert_trees_close(a, b, rtol=0, atol=0)
    c, _ = run(model, params, data, key=jax.random.key(2))
    assert not np.allclose(a[0]["W"], c[0]["W"])


@pytest.fixture
def limit_traces(monkeypatch):
    """``limit_traces(n)``: from now on, all epochs compiled together may be traced at most
    ``n`` times (chex.assert_max_traces raises on the next trace); returns the epoch cache."""
    import chex

    build = train._epoch_fn

    def limit(n):
        chex.clear_trace_counter()
        train._compiled_epoch.cache_clear()
        monkeypatch.setattr(train, "_epoch_fn", lambda *args: chex.assert_max_traces(build(*args), n=n))
        return train._compiled_epoch

    yield limit
    train._compiled_epoch.cache_clear()


def test_compiled_epoch_is_reused_across_epochs_and_calls(model, params, data, limit_traces):
    cache = limit_traces(2)
    run(model, params, data, epochs=2)
    run(model, params, data, epochs=4)
    run(model, params, data, epochs=1, key=jax.random.key(7))
    assert cache.cache_info().currsize == 1
    run(model, params, data, epochs=1, batch_size=8)  # a new batch shape: the second and last trace
    assert cache.cache_info().currsize == 2
    with pytest.raises(AssertionError, match="traced > 2 times"):  # the counter does count
        run(model, params, data, epochs=1, batch_size=4)


def test_a_rebuilt_model_or_objective_is_the_same_cache_key(model):
    assert train.objective(model, "mse") == train.objective(model, losses.mse)
    assert hash(train.objective(model, "mse", l2=1e-3)) == hash(train.objective(model, "mse", l2=1e-3))
    assert train.objective(model, "mse", grad="backprop") != train.objective(model, "mse")


def test_backprop_path_trains_to_the_same_params(params, model, data):
    auto, h_auto = run(model, params, data, epochs=4, grad="autodiff", l2=1e-2)
    hand, h_hand = run(model, params, data, epochs=4, grad="backprop", l2=1e-2)
    assert_trees_close(hand, auto, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h_hand["loss"], h_auto["loss"], rtol=1e-10)


def test_dropout_model_with_both_paths(data):
    model = layers.serial(layers.dense(8), layers.activation("relu"), layers.dropout(0.25), layers.dense(3))
    params = model.init(jax.random.key(3), (N_FEATURES,))[1]
    auto, _ = run(model, params, data, epochs=2, grad="autodiff")
    hand, _ = run(model, params, data, epochs=2, grad="backprop")
    assert_trees_close(hand, auto, rtol=1e-9, atol=1e-12)


def test_validation_metrics_and_history(model, params, data):
    x, y = data
    trained, history = run(model, params, data, epochs=3, validation=(x[:40], y[:40]))
    assert history["epoch"] == [1, 2, 3]
    assert set(history) >= {"loss", "val_loss", "val_accuracy", "time"}
    scores = train.evaluate(model, trained, "softmax_cross_entropy", x[:40], y[:40])
    assert scores["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-12)
    logits = model.apply(trained, x[:40])
    assert scores["accuracy"] == pytest.approx(float(jnp.mean(jnp.argmax(logits, 1) == y[:40])))


def test_predict_in_chunks_equals_apply(model, params, data):
    x, _ = data
    np.testing.assert_allclose(train.predict(model, params, x, batch_size=7), model.apply(params, x), rtol=1e-12)


def test_train_step_is_one_optimizer_step(model, params, data):
    x, y = data
    state = train.init_state(params, OPTIMIZER, jax.random.key(0))
    new_state, value = train.train_step(train.objective(model, "softmax_cross_entropy"), OPTIMIZER, state, x[:8], y[:8])
    grads = jax.grad(lambda q: losses.softmax_cross_entropy(model.apply(q, x[:8]), y[:8]))(params)
    updates, _ = OPTIMIZER.update(grads, OPTIMIZER.init(params), params)
    assert_trees_close(new_state.params, optax.apply_updates(params, updates), rtol=1e-12)
    assert int(new_state.step) == 1


def test_early_stopping_restores_the_best_params(model, params, data):
    x, y = data
    # A rate so large the validation loss gets worse quickly: stops and restores the best.
    trained, history = train.fit(model, params, "softmax_cross_entropy", optax.sgd(10.0), x, y, epochs=30,
                                 batch_size=16, key=jax.random.key(1), validation=(x, y), patience=2,
                                 progress=False)
    best = history["best_epoch"]
    assert history["stopped_early"] == best + 2
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    assert train.evaluate(model, trained, "softmax_cross_entropy", x, y)["loss"] == pytest.approx(
        min(history["val_loss"]), rel=1e-12)


def test_nan_loss_stops_with_the_last_finite_params(data):
    x, _ = data
    targets = np.asarray(x[:, :1] * 1e3)
    model = models.mlp([8, 1])
    params = model.init(jax.random.key(0), (N_FEATURES,))[1]
    # Gradient descent with this rate diverges exponentially, overflowing in the second epoch.
    first, _ = train.fit(model, params, "mse", optax.sgd(0.01), x, targets, epochs=1, batch_size=16,
                         key=jax.random.key(1), progress=False)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(first))
    with pytest.warns(RuntimeWarning, match="epoch 2"):
        trained, history = train.fit(model, params, "mse", optax.sgd(0.01), x, targets, epochs=5,
                                     batch_size=16, key=jax.random.key(1), progress=False)
    assert history["nan_epoch"] == 2
    assert_trees_close(trained, first, rtol=0, atol=0)  # the params at the end of the last finite epoch


def test_resume_from_checkpoint_is_bit_identical(model, params, data, tmp_path):
    full, full_history = run(model, params, data, epochs=6)
    run(model, params, data, epochs=3, checkpoint_dir=tmp_path, checkpoint_every=1)
    assert (tmp_path / train.TRAIN_STATE_FILE).exists()
    resumed, history = run(model, params, data, epochs=6, checkpoint_dir=tmp_path, resume=True)
    assert_trees_close(resumed, full, rtol=0, atol=0)
    assert history["loss"] == full_history["loss"]


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x[:, :4], y), "dense expects input"),
    (lambda x, y: (x, y + 3), "labels must lie in"),
    (lambda x, y: (x, y.astype(np.float64)), "must be integers"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "NaN or inf"),
    (lambda x, y: (x[:0], y[:0]), "empty"),
    (lambda x, y: (x, y[:10]), "examples but y has"),
])
def test_bad_data_is_refused_before_training(model, params, data, change, message):
    with pytest.raises(ValueError, match=message):
        run(model, params, change(*data))


@pytest.mark.parametrize("options, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1000}, "batch_size"),
    ({"grad": "numeric"}, "unknown gradient path"),
    ({"epochs": -1}, "epochs"),
])
def test_bad_options_are_refused(model, params, data, options, message):
    with pytest.raises(ValueError, match=message):
        run(model, params, data, **options)


def test_unknown_loss_name(model, params, data):
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        train.fit(model, params, "hinge", OPTIMIZER, *data, epochs=1, batch_size=8, key=jax.random.key(0))


def test_progress_bar_can_be_turned_on(model, params, data, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(model, params, data, epochs=2, progress=True)
    assert "2/2" in capsys.readouterr().err


@pytest.mark.slow
def test_digits_mlp_reaches_95_percent_quickly():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(x))
    train_idx, test_idx = order[:1400], order[1400:]
    with jax.enable_x64(False):
        model = models.mlp([64, 10])
        params = model.init(jax.random.key(0), (64,))[1]
        trained, _ = train.fit(model, params, "softmax_cross_entropy", optax.adam(3e-3), x[train_idx],
                               y[train_idx], epochs=15, batch_size=32, key=jax.random.key(0), progress=False)
        scores = train.evaluate(model, trained, "softmax_cross_entropy", x[test_idx], y[test_idx])
    assert scores["accuracy"] >= 0.95


def test_reduce_lr_on_plateau_scales_updates_without_recompiling(model, params, data, limit_traces):
    from jaxnn import callbacks, optim

    limit_traces(1)  # the reduce_lr runs and the hand-written loop below share one compiled epoch
    x, y = data
    rop = optim.reduce_on_plateau(factor=0.5, patience=1, min_delta=10.0)  # never "improves" after epoch 1
    run(model, params, data, epochs=1, reduce_lr=rop, validation=(x, y))
    _, history = run(model, params, data, epochs=4, reduce_lr=rop, validation=(x, y))
    assert history["lr_scale"] == [1.0, 0.5, 0.25, 0.125]
    # the scaled run equals plain Adam whose updates are scaled by hand the same way
    scaled = callbacks._with_lr_factor(OPTIMIZER)  # fit's one wrapper per optimizer
    state = train.init_state(jax.tree_util.tree_map(jnp.array, params), scaled, jax.random.key(1))
    goal = train.objective(model, "softmax_cross_entropy")
    for epoch, scale in enumerate([1.0, 0.5, 0.25, 0.125]):
        state, _ = train.train_epoch(goal, scaled, state, x, y,
                                     batch_size=16, epoch=epoch)
        state = state._replace(opt_state=optim.set_factor(state.opt_state, scale))  # applies from the next epoch
    trained, _ = run(model, params, data, epochs=4, reduce_lr=rop, validation=(x, y))
    assert_trees_close(trained, state.params, rtol=1e-12)


def test_resume_with_early_stopping_is_bit_identical_from_every_epoch(model, params, data, tmp_path):
    """Early stopping's best value, best params and bad-epoch count, and the fact that the
    run had already stopped, travel in the checkpoint: resuming at any epoch ends the same."""
    x, y = data
    options = dict(validation=(x, y), patience=2, epochs=30)
    sgd = optax.sgd(10.0)  # the validation loss soon gets worse: stops early
    full, full_history = train.fit(model, params, "softmax_cross_entropy", sgd, x, y, batch_size=16,
                                   key=jax.random.key(1), progress=False, **options)
    stopped = full_history["stopped_early"]
    for k in range(1, stopped + 1):
        directory = tmp_path / f"at_{k}"
        train.fit(model, params, "softmax_cross_entropy", sgd, x, y, batch_size=16, key=jax.random.key(1),
                  progress=False, checkpoint_dir=directory, checkpoint_every=1, **{**options, "epochs": k})
        resumed, history = train.fit(model, params, "softmax_cross_entropy", sgd, x, y, batch_size=16,
                                     key=jax.random.key(1), progress=False, checkpoint_dir=directory,
                                     resume=True, **options)
        assert_trees_close(resumed, full, rtol=0, atol=0)
        assert {k: v for k, v in history.items() if k != "time"} == {
            k: v for k, v in full_history.items() if k != "time"}


def test_resume_refuses_a_checkpoint_of_another_model_or_past_epochs(model, params, data, tmp_path):
    run(model, params, data, epochs=2, checkpoint_dir=tmp_path, checkpoint_every=1)
    wider = models.mlp([16, N_CLASSES], activation="tanh")
    wide_params = wider.init(jax.random.key(0), (N_FEATURES,))[1]
    with pytest.raises(ValueError, match=r"\[0\]\['W'\].*\[5, 8\] in the checkpoint.*\[5, 16\]"):
        run(wider, wide_params, data, epochs=3, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="past epochs=1"):
        run(model, params, data, epochs=1, checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("options, message", [
    ({"l2": -1e-3}, "l2 .*must be >= 0, got l2=-0.001"),
    ({"checkpoint_every": -1, "checkpoint_dir": "unused"}, "checkpoint_every must be a positive int"),
    ({"checkpoint_every": 2}, "needs checkpoint_dir"),
    ({"patience": 0}, "patience must be a positive int"),
])
def test_bad_training_options_name_the_fix(model, params, data, options, message):
    with pytest.raises(ValueError, match=message):
        run(model, params, data, **options)


def test_early_stopping_on_accuracy_maximizes_it(model, params, data):
    x, y = data
    _, history = run(model, params, data, epochs=8, validation=(x, y), patience=3, monitor="val_accuracy")
    best = history.get("best_epoch")
    assert best is not None and history["val_accuracy"][best - 1] == max(history["val_accuracy"][:best])


def test_params_of_another_width_are_refused_naming_layer_and_shapes(model, data):
    """A 16-unit model's apply runs with an 8-unit model's params (the matmul fits); the
    checks before tracing catch it in fit, evaluate and predict."""
    x, y = data
    wider = models.mlp([16, N_CLASSES], activation="tanh")
    narrow_params = model.init(jax.random.key(0), (N_FEATURES,))[1]
    message = r"params\[0\]\['W'\] of layer 'dense' has shape \(5, 8\), but this model makes \(5, 16\)"
    with pytest.raises(ValueError, match="fit: " + message):
        run(wider, narrow_params, data)
    with pytest.raises(ValueError, match="evaluate: " + message):
        train.evaluate(wider, narrow_params, "softmax_cross_entropy", x, y)
    with pytest.raises(ValueError, match="predict: " + message):
        train.predict(wider, narrow_params, x)
    with pytest.raises(ValueError, match="serial of 3 layers expects a tuple of 3 params, got 1"):
        run(model, narrow_params[:1], data)
    from jaxnn.layers.base import check_params

    with pytest.raises(ValueError, match=r"params hold arrays at \[0\]\['W'\], \[0\]\['b'\], but this model makes \[0\]"):
        check_params(model, narrow_params[:1] + ((), {}), (N_FEATURES,), "check")


def test_convenient_forms_of_key_optimizer_and_integers(model, params, data):
    """An int key is a seed, an optimizer name is that optimizer at its default learning
    rate, numpy integers are integers."""
    from jaxnn import optim

    a, _ = train.fit(model, params, "softmax_cross_entropy", "adam", *data, epochs=np.int64(2),
                     batch_size=np.int64(16), key=1, progress=False)
    b, _ = train.fit(model, params, "softmax_cross_entropy", optim.adam(optim.DEFAULT_LEARNING_RATES["adam"]),
                     *data, epochs=2, batch_size=16, key=jax.random.key(1), progress=False)
    assert_trees_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("options, message", [
    ({"key": 0.5}, "key must be a PRNG key"),
    ({"key": "seed"}, "key must be a PRNG key"),
    ({"optimizer": "adamax"}, "unknown optimizer 'adamax'"),
    ({"optimizer": len}, "optimizer must be an optax-protocol transformation"),
    ({"validation": np.zeros((10, N_FEATURES))}, r"validation must be a pair \(x_val, y_val\), got ndarray"),
    ({"y": np.array(["a", "b", "c"] * 32)}, "fit: y must be a numeric array, got dtype <U1"),
    ({"l2": "0.1"}, "l2"),
    ({"batch_size": 16.0}, "batch_size must be an int"),
    ({"epochs": True}, "epochs must be a non-negative int"),
])
def test_ordinary_mistakes_get_a_value_error_that_names_them(model, params, data, options, message):
    x, y = data
    options = {"key": jax.random.key(1), "optimizer": OPTIMIZER, "y": y, **options}
    optimizer, targets = options.pop("optimizer"), options.pop("y")
    with pytest.raises(ValueError, match=message):
        train.fit(model, params, "softmax_cross_entropy", optimizer, x, targets,
                  **{"epochs": 1, "batch_size": 16, "progress": False, **options})


def test_a_function_in_place_of_the_model_is_named(params, data):
    x, y = data
    with pytest.raises(ValueError, match="model must be a Layer"):
        train.fit(jnp.tanh, params, "softmax_cross_entropy", OPTIMIZER, x, y, epochs=1, batch_size=16, key=0)
    with pytest.raises(ValueError, match="predict: model must be a Layer"):
        train.predict(jnp.tanh, params, x)
