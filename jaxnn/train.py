"""The compiled training loop: `TrainState`, `train_step`, `train_epoch`, `fit`, `evaluate`, `predict`.

The epoch is the unit of compilation (DESIGN.md): the dataset lives on the device, an
epoch is one ``jax.jit`` of a ``lax.scan`` over mini-batches shuffled on the device, and
the host syncs once per epoch.  The compiled epoch is cached per (model, loss,
optimizer, batch size, gradient path, l2), and ``jax.jit`` caches per shape, so calling
`fit` again with the same objects and shapes compiles nothing.

Mini-batches: each epoch draws a permutation and takes ``n // batch_size`` full
batches; the last ``n % batch_size`` examples of that permutation are dropped for that
epoch (a fresh permutation every epoch, so every example is used), which keeps one
batch shape and one compiled program.

Non-finite loss: the epoch reports whether its losses and final params are all finite
(one check per epoch, none per step); if not, `fit` stops, naming the epoch, and returns
the params from the end of the last finite epoch (it keeps a copy of them, cheap next
to an epoch).
"""
from __future__ import annotations

import functools
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn import backprop, checkpoint, losses, metrics as metrics_lib, optim
from jaxnn.layers import Layer

Array = jax.Array


class TrainState(NamedTuple):
    """Everything that changes during training, as values.

    ``step`` counts applied updates; ``key`` is the run's base key: epoch ``e`` shuffles
    with ``fold_in(key, e)``, so a run resumed at epoch ``e`` replays exactly.
    """

    params: Any
    opt_state: Any
    step: Array
    key: Array


def init_state(params, optimizer: optax.GradientTransformation, key: Array) -> TrainState:
    """A fresh `TrainState` for ``params``."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32), key)


@functools.lru_cache(maxsize=64)
def _compiled_init_state(optimizer):
    """`init_state` as one compiled call; its params are new buffers (safe to donate)."""
    return jax.jit(lambda params, key: init_state(params, optimizer, key))


_copy_tree = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))  # one dispatch, new buffers


# --- one step, one epoch -------------------------------------------------------------------

def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


def _step_fn(model: Layer, loss, optimizer, grad: str, l2: float) -> Callable:
    """``step(params, opt_state, x, y, key) -> (params, opt_state, loss)``."""
    value_and_grad = backprop.gradient_path(grad)(model, loss, l2=l2)

    def step(params, opt_state, x, y, key):
        value, grads = value_and_grad(params, x, y, key=key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def train_step(model: Layer, loss, optimizer, state: TrainState, x: Array, y: Array, *,
               grad: str = "autodiff", l2: float = 0.0) -> tuple[TrainState, Array]:
    """One optimizer step on the batch ``(x, y)`` (not compiled by itself; jit it or use
    `train_epoch`).  The dropout key is ``fold_in(state.key, state.step)``."""
    step = _step_fn(model, loss, optimizer, grad, l2)
    params, opt_state, value = step(state.params, state.opt_state, x, y,
                                       jax.random.fold_in(state.key, state.step))
    return TrainState(params, opt_state, state.step + 1, state.key), value


class EpochResult(NamedTuple):
    loss: Array          # mean loss over the epoch's steps
    finite: Array        # False if a loss or the final params are NaN or inf


def _epoch_fn(model: Layer, loss, optimizer, batch_size: int, grad: str, l2: float) -> Callable:
    step = _step_fn(model, loss, optimizer, grad, l2)

    def epoch(state: TrainState, x: Array, y: Array, epoch_index: Array):
        """Shuffle with fold_in(key, epoch); step s uses dropout key fold_in(epoch key, s)."""
        _TRACES["epoch"] += 1
        n_batches = x.shape[0] // batch_size
        epoch_key = jax.random.fold_in(state.key, epoch_index)
        order = jax.random.permutation(epoch_key, x.shape[0])[: n_batches * batch_size]
        xs = x[order].reshape(n_batches, batch_size, *x.shape[1:])
        ys = y[order].reshape(n_batches, batch_size, *y.shape[1:])

        def body(carry, batch):
            params, opt_state, step_index = carry
            params, opt_state, value = step(params, opt_state, *batch, jax.random.fold_in(epoch_key, step_index))
            return (params, opt_state, step_index + 1), value

        (params, opt_state, _), values = jax.lax.scan(body, (state.params, state.opt_state, state.step), (xs, ys))
        mean_loss = jnp.mean(values)
        new_state = TrainState(params, opt_state, state.step + n_batches, state.key)
        return new_state, EpochResult(mean_loss, jnp.isfinite(mean_loss) & _all_finite(params))

    return epoch


TRAIN_STATE_FILE = "train_state.npz"  # written by fit(checkpoint_dir=...)

_TRACES = {"epoch": 0}  # how many times an epoch was traced (compiled); read by tests


def epoch_trace_count() -> int:
    """How many times any epoch function has been traced in this process."""
    return _TRACES["epoch"]


@functools.lru_cache(maxsize=64)
def _compiled_epoch(model, loss, optimizer, batch_size, grad, l2):
    return jax.jit(_epoch_fn(model, loss, optimizer, batch_size, grad, l2), donate_argnums=0)


def train_epoch(model: Layer, loss, optimizer, state: TrainState, x: Array, y: Array, *,
                batch_size: int, epoch: int = 0, grad: str = "autodiff",
                l2: float = 0.0) -> tuple[TrainState, EpochResult]:
    """One epoch: shuffle on the device, then a compiled ``lax.scan`` of `train_step`.

    ``state`` is donated: do not reuse it after the call.  Compiled once per
    (model, loss, optimizer, batch_size, grad, l2) and input shapes.
    """
    epoch_fn = _compiled_epoch(model, losses.get(loss), optimizer, batch_size, grad, float(l2))
    return epoch_fn(state, x, y, jnp.asarray(epoch, jnp.int32))


# --- inference ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _compiled_predict(model: Layer, chunk: int):
    def predict_chunks(params, x_chunks):
        return jax.lax.map(lambda xc: model.apply(params, xc), x_chunks)

    return jax.jit(predict_chunks)


def predict(model: Layer, params, x, *, batch_size: int = 1024) -> Array:
    """``model.apply(params, x)`` in inference mode, in chunks of ``batch_size`` rows
    (padded, one compiled program) so large inputs need bounded memory."""
    x = jnp.asarray(x)
    n = x.shape[0]
    chunk = max(1, min(batch_size, n))
    n_chunks = math.ceil(n / chunk)
    padded = jnp.concatenate([x, jnp.zeros((n_chunks * chunk - n, *x.shape[1:]), x.dtype)])
    out = _compiled_predict(model, chunk)(params, padded.reshape(n_chunks, chunk, *x.shape[1:]))
    return out.reshape(n_chunks * chunk, *out.shape[2:])[:n]


def _classification_metrics(pred, y):
    return {"accuracy": metrics_lib.accuracy(pred, y)}


def _logit_metrics(pred, y):
    """Binary logits: class 1 where z > 0 (i.e. sigmoid(z) > 1/2)."""
    return {"accuracy": metrics_lib.accuracy(pred, y, threshold=0.0)}


def _regression_metrics(pred, y):
    return {"r2": metrics_lib.r2_score(y.reshape(pred.shape), pred)}


# Default metrics per loss: accuracy for classification losses, R^2 for regression.
_CLASSIFICATION_LOSSES = {losses.softmax_cross_entropy, losses.cross_entropy, losses.binary_cross_entropy}


def _default_metrics(loss_fn: losses.Loss) -> Callable:
    value = getattr(loss_fn.value, "func", loss_fn.value)
    if value in _CLASSIFICATION_LOSSES:
        return _classification_metrics
    if value is losses.sigmoid_binary_cross_entropy:
        return _logit_metrics
    if value is losses.gaussian_nll:
        return lambda pred, y: {}
    return _regression_metrics


def evaluate(model: Layer, params, x, y, loss, *, metrics: Callable | None = None,
             batch_size: int = 1024) -> dict[str, float]:
    """Loss and metrics of ``params`` on ``(x, y)``: ``{"loss": ..., "accuracy": ...}``.

    ``metrics(pred, y) -> dict`` defaults to accuracy for classification losses and R^2
    for regression losses.  Returns Python floats (one host sync).
    """
    loss_fn = losses.get(loss)
    pred = predict(model, params, x, batch_size=batch_size)
    y = jnp.asarray(y)
    result = {"loss": loss_fn.value(pred, y), **(metrics or _default_metrics(loss_fn))(pred, y)}
    return {name: float(value) for name, value in jax.device_get(result).items()}


# --- validation of user input -------------------------------------------------------------

def _check_data(model: Layer, params, loss_fn: losses.Loss, x, y, what: str) -> None:
    """Raise ValueError before any tracing for the mistakes users make with data."""
    if x.shape[0] == 0:
        raise ValueError(f"{what}: the dataset is empty (x has shape {x.shape})")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{what}: x has {x.shape[0]} examples but y has {y.shape[0]}")
    if not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{what}: x contains NaN or inf; clean or impute the data first")
    if jnp.issubdtype(y.dtype, jnp.floating) and not np.all(np.isfinite(np.asarray(y))):
        raise ValueError(f"{what}: y contains NaN or inf")
    example = jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype)
    out = jax.eval_shape(lambda p, xb: model.apply(p, xb), params, example)  # layers name shape errors
    predictions = jax.ShapeDtypeStruct((y.shape[0], *out.shape[1:]), out.dtype)
    jax.eval_shape(loss_fn.value, predictions, y)  # the loss names target shape/dtype errors
    if jnp.issubdtype(y.dtype, jnp.integer) and y.shape == predictions.shape[:-1]:
        losses.check_labels(what, y, out.shape[-1])


# --- fit ----------------------------------------------------------------------------------

def _progress(epochs: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional extra; fall back to plain lines
        return None
    return tqdm(total=epochs, unit="epoch", leave=True)


# One wrapper per optimizer, so repeated fit(..., reduce_lr=...) calls reuse the compiled epoch.
_with_lr_factor = functools.lru_cache(maxsize=64)(optim.scale_by_factor)


def _save_checkpoint(directory: Path, state: TrainState, epoch: int, history: dict, plateau) -> None:
    tree = {"params": state.params, "opt_state": state.opt_state, "step": state.step, "key": state.key}
    meta = {"epoch": epoch, "history": history, "reduce_lr": None if plateau is None else list(plateau)}
    checkpoint.save(directory / TRAIN_STATE_FILE, tree, meta)


def _shaped_like(template, loaded):
    """``loaded``'s leaves in ``template``'s tree structure (e.g. optax's state classes)."""
    leaves = [jnp.asarray(leaf) for leaf in jax.tree_util.tree_leaves(loaded)]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)


def _load_checkpoint(directory: Path, template: TrainState):
    tree, meta = checkpoint.load(directory / TRAIN_STATE_FILE)
    try:
        state = TrainState(_shaped_like(template.params, tree["params"]),
                           _shaped_like(template.opt_state, tree["opt_state"]),
                           jnp.asarray(tree["step"], jnp.int32), tree["key"])
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"checkpoint in {directory} does not match this model/optimizer: {error}") from error
    return state, meta


def _monitored(monitor: str, record: dict) -> str:
    if monitor not in record:
        raise ValueError(f"fit: cannot monitor {monitor!r}; available: {sorted(record)}")
    return monitor


def fit(model: Layer, params, loss, optimizer: optax.GradientTransformation, x, y, *,
        epochs: int, batch_size: int, key: Array, grad: str = "autodiff", l2: float = 0.0,
        validation: tuple | None = None, metrics: Callable | None = None,
        patience: int | None = None, monitor: str | None = None, min_delta: float = 0.0,
        restore_best: bool = True, checkpoint_dir: str | Path | None = None,
        checkpoint_every: int | None = None, resume: bool = False,
        reduce_lr: optim.ReduceOnPlateau | None = None,
        progress: bool = True) -> tuple[Any, dict[str, list]]:
    """Train ``params`` by mini-batch gradient descent; returns ``(params, history)``.

    Args:
      model, params: the network and its initial params.
      loss: a name (``"softmax_cross_entropy"``), a loss function, or a `losses.Loss`.
      optimizer: any optax-protocol ``GradientTransformation`` (``jaxnn.optim`` or optax).
      x, y: training data (N, ...) and targets (N, ...); put on the device once.
      epochs, batch_size: the last partial batch of each epoch's permutation is dropped.
      key: PRNG key for shuffling and dropout; same key => bit-identical run on CPU.
      grad: ``"autodiff"`` (``jax.value_and_grad``) or ``"backprop"`` (hand-derived).
      l2: adds ``l2/2 sum ||W||^2`` over weights (not biases) to the objective.
      validation: ``(x_val, y_val)`` evaluated after every epoch.
      metrics: ``metrics(pred, y) -> dict`` for validation (default: accuracy or R^2).
      patience: early stopping after this many epochs without an improvement of
        ``monitor`` (default ``"val_loss"``, or ``"loss"`` without validation) by more
        than ``min_delta``; ``restore_best`` returns the best epoch's params.
      checkpoint_dir, checkpoint_every: save the train state every N epochs (atomic);
        ``resume=True`` continues from the checkpoint there, ending bit-identical to an
        uninterrupted run.
      reduce_lr: an ``optim.reduce_on_plateau(...)`` watching ``monitor`` once per epoch;
        it scales every update by its factor (held in the optimizer state, so nothing
        recompiles) and ``history["lr_scale"]`` records it.
      progress: a tqdm bar per run (``False`` for silence).

    History: ``epoch``, ``loss`` (mean training loss), ``val_loss`` and ``val_<metric>``,
    ``time`` (seconds per epoch); plus ``stopped_early``/``best_epoch``/``nan_epoch`` keys
    when they apply.
    """
    loss_fn = losses.get(loss)
    backprop.gradient_path(grad)
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    x, y = jnp.asarray(x), jnp.asarray(y)
    _check_data(model, params, loss_fn, x, y, "fit")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= x.shape[0]:
        raise ValueError(f"fit: batch_size must be an int in [1, {x.shape[0]}] (the number of training "
                         f"examples), got {batch_size!r}")
    if validation is not None:
        x_val, y_val = jnp.asarray(validation[0]), jnp.asarray(validation[1])
        _check_data(model, params, loss_fn, x_val, y_val, "fit(validation=...)")
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    if checkpoint_every is not None and checkpoint_dir is None:
        raise ValueError("fit: checkpoint_every needs checkpoint_dir")
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None

    if reduce_lr is not None:
        optimizer = _with_lr_factor(optimizer)
    plateau = reduce_lr.init() if reduce_lr is not None else None
    state = _compiled_init_state(optimizer)(params, key)  # copies params: the epoch donates them
    history: dict[str, list] = {"epoch": [], "loss": [], "time": []}
    first_epoch = 0
    if resume and checkpoint_dir is not None and (checkpoint_dir / TRAIN_STATE_FILE).exists():
        state, meta = _load_checkpoint(checkpoint_dir, state)
        first_epoch, history = meta["epoch"], meta["history"]
        if plateau is not None and meta.get("reduce_lr") is not None:
            plateau = type(plateau)(*meta["reduce_lr"])

    best = (math.inf, None, -1)  # (monitored value, params, epoch)
    bad_epochs = 0
    bar = _progress(epochs - first_epoch, progress)
    for epoch in range(first_epoch, epochs):
        last_finite_params = _copy_tree(state.params)  # the epoch donates state
        start = time.perf_counter()
        state, result = train_epoch(model, loss_fn, optimizer, state, x, y, batch_size=batch_size,
                                    epoch=epoch, grad=grad, l2=l2)
        mean_loss, finite = jax.device_get((result.loss, result.finite))  # the one host sync of the epoch
        record = {"loss": float(mean_loss)}
        history["time"].append(time.perf_counter() - start)
        history["epoch"].append(epoch + 1)
        if not finite:
            history["loss"].append(record["loss"])
            history["nan_epoch"] = epoch + 1
            message = (f"fit: the loss became NaN or inf in epoch {epoch + 1}; stopped, returning the "
                       f"parameters from the end of epoch {epoch}. Lower the learning rate or check the data.")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            history["stopped"] = message
            state = state._replace(params=last_finite_params)
            break
        if validation is not None:
            scores = evaluate(model, state.params, x_val, y_val, loss_fn, metrics=metrics)
            record.update({f"val_{name}": value for name, value in scores.items()})
        if reduce_lr is not None:
            scale, plateau = reduce_lr.update(plateau, record[_monitored(monitor, record)])
            state = state._replace(opt_state=optim.set_factor(state.opt_state, scale))
            record["lr_scale"] = scale
        for name, value in record.items():
            history.setdefault(name, []).append(value)
        if checkpoint_every and (epoch + 1) % checkpoint_every == 0:
            _save_checkpoint(checkpoint_dir, state, epoch + 1, history, plateau)
        if bar is not None:
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()})
            bar.update(1)
        elif progress:
            print(f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k}={v:.4g}" for k, v in record.items()))
        if patience is not None:
            if record[_monitored(monitor, record)] < best[0] - min_delta:
                best = (record[monitor], jax.tree_util.tree_map(jnp.copy, state.params)
                        if restore_best else None, epoch + 1)
                bad_epochs = 0
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    history["stopped_early"] = epoch + 1
                    break
    if bar is not None:
        bar.close()
    if patience is not None and best[2] > 0:
        history["best_epoch"] = best[2]
        if restore_best:
            return best[1], history
    return state.params, history
