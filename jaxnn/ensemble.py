"""Deep ensembles in one compiled program: `init_ensemble`, `fit_ensemble`, `predict_ensemble`.

A deep ensemble (Lakshminarayanan et al. 2017) is K copies of one network trained from
different random initial params and mini-batch orders; where the data say little, the
members disagree, so the spread of their predictions estimates the epistemic (model)
uncertainty (Liverpool, Introduction to Neural Networks I, "Limitations of neural
networks: data": "often estimated using Bayesian models or ensembles").

The K members are one *params stack*: a params pytree whose every leaf has a leading
member axis of length K (``member(params_stack, k)`` is member k's params).  An epoch of
all K members is ONE compiled program, ``jax.vmap`` of `train`'s epoch (on-device
shuffle and a ``lax.scan`` of optimizer steps) over the params, the optimizer state and
the key, with one host sync per epoch for all members together.

Keys: a single ``key`` (or int seed) gives member k the key ``jax.random.fold_in(key, k)``,
both in `init_ensemble` (its initial params) and in `fit_ensemble` (its shuffling and
dropout); a stack of K keys gives member k the k-th key as it is.  So member k of
``fit_ensemble(..., key=key)`` is ``train.fit(model, member(params_stack, k), ...,
key=jax.random.fold_in(key, k))``, to float32 round-off (bit for bit on CPU in the tests;
tests/test_ensemble.py), dropout, ``grad="backprop"`` and early stopping included.

Early stopping is per member: each member has its own plateau of the monitored value
(``val_loss`` by default); a member that stops is frozen (its params and optimizer state
no longer change; the compiled program still runs it, so nothing recompiles) and, with
``restore_best``, ends with its own best epoch's params, exactly what `train.fit` with the
same ``patience`` gives that member.  Training ends when every member has stopped or
after ``epochs``.  A member whose loss becomes NaN or inf is frozen the same way at the
params from the end of its last finite epoch (a warning names it); the others go on.
"""
from __future__ import annotations

import functools
import math
import time
import warnings
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxnn import callbacks as callbacks_lib
from jaxnn.evaluation import check_model_inputs, default_metrics
from jaxnn.layers import Layer
from jaxnn.layers.base import check_layer
from jaxnn.optim.schedules import Plateau, plateau_update
from jaxnn.spec import cached
from jaxnn.util import as_key, as_numeric, check_positive_int, copy_tree

# --- the member axis -------------------------------------------------------------------------


def ensemble_size(params_stack, what: str = "params_stack") -> int:
    """K, the leading member axis every leaf of ``params_stack`` shares; a ValueError naming
    the leaves' shapes when there are no leaves, a leaf has no axis, the leaves disagree or K = 0."""
    flat = jax.tree_util.tree_flatten_with_path(params_stack)[0]
    shapes = {jax.tree_util.keystr(path) or "params": tuple(jnp.shape(leaf)) for path, leaf in flat}
    sizes = {shape[0] if shape else None for shape in shapes.values()}
    if len(sizes) == 1 and None not in sizes and 0 not in sizes:
        return sizes.pop()
    listing = ", ".join(f"{path} {list(shape)}" for path, shape in list(shapes.items())[:8])
    if not shapes:
        raise ValueError(f"{what}: the params stack holds no arrays")
    if None in sizes:
        why = "a leaf is a scalar, without the leading member axis"
    elif sizes == {0}:
        why = "K = 0 members: an ensemble needs at least one"
    else:
        why = f"the leaves disagree on the leading member axis K ({sorted(sizes)})"
    raise ValueError(f"{what}: every leaf needs the same leading member axis K >= 1; {why}. "
                     f"Shapes: {listing}. Build it with init_ensemble(model, key, in_shape, members)")


def member(params_stack, k: int):
    """Member ``k``'s params: every leaf's ``[k]``."""
    return jax.tree_util.tree_map(lambda leaf: leaf[k], params_stack)


def member_keys(key, members: int, what: str = "member_keys") -> Array:
    """K keys: ``fold_in(key, k)`` for one key (or an int seed), a stack of K keys as it is;
    a ValueError naming the shapes when a stack's length is not K."""
    key = as_key(key, what)
    single_ndim = 0 if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else 1  # typed key, or legacy uint32[2]
    if key.ndim == single_ndim:
        return jax.vmap(lambda k: jax.random.fold_in(key, k))(jnp.arange(members))
    if key.ndim != single_ndim + 1 or key.shape[0] != members:
        raise ValueError(f"{what}: key must be one PRNG key (or an int seed) or a stack of K = {members} keys, "
                         f"one per member; got a key array of shape {key.shape} for params with K = {members}")
    return key


def init_ensemble(model: Layer, key, in_shape, members: int):
    """A params stack of ``members`` fresh inits: member k is ``model.init(fold_in(key, k),
    in_shape)`` (or the k-th key of a stack of ``members`` keys); every leaf gets a leading axis K."""
    check_layer("init_ensemble: model", model)
    members = check_positive_int("init_ensemble: members (the ensemble size K)", members)
    keys = member_keys(key, members, "init_ensemble")
    stack = [model.init(keys[k], in_shape)[1] for k in range(members)]  # init runs once; no need to compile it
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *stack)


# --- the compiled programs ---------------------------------------------------------------------

def _select(keep: Array, new: Array, old: Array) -> Array:
    """Per member: ``new`` where ``keep``, else ``old`` (leaves with a leading member axis)."""
    return jnp.where(keep.reshape(keep.shape + (1,) * (jnp.ndim(new) - 1)), new, old)


_select_tree = jax.jit(lambda keep, new, old: jax.tree_util.tree_map(functools.partial(_select, keep), new, old))


@cached(maxsize=64)
def _compiled_init(optimizer):
    """`train.init_state` of every member at once (new buffers: the epoch donates them)."""
    return jax.jit(jax.vmap(lambda params, key: train.init_state(copy_tree(params), optimizer, key)))


def _scores_fn(model: Layer, loss_fn, metrics: Callable | None) -> Callable:
    """``scores(params_stack, x, y) -> {"loss": (K,), <metric>: (K,)}`` in inference mode."""
    metrics = metrics or default_metrics(loss_fn)

    def one(params, x, y):
        pred = model.apply(params, x)
        return {"loss": loss_fn.value(pred, y), **metrics(pred, y)}

    return jax.vmap(one, in_axes=(0, None, None))


@cached(maxsize=64)
def _compiled_epoch(objective, optimizer, batch_size: int, metrics: Callable | None):
    """``(state, active, x, y, epoch, validation) -> (state, EpochResult, scores)`` for all K
    members: `train`'s epoch vmapped; a member not ``active`` (stopped) or not finite keeps
    its state; the validation scores of the kept params (None without validation)."""
    epoch = jax.vmap(train._epoch_fn(objective, optimizer, batch_size), in_axes=(0, None, None, None))
    scores = _scores_fn(objective.model, objective.loss, metrics)

    def ensemble_epoch(state, active, x, y, epoch_index, validation):
        new, result = epoch(state, x, y, epoch_index)
        keep = active & result.finite
        kept = jax.tree_util.tree_map(functools.partial(_select, keep), (new.params, new.opt_state, new.step),
                                      (state.params, state.opt_state, state.step))
        state = train.TrainState(*kept, state.key)
        return state, result, None if validation is None else scores(state.params, *validation)

    return jax.jit(ensemble_epoch, donate_argnums=0)


# --- per-member bookkeeping on the host -----------------------------------------------------------

class _Members:
    """Each member's early stopping (`plateau_update`, as `callbacks.early_stopping`), its NaN
    epoch, and, with ``restore_best``, the stack of best params on the device."""

    def __init__(self, members: int, patience: int | None, monitor: str, min_delta: float, best_params):
        self.k, self.patience, self.monitor, self.min_delta = members, patience, monitor, min_delta
        self.plateau, self.best_epoch = [Plateau()] * members, [0] * members
        self.stopped, self.nan_epoch = [None] * members, [None] * members
        self.best_params = best_params  # None: no restoring

    def active(self) -> np.ndarray:
        return np.array([s is None and n is None for s, n in zip(self.stopped, self.nan_epoch)])

    def update(self, epoch: int, record: dict, finite: np.ndarray, params) -> None:
        """After ``epoch`` (1-based): flag NaN members, step each plateau, stop, keep the best."""
        improved = np.zeros(self.k, bool)
        for k in np.flatnonzero(self.active()):
            if not finite[k]:
                self.nan_epoch[k] = epoch
                warnings.warn(f"fit_ensemble: member {k}'s loss became NaN or inf in epoch {epoch}; it is frozen at "
                              f"its params from the end of epoch {epoch - 1}. Lower the learning rate or check the "
                              f"data.", RuntimeWarning, stacklevel=4)
            elif self.patience is not None:
                value = callbacks_lib.monitored(self.monitor, {name: v[k] for name, v in record.items()})
                improved[k], self.plateau[k] = plateau_update(self.plateau[k], value, self.min_delta)
                self.best_epoch[k] = epoch if improved[k] else self.best_epoch[k]
                if self.plateau[k].bad_epochs >= self.patience:
                    self.stopped[k] = epoch
        if self.best_params is not None and improved.any():
            self.best_params = _select_tree(jnp.asarray(improved), params, self.best_params)

    def final(self, params):
        """Each member's best params where it had a best epoch (``restore_best``), else its last."""
        if self.best_params is None:
            return params
        return _select_tree(jnp.asarray(np.array(self.best_epoch) > 0), self.best_params, params)

    def summary(self) -> dict:
        out = {}
        if self.patience is not None:
            out["stopped_early"] = list(self.stopped)
            out["best_epoch"] = [e or None for e in self.best_epoch]
        if any(e is not None for e in self.nan_epoch):
            out["nan_epoch"] = list(self.nan_epoch)
        return out


def _record(result, scores, active: np.ndarray) -> dict:
    """The epoch's numbers, one list of K per name; NaN for a member that did not train this
    epoch (stopped before it), and for the validation scores of a member that became non-finite."""
    loss, finite, scores = jax.device_get((result.loss, result.finite, scores))  # the one host sync
    record = {"loss": np.where(active, loss, np.nan)}
    for name, values in (scores or {}).items():
        record[f"val_{name}"] = np.where(active & finite, values, np.nan)
    return {name: [float(v) for v in values] for name, values in record.items()}, np.asarray(finite)


def _print_progress(epoch: int, epochs: int, record: dict, active: np.ndarray) -> None:
    means = {name: np.mean([v for v in values if not math.isnan(v)] or [math.nan]) for name, values in record.items()}
    print(f"epoch {epoch}/{epochs} ({int(active.sum())} of {len(active)} members training; member means) "
          + " ".join(f"{name}={value:.4g}" for name, value in means.items()))


# --- fit_ensemble, predict_ensemble ---------------------------------------------------------------

def fit_ensemble(model: Layer, params_stack, loss, optimizer, x, y, *, epochs: int, batch_size: int, key,
                 grad: str = "autodiff", l2: float = 0.0, validation: tuple | None = None,
                 metrics: Callable | None = None, patience: int | None = None, monitor: str | None = None,
                 min_delta: float = 0.0, restore_best: bool = True, progress: bool = False) -> tuple[Any, dict]:
    """Train the K members of ``params_stack`` (`init_ensemble`) as one compiled epoch; returns
    ``(params_stack, history)``.

    The arguments are `train.fit`'s, per member: member k trains with ``key=fold_in(key, k)``
    (``key``: a key or an int seed), or with the k-th key of a stack of K keys.  ``metrics``
    must be traceable (it runs inside the compiled epoch, vmapped over the members).
    ``patience``: early stopping per member (see the module doc).  Not supported here:
    checkpoints, ``reduce_lr`` and extra callbacks (use `train.fit` per member for those).

    History: ``epoch`` and ``time`` (seconds per epoch, all members), and per epoch a list
    of K values (member k at ``[k]``) for ``loss`` and each ``val_<name>``: NaN for a member
    that had stopped before that epoch.  With ``patience``: ``stopped_early`` and
    ``best_epoch``, lists of K (an epoch or None); ``nan_epoch`` if a loss became NaN.
    """
    members = ensemble_size(params_stack, "fit_ensemble: params_stack")
    goal, optimizer = train.objective(model, loss, grad=grad, l2=l2), train._as_optimizer(optimizer)
    keys = member_keys(key, members, "fit_ensemble")
    (x, y), validation = train._checked_inputs(goal, member(params_stack, 0), x, y, validation, epochs, batch_size,
                                               None, None)
    if patience is not None:
        callbacks_lib.early_stopping(patience)  # checks patience
    state = _compiled_init(optimizer)(params_stack, keys)
    epoch_fn = _compiled_epoch(goal, optimizer, batch_size, metrics)
    book = _Members(members, patience, monitor or ("val_loss" if validation is not None else "loss"), min_delta,
                    copy_tree(state.params) if restore_best and patience is not None else None)
    history: dict = {"epoch": [], "loss": [], "time": []}
    for epoch in range(epochs):
        active = book.active()
        if not active.any():
            break
        start = time.perf_counter()
        state, result, scores = epoch_fn(state, jnp.asarray(active), x, y, np.int32(epoch), validation)
        record, finite = _record(result, scores, active)
        book.update(epoch + 1, record, finite, state.params)
        train._append(history, {"epoch": epoch + 1, "time": time.perf_counter() - start, **record})
        if progress:
            _print_progress(epoch + 1, epochs, record, active)
    return book.final(state.params), {**history, "members": members, **book.summary()}


@cached(maxsize=64)
def _compiled_predict(model: Layer):
    def predict_chunks(params, x_chunks):
        return jax.lax.map(lambda xc: model.apply(params, xc), x_chunks)

    return jax.jit(jax.vmap(predict_chunks, in_axes=(0, None)))


def predict_ensemble(model: Layer, params_stack, x, *, batch_size: int = 1024) -> Array:
    """Every member's ``model.apply(member(params_stack, k), x)`` in inference mode, stacked:
    x (N, ...) -> (K, N, ...out).  One compiled program for all members, in chunks of
    ``batch_size`` rows (padded) so large inputs need bounded memory, as `train.predict`."""
    members = ensemble_size(params_stack, "predict_ensemble: params_stack")
    batch_size = check_positive_int("predict_ensemble: batch_size", batch_size)
    x = as_numeric("predict_ensemble: x", x)
    check_model_inputs(model, member(params_stack, 0), x, "predict_ensemble")
    n = x.shape[0]
    chunk = max(1, min(batch_size, n))
    n_chunks = math.ceil(n / chunk)
    padded = jnp.concatenate([x, jnp.zeros((n_chunks * chunk - n, *x.shape[1:]), x.dtype)])
    out = _compiled_predict(model)(params_stack, padded.reshape(n_chunks, chunk, *x.shape[1:]))
    return out.reshape(members, n_chunks * chunk, *out.shape[3:])[:, :n]


# At the end: `train` re-exports this module's functions at its own end, so either module may
# be imported first (the functions above look `train` up when they run).
from jaxnn import train  # noqa: E402
