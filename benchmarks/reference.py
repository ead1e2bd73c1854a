"""The hand-written reference training loop the speed benchmarks hold ``train.fit`` against.

The reference is what a careful JAX user writes by hand: params as a tuple of dicts, one
``jax.jit`` of a ``lax.scan`` over an epoch of on-device shuffled mini-batches,
``jax.value_and_grad`` of a plain-JAX loss, an optax optimizer, one host sync per epoch.
A benchmark supplies only the reference loss ``loss_fn(params, x, y, key) -> scalar``
(``key`` is the step's dropout key); `fit_against_reference` times the reference, ``fit``
and ``fit(grad="backprop")`` interleaved (`timing.interleaved_rounds`) from the same params
on the same data and batch size, and returns the paired speed ratios.  With
``no_shuffle=True`` it also times the floor: the same hand-written scan over the batches in
their stored order, with no shuffle at all (``fit`` still reshuffles every epoch).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn import train
from timing import interleaved_rounds, markdown_table, median_ratio, paired_ratios, speed_cell

LossFn = Callable[[tuple, jax.Array, jax.Array, jax.Array], jax.Array]


def random_data(n: int, x_shape: tuple[int, ...], *, n_classes: int | None = None,
                y_shape: tuple[int, ...] = (), seed: int = 0) -> tuple[jax.Array, jax.Array]:
    """``n`` examples with standard normal inputs ``(n, *x_shape)`` and targets: integer labels
    in ``[0, n_classes)``, or standard normal ``(n, *y_shape)`` when ``n_classes`` is None.
    Speed does not depend on what the numbers are, only on their shapes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *x_shape), dtype=np.float32)
    y = (rng.integers(0, n_classes, n).astype(np.int32) if n_classes is not None
         else rng.standard_normal((n, *y_shape), dtype=np.float32))
    return jnp.asarray(x), jnp.asarray(y)


def reference_params(params) -> tuple:
    """jaxnn's params without the parameter-free layers' ``()``: a tuple of dicts (fresh copies)."""
    return tuple(jax.tree_util.tree_map(jnp.array, p) for p in params if p != ())


def shuffled_batches(x, y, key, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """The epoch's mini-batches ``(n_batches, batch_size, ...)`` of a permutation by ``key``;
    the last partial batch is dropped (as ``fit`` does)."""
    n_batches = x.shape[0] // batch_size
    order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
    return (x[order].reshape(n_batches, batch_size, *x.shape[1:]),
            y[order].reshape(n_batches, batch_size, *y.shape[1:]))


def batches_in_order(x, y, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """The first ``n // batch_size`` mini-batches in the stored order, no shuffle: the floor
    a shuffling loop is held against (a reshape, no copy)."""
    n_batches = x.shape[0] // batch_size
    return (x[: n_batches * batch_size].reshape(n_batches, batch_size, *x.shape[1:]),
            y[: n_batches * batch_size].reshape(n_batches, batch_size, *y.shape[1:]))


def step_fn(loss_fn: LossFn, optimizer: optax.GradientTransformation):
    """One training step ``(params, opt_state, x, y, key) -> (params, opt_state, loss)``."""

    def step(params, opt_state, x, y, key):
        value, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def epoch_fn(loss_fn: LossFn, optimizer: optax.GradientTransformation, batch_size: int, shuffle: bool = True):
    """One ``jax.jit`` of a ``lax.scan`` of `step_fn` over the epoch's shuffled mini-batches
    (`batches_in_order` when not ``shuffle``):
    ``(params, opt_state, x, y, key) -> (params, opt_state, mean loss)``."""
    step = step_fn(loss_fn, optimizer)

    def epoch(params, opt_state, x, y, key):
        def body(carry, batch):
            params, opt_state, i = carry
            params, opt_state, value = step(params, opt_state, *batch, jax.random.fold_in(key, i))
            return (params, opt_state, i + 1), value

        batches = shuffled_batches(x, y, key, batch_size) if shuffle else batches_in_order(x, y, batch_size)
        (params, opt_state, _), values = jax.lax.scan(body, (params, opt_state, 0), batches)
        return params, opt_state, values.mean()

    return jax.jit(epoch, donate_argnums=(0, 1))


def epoch_key(epoch: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(0), epoch)


def time_reference(epoch, params, optimizer, x, y, epochs: int) -> float:
    """Seconds for ``epochs`` epochs of an `epoch_fn`, one host sync per epoch (as ``fit``)."""
    params = reference_params(params)
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    for e in range(epochs):
        params, opt_state, loss = epoch(params, opt_state, x, y, epoch_key(e))
        float(loss)
    return time.perf_counter() - start


def time_step_loop(step, params, optimizer, x, y, batch_size: int, epochs: int) -> float:
    """Seconds for ``epochs`` epochs of a `step_fn` jitted alone and called once per batch from
    Python (one dispatch per step), over the same device-shuffled batches; one sync per epoch."""
    params = reference_params(params)
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    for e in range(epochs):
        xs, ys = shuffled_batches(x, y, epoch_key(e), batch_size)
        for i in range(xs.shape[0]):
            params, opt_state, loss = step(params, opt_state, xs[i], ys[i], jax.random.fold_in(epoch_key(e), i))
        float(loss)
    return time.perf_counter() - start


def time_fit(model, params, loss: str, optimizer, x, y, batch_size: int, epochs: int,
             grad: str = "autodiff") -> float:
    """Seconds for ``train.fit`` of ``epochs`` epochs (no progress bar)."""
    start = time.perf_counter()
    train.fit(model, params, loss, optimizer, x, y, epochs=epochs, batch_size=batch_size,
              key=jax.random.key(0), grad=grad, progress=False)
    return time.perf_counter() - start


def fit_against_reference(model, params, loss: str, reference_loss: LossFn, x, y, *, batch_size: int,
                          epochs: int, rounds: int, step_loop: bool = False, no_shuffle: bool = False) -> dict:
    """Times per epoch of the reference, ``fit`` and ``fit(grad="backprop")`` (and, with
    ``step_loop``, the reference's step-per-dispatch loop; with ``no_shuffle``, the reference
    scan without any shuffle), optax Adam 1e-3, ``epochs`` epochs per timing, ``rounds``
    interleaved rounds after one compiling epoch of each.

    Returns median milliseconds per epoch (``<name>_ms``), ``speeds`` (the per-round
    reference time / fit time: 1.0 = same speed, > 1 = jaxnn faster), ``backprop_speed``
    (median reference / backprop), ``backprop_over_autodiff`` (median backprop / fit) and,
    with ``no_shuffle``, ``floor_speeds`` (the per-round no-shuffle time / fit time).
    """
    optimizer = optax.adam(1e-3)
    epoch = epoch_fn(reference_loss, optimizer, batch_size)
    runs = {
        "reference": lambda n: time_reference(epoch, params, optimizer, x, y, n),
        "fit": lambda n: time_fit(model, params, loss, optimizer, x, y, batch_size, n),
        "backprop": lambda n: time_fit(model, params, loss, optimizer, x, y, batch_size, n, grad="backprop"),
    }
    if step_loop:
        step = jax.jit(step_fn(reference_loss, optimizer), donate_argnums=(0, 1))
        runs["step_loop"] = lambda n: time_step_loop(step, params, optimizer, x, y, batch_size, n)
    if no_shuffle:
        in_order = epoch_fn(reference_loss, optimizer, batch_size, shuffle=False)
        runs["no_shuffle"] = lambda n: time_reference(in_order, params, optimizer, x, y, n)
    for run in runs.values():
        run(1)  # compile
    times = interleaved_rounds({name: lambda run=run: run(epochs) / epochs for name, run in runs.items()}, rounds)
    floor = {"floor_speeds": paired_ratios(times["no_shuffle"], times["fit"])} if no_shuffle else {}
    return {**{f"{name}_ms": 1e3 * statistics.median(t) for name, t in times.items()}, **floor,
            "speeds": paired_ratios(times["reference"], times["fit"]),
            "backprop_speed": median_ratio(times["reference"], times["backprop"]),
            "backprop_over_autodiff": median_ratio(times["backprop"], times["fit"])}


def speed_table(rows: list[dict], extra_columns: dict[str, Callable[[dict], str]], ms: str = ".1f") -> str:
    """Markdown: per row (a `fit_against_reference` result with its ``config`` name) the model,
    reference and fit ms/epoch, fit's speed with quartiles, then ``extra_columns``
    (title -> the row's formatted cell)."""
    columns = ["model", "reference ms/epoch", "fit ms/epoch", "fit speed vs reference (quartiles)"]
    return markdown_table(columns + list(extra_columns), [
        [r["config"], f"{r['reference_ms']:{ms}}", f"{r['fit_ms']:{ms}}", speed_cell(r["speeds"])]
        + [cell(r) for cell in extra_columns.values()] for r in rows])
