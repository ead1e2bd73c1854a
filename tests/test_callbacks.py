"""Early stopping and reduce-on-plateau: pure, host-side, on the one plateau rule."""
import math

import jax
import jax.numpy as jnp
import pytest

from jaxnn import callbacks, optim, train


def state_with(params):
    return train.TrainState(params, optim.scale_by_factor(optim.sgd(0.1)).init(params),
                            jnp.zeros((), jnp.int32), jax.random.key(0))


def test_the_plateau_rule_needs_an_improvement_larger_than_min_delta():
    plateau = optim.Plateau()
    assert plateau == (math.inf, 0)
    improved, plateau = optim.plateau_update(plateau, 1.0, min_delta=0.1)
    assert improved and plateau == (1.0, 0)
    improved, plateau = optim.plateau_update(plateau, 0.95, min_delta=0.1)   # not by more than 0.1
    assert not improved and plateau == (1.0, 1)
    improved, plateau = optim.plateau_update(plateau, 0.85, min_delta=0.1)
    assert improved and plateau == (0.85, 0)


def test_early_stopping_stops_after_patience_and_restores_the_best():
    cb = callbacks.early_stopping(patience=2, monitor="val_loss")
    train_state = state_with({"w": jnp.zeros(2)})
    cb_state = cb.init(train_state)
    stops = []
    for epoch, value in enumerate([3.0, 2.0, 2.5, 2.1, 1.0], start=1):
        train_state = train_state._replace(params={"w": jnp.full(2, float(epoch))})
        cb_state, train_state, record, stop = cb.on_epoch_end(cb_state, epoch, {"val_loss": value}, train_state)
        stops.append(stop)
    assert stops == [False, False, False, True, False]
    assert cb_state.best_epoch == 5  # after the stop nothing forbids later improvement; fit stops at 4
    train_state, history = cb.on_train_end(cb_state, train_state, {})
    assert history == {"best_epoch": 5}
    assert float(train_state.params["w"][0]) == 5.0


def test_early_stopping_maximizes_scores():
    assert callbacks.sign_of("val_accuracy") == callbacks.sign_of("val_r2") == -1.0
    assert callbacks.sign_of("val_loss") == callbacks.sign_of("loss") == 1.0
    cb = callbacks.early_stopping(patience=1, monitor="val_accuracy", restore_best=False)
    train_state = state_with({"w": jnp.zeros(1)})
    s = cb.init(train_state)
    s, _, _, stop = cb.on_epoch_end(s, 1, {"val_accuracy": 0.5}, train_state)
    s, _, _, stop = cb.on_epoch_end(s, 2, {"val_accuracy": 0.7}, train_state)
    assert not stop and s.best_epoch == 2 and s.best_params is None
    s, _, _, stop = cb.on_epoch_end(s, 3, {"val_accuracy": 0.6}, train_state)
    assert stop


def test_reduce_lr_follows_optim_reduce_on_plateau_and_sets_the_factor():
    rule = optim.reduce_on_plateau(factor=0.5, patience=1)
    cb = callbacks.reduce_lr_on_plateau(rule, monitor="loss")
    train_state = state_with({"w": jnp.ones(3)})
    cb_state, reference = cb.init(train_state), rule.init()
    for value in [1.0, 1.0, 0.5, 0.6, 0.7]:
        cb_state, train_state, record, stop = cb.on_epoch_end(cb_state, 1, {"loss": value}, train_state)
        scale, reference = rule.update(reference, value)
        assert not stop and record["lr_scale"] == scale == cb_state.scale
        assert float(train_state.opt_state.factor) == scale
    sgd = optim.sgd(0.1)
    assert cb.wrap_optimizer(sgd) is cb.wrap_optimizer(sgd)  # one wrapper per optimizer: no recompiles


def test_a_missing_monitor_names_the_choices():
    cb = callbacks.early_stopping(patience=1, monitor="val_loss")
    train_state = state_with({"w": jnp.zeros(1)})
    with pytest.raises(ValueError, match=r"cannot monitor 'val_loss'; available: \['loss'\]"):
        cb.on_epoch_end(cb.init(train_state), 1, {"loss": 1.0}, train_state)
