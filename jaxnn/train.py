"""The compiled training loop: `Objective`, `TrainState`, `train_step`, `train_epoch`, `fit`.

The epoch is the unit of compilation: the dataset lives on the device, an epoch is one
``jax.jit`` of a ``lax.scan`` over mini-batches shuffled on the device, and the host
syncs once per epoch.  What defines the function being minimized (model, loss, gradient
path, l2) is one hashable value, `Objective`; with the optimizer and the batch size it
keys the cache of compiled epochs, and ``jax.jit`` caches per shape, so calling `fit`
again with the same objects and shapes compiles nothing.

Mini-batches: each epoch draws a permutation ``p`` of the examples (`shuffle.permutation`:
a keyed Feistel bijection, O(n), no sort) and puts example ``i`` at position ``p[i]`` of
the epoch; it takes ``n // batch_size`` full batches, and the ``n % batch_size`` examples
placed last sit that epoch out (a fresh permutation every epoch, so every example is
used), which keeps one batch shape and one compiled program.

Non-finite loss: the epoch reports whether its losses and final params are all finite
(one check per epoch, none per step); if not, `fit` stops, naming the epoch, and returns
the params from the end of the last finite epoch.

`evaluate` and `predict` live in `jaxnn.evaluation` (re-exported here); early stopping and
reduce-on-plateau in `jaxnn.callbacks`.
"""
from __future__ import annotations

import functools
import time
import warnings
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from jaxnn import backprop, callbacks as callbacks_lib, checkpoint, losses, optim, parallel, shuffle
from jaxnn.evaluation import check_data, evaluate, predict, score  # noqa: F401  (evaluate, predict re-exported)
from jaxnn.layers import Layer
from jaxnn.layers.base import check_layer
from jaxnn.spec import cached
from jaxnn.util import all_finite, as_int, as_key, as_numeric, check_number, copy_tree


class Objective(NamedTuple):
    """What training minimizes: ``loss(model.apply(params, x), y) + l2/2 sum ||W||^2``
    (biases not regularized), and the gradient path that differentiates it:
    ``"autodiff"`` (``jax.value_and_grad``) or ``"backprop"`` (the hand-derived one).

    Hashable, so it keys the compiled-epoch cache.  Build it with `objective`.
    """

    model: Layer
    loss: losses.Loss
    grad: str = "autodiff"
    l2: float = 0.0

    def value_and_grad(self) -> Callable[..., tuple[Array, Any]]:
        """``fn(params, x, y, *, key=None) -> (value, grads)`` along the chosen path."""
        return backprop.gradient_path(self.grad)(self.model, self.loss, l2=self.l2)


def objective(model: Layer, loss, *, grad: str = "autodiff", l2: float = 0.0) -> Objective:
    """An `Objective`, checked: a known loss and gradient path, ``l2 >= 0``."""
    check_layer("model", model)
    backprop.gradient_path(grad)
    l2 = check_number("l2 (it adds l2/2 ||W||^2 to the loss)", l2, 0)
    return Objective(model, losses.get(loss), grad, float(l2))


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


@cached(maxsize=64)
def _compiled_init_state(optimizer, mesh=None):
    """`init_state` as one compiled call; its params are new buffers (safe to donate),
    replicated over ``mesh`` when there is one."""
    return jax.jit(lambda params, key: init_state(params, optimizer, key),
                   out_shardings=None if mesh is None else parallel.replicated(mesh))


# --- one step, one epoch -------------------------------------------------------------------

def _step_fn(objective: Objective, optimizer, split_update: Callable = lambda tree: tree) -> Callable:
    """``step(params, opt_state, x, y, key) -> (params, opt_state, loss)``; ``split_update``
    places the gradients and params the update reads (`parallel.split_for_update` for
    ``shard_optimizer``)."""
    value_and_grad = objective.value_and_grad()

    def step(params, opt_state, x, y, key):
        value, grads = value_and_grad(params, x, y, key=key)
        grads, own = split_update((grads, params))
        updates, opt_state = optimizer.update(grads, opt_state, own)
        return optim.apply_updates(own, updates), opt_state, value

    return step


def train_step(objective: Objective, optimizer, state: TrainState, x: Array, y: Array) -> tuple[TrainState, Array]:
    """One optimizer step on the batch ``(x, y)`` (not compiled by itself; jit it or use
    `train_epoch`).  The dropout key is ``fold_in(state.key, state.step)``."""
    step = _step_fn(objective, optimizer)
    params, opt_state, value = step(state.params, state.opt_state, x, y,
                                    jax.random.fold_in(state.key, state.step))
    return TrainState(params, opt_state, state.step + 1, state.key), value


class EpochResult(NamedTuple):
    loss: Array          # mean loss over the epoch's steps
    finite: Array        # False if a loss or the final params are NaN or inf


def _epoch_fn(objective: Objective, optimizer, batch_size: int, mesh=None, shard_optimizer: bool = False) -> Callable:
    split_update = (lambda tree: parallel.split_for_update(tree, mesh)) if shard_optimizer else (lambda tree: tree)
    step = parallel.data_parallel_step(_step_fn(objective, optimizer, split_update), mesh,
                                       shard_optimizer)  # the step itself without a mesh

    def epoch(state: TrainState, x: Array, y: Array, epoch_index: Array):
        """Shuffle with fold_in(key, epoch); step s uses dropout key fold_in(epoch key, s)."""
        n_batches = x.shape[0] // batch_size
        epoch_key = jax.random.fold_in(state.key, epoch_index)
        if mesh is None:
            xs, ys = shuffle.shuffled_batches(epoch_key, batch_size, x, y)
        else:  # each device lays out only its rows of every batch
            xs, ys = parallel.per_device_rows(
                lambda part, parts, k, x, y: shuffle.shuffled_batches(k, batch_size, x, y, part=part, parts=parts),
                mesh, epoch_key, x, y)

        def body(carry, batch):
            params, opt_state, step_index = carry
            params, opt_state, value = step(params, opt_state, *batch, jax.random.fold_in(epoch_key, step_index))
            return (params, opt_state, step_index + 1), value

        (params, opt_state, _), values = jax.lax.scan(body, (state.params, state.opt_state, state.step), (xs, ys))
        if shard_optimizer:  # the epoch's outputs: params whole on every device, the state split
            params, opt_state = parallel.keep_replicated(params, mesh), parallel.split_for_update(opt_state, mesh)
        mean_loss = jnp.mean(values)
        new_state = TrainState(params, opt_state, state.step + n_batches, state.key)
        return new_state, EpochResult(mean_loss, jnp.isfinite(mean_loss) & all_finite(params))

    return epoch


@cached(maxsize=64)
def _compiled_epoch(objective: Objective, optimizer, batch_size: int, mesh=None, shard_optimizer: bool = False):
    # with shard_optimizer the optimizer state leaves split (the constraints inside place them)
    return jax.jit(_epoch_fn(objective, optimizer, batch_size, mesh, shard_optimizer), donate_argnums=0,
                   out_shardings=None if mesh is None or shard_optimizer else parallel.replicated(mesh))


def train_epoch(objective: Objective, optimizer, state: TrainState, x: Array, y: Array, *,
                batch_size: int, epoch: int = 0, mesh=None, shard_optimizer: bool = False
                ) -> tuple[TrainState, EpochResult]:
    """One epoch: shuffle on the device, then a compiled ``lax.scan`` of `train_step`.

    ``state`` is donated: do not reuse it after the call.  Compiled once per
    (objective, optimizer, batch_size, mesh, shard_optimizer) and input shapes.  With a
    ``mesh`` (`parallel.data_mesh`: a ``Mesh`` with a ``"data"`` axis, or a number of
    devices) every batch is sharded over its ``"data"`` axis and the state is replicated
    (placed so here if it is not yet); ``x, y`` may be replicated or sharded along their
    rows.  ``shard_optimizer=True`` (with a mesh) keeps the optimizer state split over the
    devices instead (`parallel.optimizer_sharding`; ZeRO stage 1, Rajbhandari et al. 2020):
    each device updates its slice of the params, which are gathered at the start of the
    next step, so no device repeats the whole update and each holds 1/N of the optimizer
    state; the returned params are whole on every device.
    """
    mesh = parallel.data_mesh(mesh, "train_epoch")
    shard_optimizer = _check_shard_optimizer(shard_optimizer, mesh, "train_epoch")
    epoch_fn = _compiled_epoch(objective, optimizer, batch_size, mesh, shard_optimizer)
    if shard_optimizer:
        replicated = parallel.replicate((state.params, state.step, state.key), mesh)
        state = TrainState(replicated[0], parallel.place_optimizer_state(state.opt_state, mesh), *replicated[1:])
    else:
        state = parallel.replicate(state, mesh)
    # a NumPy scalar goes to the device with the call; jnp.asarray would be an eager op (~70 us)
    return epoch_fn(state, x, y, np.int32(epoch))


def _check_shard_optimizer(shard_optimizer, mesh, what: str) -> bool:
    if not isinstance(shard_optimizer, bool):
        raise ValueError(f"{what}: shard_optimizer must be True or False, got {shard_optimizer!r}")
    if shard_optimizer and mesh is None:
        raise ValueError(f"{what}: shard_optimizer=True splits the optimizer state over the devices of a mesh; "
                         f"pass mesh=N (or a Mesh with a 'data' axis), or leave shard_optimizer=False")
    return shard_optimizer


# --- a run: the values fit carries from epoch to epoch ------------------------------------------

TRAIN_STATE_FILE = "train_state.npz"  # written by fit(checkpoint_dir=...)


class Run(NamedTuple):
    """Everything `fit` carries between epochs, checkpointed whole so that a resumed run
    ends bit-identical to an uninterrupted one: the train state, each callback's state,
    the history, the next epoch, and why training stopped (``""`` while it goes on)."""

    state: TrainState
    hooks: tuple
    history: dict
    epoch: int
    stopped: str = ""


def _new_run(optimizer, params, key, hooks: Sequence[callbacks_lib.Callback], mesh=None) -> Run:
    state = _compiled_init_state(optimizer, mesh)(params, key)  # copies params: the epoch donates them
    return Run(state, tuple(hook.init(state) for hook in hooks), {"epoch": [], "loss": [], "time": []}, 0)


def _save_run(directory: Path, run: Run) -> None:
    checkpoint.save(directory / TRAIN_STATE_FILE, {"state": run.state, "hooks": run.hooks},
                    {"history": run.history, "epoch": run.epoch, "stopped": run.stopped})


def _check_same_layout(template, loaded, where: str) -> None:
    """ValueError naming the first leaf whose path, shape or dtype differs."""
    expected = jax.tree_util.tree_flatten_with_path(template)[0]
    got = jax.tree_util.tree_flatten_with_path(loaded)[0]
    if len(expected) != len(got):
        raise ValueError(f"{where}: the checkpoint holds {len(got)} arrays, this model and optimizer "
                         f"{len(expected)}; train into a new checkpoint_dir or rebuild the saved model")
    for (path, want), (_, have) in zip(expected, got):
        if jnp.shape(want) != jnp.shape(have) or jnp.result_type(want) != jnp.result_type(have):
            raise ValueError(f"{where}: {jax.tree_util.keystr(path)} is {jnp.result_type(have)}"
                             f"{list(jnp.shape(have))} in the checkpoint, but this model and optimizer "
                             f"need {jnp.result_type(want)}{list(jnp.shape(want))}")


def _resumed(directory: Path, fresh: Run, epochs: int) -> Run:
    """The run saved in ``directory``, checked leaf by leaf against ``fresh``."""
    tree, meta = checkpoint.load(directory / TRAIN_STATE_FILE)
    where = f"fit(resume=True) from {directory}"
    if meta["epoch"] > epochs:
        raise ValueError(f"{where}: the checkpoint is at epoch {meta['epoch']}, past epochs={epochs}; "
                         f"pass epochs >= {meta['epoch']} or train into a new checkpoint_dir")
    saved = (tree["state"], tree["hooks"])
    _check_same_layout((fresh.state, fresh.hooks), saved, where)
    structure = jax.tree_util.tree_structure((fresh.state, fresh.hooks))
    state, hooks = jax.tree_util.tree_unflatten(structure, jax.tree_util.tree_leaves(saved))
    return Run(state, hooks, meta["history"], meta["epoch"], meta["stopped"])


# --- one epoch of fit ------------------------------------------------------------------------

def _append(history: dict, record: dict) -> None:
    for name, value in record.items():
        history.setdefault(name, []).append(value)


def _nan_stop(run: Run, last_finite_params) -> Run:
    kept = "the initial parameters" if run.epoch == 1 else f"the parameters from the end of epoch {run.epoch - 1}"
    message = (f"fit: the loss became NaN or inf in epoch {run.epoch}; stopped, returning {kept}. "
               f"Lower the learning rate or check the data.")
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    run.history.update(nan_epoch=run.epoch, stopped=message)
    return run._replace(state=run.state._replace(params=last_finite_params), stopped=message)


def _fit_epoch(objective: Objective, optimizer, run: Run, data: tuple, batch_size: int, hooks, metrics,
               mesh=None, shard_optimizer: bool = False) -> Run:
    """Train one epoch, score it, let each callback see it; appends to ``run.history``."""
    (x, y), validation = data
    epoch = run.epoch + 1  # 1-based in the history and in messages
    last_finite_params = copy_tree(run.state.params)  # the epoch donates the state
    start = time.perf_counter()
    state, result = train_epoch(objective, optimizer, run.state, x, y, batch_size=batch_size, epoch=run.epoch,
                                mesh=mesh, shard_optimizer=shard_optimizer)
    mean_loss, finite = jax.device_get((result.loss, result.finite))  # the one host sync of the epoch
    _append(run.history, {"epoch": epoch, "time": time.perf_counter() - start})
    record = {"loss": float(mean_loss)}
    if not finite:
        _append(run.history, record)
        return _nan_stop(run._replace(state=state, epoch=epoch), last_finite_params)
    if validation is not None:
        scores = score(objective.model, state.params, objective.loss, *validation, metrics=metrics, mesh=mesh)
        record.update({f"val_{name}": value for name, value in scores.items()})
    hook_states, stop = [], False
    for hook, hook_state in zip(hooks, run.hooks):
        hook_state, state, record, hook_stop = hook.on_epoch_end(hook_state, epoch, record, state)
        hook_states.append(hook_state)
        stop = stop or hook_stop
    _append(run.history, record)
    if stop:
        run.history["stopped_early"] = epoch
    return Run(state, tuple(hook_states), run.history, epoch, "early stopping" if stop else "")


# --- fit ----------------------------------------------------------------------------------

def _checked_inputs(objective: Objective, params, x, y, validation, epochs, batch_size,
                    checkpoint_dir, checkpoint_every, mesh=None) -> tuple:
    """``((x, y), validation)`` on the device (replicated over ``mesh``, `parallel.place_dataset`),
    after every check that needs no compiling."""
    if as_int(epochs) is None or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if checkpoint_every is not None and (checkpoint_dir is None or as_int(checkpoint_every) is None
                                         or checkpoint_every < 1):
        raise ValueError(f"fit: checkpoint_every must be a positive int and needs checkpoint_dir, "
                         f"got checkpoint_every={checkpoint_every!r}, checkpoint_dir={checkpoint_dir!r}")
    x, y = as_numeric("fit: x", x), as_numeric("fit: y", y)
    check_data(objective.model, params, objective.loss, x, y, "fit")
    if mesh is not None and as_int(batch_size) is not None and batch_size >= 1:
        parallel.check_global_batch(batch_size, x.shape[0], mesh, "fit")
    if as_int(batch_size) is None or not 1 <= batch_size <= x.shape[0]:
        raise ValueError(f"fit: batch_size must be an int in [1, {x.shape[0]}] (the number of training "
                         f"examples), got {batch_size!r}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError(f"fit: validation must be a pair (x_val, y_val), got {type(validation).__name__}"
                             f"{'' if not hasattr(validation, 'shape') else f' of shape {validation.shape}'}")
        validation = as_numeric("fit: validation x", validation[0]), as_numeric("fit: validation y", validation[1])
        check_data(objective.model, params, objective.loss, *validation, "fit(validation=...)")
    return parallel.place_dataset((x, y), mesh), parallel.place_dataset(validation, mesh)


def _as_optimizer(optimizer) -> optax.GradientTransformation:
    """An optax-protocol transformation; a name means that optimizer with its default
    learning rate (`optim.by_name`, `optim.DEFAULT_LEARNING_RATES`)."""
    if isinstance(optimizer, str):
        return _named_optimizer(optimizer)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise ValueError(f"fit: optimizer must be an optax-protocol transformation such as optim.adam(1e-3), "
                         f"or a name from {optim.NAMES}; got {type(optimizer).__name__}")
    return optimizer


_named_optimizer = functools.lru_cache(maxsize=None)(optim.by_name)  # one object per name: no recompiles


def _hooks(validation, patience, monitor, min_delta, restore_best, reduce_lr, extra) -> list:
    """fit's built-in callbacks (reduce-on-plateau, then early stopping), then ``extra``."""
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    hooks = []
    if reduce_lr is not None:
        hooks.append(callbacks_lib.reduce_lr_on_plateau(reduce_lr, monitor))
    if patience is not None:
        hooks.append(callbacks_lib.early_stopping(patience, monitor, min_delta, restore_best))
    return [*hooks, *extra]


class _Progress:
    """A tqdm bar (or plain lines without tqdm, nothing with ``enabled=False``)."""

    def __init__(self, epochs: int, start: int, enabled: bool):
        self.epochs, self.enabled, self.bar = epochs, enabled, None
        if enabled:
            from jaxnn.util import tqdm_or_none

            tqdm = tqdm_or_none()  # tqdm is an optional extra; without it, plain lines
            if tqdm is not None:
                self.bar = tqdm(total=epochs - start, unit="epoch", leave=True)

    def update(self, run: Run) -> None:
        record = {name: values[-1] for name, values in run.history.items()
                  if isinstance(values, list) and values and name not in ("epoch", "time")}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()})
            self.bar.update(1)
        elif self.enabled:
            print(f"epoch {run.epoch}/{self.epochs} " + " ".join(f"{k}={v:.4g}" for k, v in record.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fit(model: Layer, params, loss, optimizer: optax.GradientTransformation, x, y, *,
        epochs: int, batch_size: int, key: Array, grad: str = "autodiff", l2: float = 0.0,
        validation: tuple | None = None, metrics: Callable | None = None,
        patience: int | None = None, monitor: str | None = None, min_delta: float = 0.0,
        restore_best: bool = True, checkpoint_dir: str | Path | None = None,
        checkpoint_every: int | None = None, resume: bool = False,
        reduce_lr: optim.ReduceOnPlateau | None = None, callbacks: Sequence[callbacks_lib.Callback] = (),
        progress: bool = True, mesh=None, shard_optimizer: bool = False) -> tuple[Any, dict[str, list]]:
    """Train ``params`` by mini-batch gradient descent; returns ``(params, history)``.

    ``loss``: a name, a function or a `losses.Loss`; ``optimizer``: any optax-protocol
    transformation, or a name (that optimizer at its default learning rate).  ``x, y`` go on the device once; the last partial batch of each
    epoch's permutation is dropped.  ``key`` (or an int seed) shuffles and drives dropout:
    the same key gives a bit-identical run on CPU.  ``grad`` (``"autodiff"`` or the hand-derived
    ``"backprop"``) and ``l2`` (``l2/2 sum ||W||^2`` over weights) complete the `Objective`.
    ``validation=(x_val, y_val)`` is scored after every epoch with ``metrics(pred, y) ->
    dict`` (default: the loss's head metric).  ``patience``, ``min_delta``, ``restore_best``:
    `callbacks.early_stopping` on ``monitor`` (default ``"val_loss"``, else ``"loss"``);
    ``reduce_lr``: `callbacks.reduce_lr_on_plateau` of an ``optim.reduce_on_plateau``;
    ``callbacks``: more `callbacks.Callback` s.  ``checkpoint_dir``/``checkpoint_every``
    save the whole `Run` every N epochs (atomic); ``resume=True`` continues from it, ending
    bit-identical to an uninterrupted run.  ``progress``: a tqdm bar.

    ``mesh``: data parallelism over several devices (`jaxnn.parallel`): a
    ``jax.sharding.Mesh`` with an axis named ``"data"``, or ``N`` for a ``("data",)`` mesh
    over the first ``N`` of ``jax.devices()``, or a sequence of devices.  Every mini-batch
    is split over the ``"data"`` axis, params and optimizer state are replicated (and so are
    the returned params), and the epoch stays one compiled ``lax.scan`` with the gradient
    all-reduce inside it.  ``batch_size`` is the global batch and must divide by the number
    of devices; the batches are those of a one-device run with the same key, so the result
    equals it to float round-off.  The dataset is replicated on every device.
    ``shard_optimizer=True`` (with a ``mesh``) splits the optimizer state over the devices
    instead of replicating it (ZeRO stage 1, Rajbhandari et al. 2020; `train_epoch`): each
    device updates its slice of the params (the leaves whose first axis divides by the
    device count), and the params are gathered at the start of every step.  The same
    updates, 1/N of the optimizer state per device, and no device repeats the whole update.

    Across processes (``jax.distributed.initialize``, or `jaxnn.launch` and
    ``launch.maybe_initialize()`` to try it on one machine): every process calls ``fit``
    with the same arguments except ``x, y`` and ``validation``, which are *this process's
    shard*, of the same shape on every process (a ValueError lists each process's shape
    otherwise).  The global dataset is the shards in process order (process 0's rows
    first), gathered once onto every device; the mesh (default: all of ``jax.devices()``,
    every process's) and the key order its global batches as in one process, so the result
    equals a one-process ``fit`` on the whole data to float round-off.  ``key`` must be the
    same on every process (checked); the initial ``params`` are process 0's (broadcast).
    The history holds the global losses; only process 0 shows progress and writes
    checkpoints (``resume`` reads them on every process: a directory all can see).  Each
    process gets the trained params back as its own copy, on its first local device.

    History: ``epoch``, ``loss``, ``val_<name>``, ``time`` (seconds per epoch), plus
    ``lr_scale``, ``stopped_early``, ``best_epoch``, ``nan_epoch`` when they apply.
    """
    goal, key, optimizer = objective(model, loss, grad=grad, l2=l2), as_key(key, "fit"), _as_optimizer(optimizer)
    mesh = parallel.data_mesh(mesh, "fit")
    shard_optimizer = _check_shard_optimizer(shard_optimizer, mesh, "fit")
    if jax.process_count() > 1:  # x, y, validation: this process's shard, gathered into the global dataset
        mesh, (x, y, validation), params = parallel.join_processes(mesh, (x, y, validation), params, key, "fit")
    data = _checked_inputs(goal, params, x, y, validation, epochs, batch_size, checkpoint_dir, checkpoint_every,
                           mesh)
    hooks = _hooks(validation, patience, monitor, min_delta, restore_best, reduce_lr, callbacks)
    for hook in hooks:
        optimizer = hook.wrap_optimizer(optimizer)
    run = _new_run(optimizer, params, key, hooks, mesh)
    if resume and checkpoint_dir is not None and (Path(checkpoint_dir) / TRAIN_STATE_FILE).exists():
        run = _resumed(Path(checkpoint_dir), run, epochs)
    first_process = jax.process_index() == 0  # the one that prints and writes checkpoints
    progress_bar = _Progress(epochs, run.epoch, progress and first_process)
    while run.epoch < epochs and not run.stopped:
        run = _fit_epoch(goal, optimizer, run, data, batch_size, hooks, metrics, mesh, shard_optimizer)
        if checkpoint_every and run.epoch % checkpoint_every == 0:
            # every process takes part in gathering a split optimizer state; the first one writes
            saved = run._replace(state=parallel.replicate(run.state, mesh)) if shard_optimizer else run
            if first_process:
                _save_run(Path(checkpoint_dir), saved)
        progress_bar.update(run)
    progress_bar.close()
    state, history = run.state, run.history
    for hook, hook_state in zip(hooks, run.hooks):
        state, history = hook.on_train_end(hook_state, state, history)
    return parallel.process_local(state.params), history


from jaxnn.ensemble import fit_ensemble, init_ensemble, predict_ensemble  # noqa: E402,F401  (re-exported; ensemble builds on this module)
