"""Per-epoch hooks for `train.fit`: early stopping and reduce-on-plateau (Keras's callbacks,
as pure, jit-free functions).

A `Callback` is a record of small functions over its own state, a value (a NamedTuple of
Python scalars and arrays) that goes in and comes out, so `fit` can checkpoint it with
the train state and resume bit for bit.  All run on the host once per epoch, after the
compiled epoch, and never change compiled code:

    state = cb.init(train_state)
    state, train_state, record, stop = cb.on_epoch_end(state, epoch, record, train_state)
    train_state, history = cb.on_train_end(state, train_state, history)

``record`` is the epoch's numbers (``{"loss": ..., "val_loss": ...}``); a callback may
add its own (``lr_scale``).  Both built-ins decide on the one plateau rule,
`optim.schedules.plateau_update`; a monitored name with ``acc`` or ``r2`` in it is
maximized, anything else minimized (Keras's ``mode="auto"``).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import optax

from jaxnn import optim
from jaxnn.optim.schedules import Plateau, plateau_update
from jaxnn.spec import cached
from jaxnn.util import copy_tree


def _keep(optimizer):
    return optimizer


class Callback(NamedTuple):
    """``init``, ``on_epoch_end``, ``on_train_end`` (see the module doc); ``wrap_optimizer``
    adapts the optimizer before training (reduce-on-plateau adds its scale factor)."""

    init: Callable[[Any], Any]
    on_epoch_end: Callable[[Any, int, dict, Any], tuple[Any, Any, dict, bool]]
    on_train_end: Callable[[Any, Any, dict], tuple[Any, dict]] = lambda state, train_state, history: (
        train_state, history)
    wrap_optimizer: Callable[[optax.GradientTransformation], optax.GradientTransformation] = _keep


def sign_of(monitor: str) -> float:
    """-1 for scores to maximize (accuracy, R^2), +1 for values to minimize (losses)."""
    return -1.0 if ("acc" in monitor or "r2" in monitor) else 1.0


def monitored(monitor: str, record: dict) -> float:
    """``record[monitor]`` signed so that lower is better, or ValueError naming the choices."""
    if monitor not in record:
        raise ValueError(f"fit: cannot monitor {monitor!r}; available: {sorted(record)}")
    return sign_of(monitor) * record[monitor]


# --- early stopping ---------------------------------------------------------------------

class EarlyStoppingState(NamedTuple):
    """The plateau of the monitored value, the best epoch (0: none yet) and, with
    ``restore_best``, a copy of its params."""

    plateau: Plateau
    best_epoch: int
    best_params: Any


def early_stopping(patience: int, monitor: str = "val_loss", min_delta: float = 0.0,
                   restore_best: bool = True) -> Callback:
    """Stop after ``patience`` epochs in which ``monitor`` did not improve by more than
    ``min_delta``; ``restore_best`` ends with the best epoch's params (Prechelt 1998,
    "Early stopping - but when?")."""
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"fit: patience must be a positive int, got {patience!r}")

    def init(train_state) -> EarlyStoppingState:
        return EarlyStoppingState(Plateau(), 0, copy_tree(train_state.params) if restore_best else None)

    def on_epoch_end(state: EarlyStoppingState, epoch: int, record: dict, train_state):
        improved, plateau = plateau_update(state.plateau, monitored(monitor, record), min_delta)
        if improved:
            state = EarlyStoppingState(plateau, epoch, copy_tree(train_state.params) if restore_best else None)
        else:
            state = state._replace(plateau=plateau)
        return state, train_state, record, plateau.bad_epochs >= patience

    def on_train_end(state: EarlyStoppingState, train_state, history: dict):
        if state.best_epoch == 0:
            return train_state, history
        history = {**history, "best_epoch": state.best_epoch}
        if restore_best:
            train_state = train_state._replace(params=state.best_params)
        return train_state, history

    return Callback(init, on_epoch_end, on_train_end)


# --- reduce the learning rate on a plateau ----------------------------------------------------

# One wrapper per optimizer, so repeated fit(..., reduce_lr=...) calls reuse the compiled epoch.
_with_lr_factor = cached(maxsize=64)(optim.scale_by_factor)


def reduce_lr_on_plateau(rule: optim.ReduceOnPlateau, monitor: str = "val_loss") -> Callback:
    """Scale every update by ``rule``'s factor, updated once per epoch from ``monitor``.

    The factor lives in the optimizer state (`optim.scale_by_factor`), so nothing
    recompiles; ``history["lr_scale"]`` records it.
    """
    def on_epoch_end(state, epoch: int, record: dict, train_state):
        scale, state = rule.update(state, monitored(monitor, record))
        train_state = train_state._replace(opt_state=optim.set_factor(train_state.opt_state, scale))
        return state, train_state, {**record, "lr_scale": scale}, False

    return Callback(lambda train_state: rule.init(), on_epoch_end, wrap_optimizer=_with_lr_factor)
