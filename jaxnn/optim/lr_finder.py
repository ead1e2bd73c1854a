"""Learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
WACV 2017; the fastai ``lr_find``).

Liverpool, "Gradient descent: remarks": "the recommended minimum learning rate is the
value where the loss decreases the fastest". The range test finds it empirically: train
for ``num_steps`` mini-batch steps while the learning rate grows exponentially from
``min_lr`` to ``max_lr``,

    lr_t = min_lr (max_lr / min_lr)^(t / (num_steps - 1)),      t = 0 .. num_steps - 1,

record each step's mini-batch loss ``L_t`` (measured before the update that uses ``lr_t``),
smooth it with a debiased exponential moving average (as Adam debiases its moments)

    a_t = (1 - s) a_{t-1} + s L_t,  a_{-1} = 0,     S_t = a_t / (1 - (1 - s)^(t + 1)),

stop counting once ``S_t > diverge_factor * min_{u <= t} S_u`` (the loss has blown up), and
suggest the ``lr_t`` where the smoothed curve falls fastest against ``log lr``, i.e. the
most negative slope ``(S_{t+h} - S_{t-h}) / (log lr_{t+h} - log lr_{t-h})`` (a central
difference over ``2h`` steps, ``h = half_window``), skipping the first ``skip_start``
steps. The moving average lags the raw losses by about ``1 / s`` steps, which moves the
suggestion towards larger rates; it stays below the divergence.

The sweep is one `jax.lax.scan` under `jax.jit`; mini-batches are drawn on device with
`jax.random` (``batch_size`` distinct examples per step, from ``fold_in(key, t)``).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
import optax

from jaxnn.optim.base import apply_updates
from jaxnn.util import as_int, check_number

PyTree = Any
Schedule = Callable[[Array], Array]


class LRFinderResult(NamedTuple):
    """Outcome of `lr_finder`; all arrays have length ``num_steps`` except ``suggestion``.

    learning_rates: the swept ``lr_t`` (exponentially spaced).
    losses: mini-batch loss ``L_t`` at the parameters after ``t`` updates (before the update
        with ``lr_t``); NaN after the step at which the test stopped.
    smoothed_losses: debiased EMA ``S_t`` of ``losses``; NaN after the stop.
    suggestion: () the ``lr_t`` with the steepest fall of ``S`` against ``log lr``; NaN when
        too few steps were recorded to form a slope.
    """

    learning_rates: Array
    losses: Array
    smoothed_losses: Array
    suggestion: Array


def exponential_sweep(min_lr, max_lr, num_steps: int) -> Schedule:
    """``lr_t = min_lr (max_lr / min_lr)^(t / (num_steps - 1))`` as an optax schedule,
    computed in the dtype of ``min_lr`` and ``max_lr`` (not that of the integer step)."""
    dtype = jnp.result_type(min_lr, max_lr, float)

    def schedule(step):
        fraction = jnp.minimum(step, num_steps - 1).astype(dtype) / (num_steps - 1)
        return min_lr * (max_lr / min_lr) ** fraction
    return schedule


def steepest_descent_lr(learning_rates: Array, smoothed_losses: Array, skip_start: int = 0,
                        half_window: int = 5) -> Array:
    """The ``lr_t`` where ``S`` falls fastest against ``log lr``.

    The slope is the central difference over ``2 * half_window`` steps,
    ``(S_{t+h} - S_{t-h}) / (log lr_{t+h} - log lr_{t-h})``, for ``h <= t < T - h`` and
    ``t >= skip_start``, using recorded (non-NaN) points only. A one-step difference of the
    moving average is ``s (L_t - S_{t-1})``, the noise of a single mini-batch; the wider
    difference averages it out while a genuine fall, spread over ``~1/s`` steps by the
    smoothing, is unchanged. (T,), (T,) -> (); NaN if no slope can be formed.
    """
    h = half_window
    log_lr = jnp.log(learning_rates)
    rise = smoothed_losses[2 * h:] - smoothed_losses[:-2 * h]
    slopes = rise / (log_lr[2 * h:] - log_lr[:-2 * h])
    centres = jnp.arange(h, learning_rates.shape[0] - h)
    slopes = jnp.where(~jnp.isnan(slopes) & (centres >= skip_start), slopes, jnp.inf)
    best = jnp.argmin(slopes)
    return jnp.where(jnp.isfinite(slopes[best]), learning_rates[centres[best]], jnp.nan)


class _Carry(NamedTuple):
    params: PyTree
    opt_state: PyTree
    average: Array       # a_t, the biased moving average
    best: Array          # min smoothed loss so far
    stopped: Array       # the loss has diverged: nothing more is recorded


def _sweep(loss_fn, make_optimizer, num_steps: int, batch_size: int, params, x, y, key,
           min_lr, max_lr, smoothing, diverge_factor, skip_start, half_window
           ) -> LRFinderResult:
    dtype = jnp.result_type(*jax.tree.leaves(params))
    min_lr, max_lr, smoothing, diverge_factor = (
        jnp.asarray(v, dtype) for v in (min_lr, max_lr, smoothing, diverge_factor))
    schedule = exponential_sweep(min_lr, max_lr, num_steps)
    optimizer = make_optimizer(schedule)
    value_and_grad = jax.value_and_grad(loss_fn)
    n_examples = jax.tree.leaves(x)[0].shape[0]

    def step(carry: _Carry, t: Array):
        batch = jax.random.choice(jax.random.fold_in(key, t), n_examples, (batch_size,),
                                  replace=False)
        xb, yb = jax.tree.map(lambda a: a[batch], (x, y))
        loss, grads = value_and_grad(carry.params, xb, yb)
        average = (1.0 - smoothing) * carry.average + smoothing * loss
        smoothed = average / (1.0 - (1.0 - smoothing) ** (t + 1))
        recorded = ~carry.stopped
        best = jnp.where(recorded, jnp.minimum(carry.best, smoothed), carry.best)
        stopped = carry.stopped | (smoothed > diverge_factor * best) | ~jnp.isfinite(smoothed)
        updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
        new_params = apply_updates(carry.params, updates)
        keep = lambda new, old: jnp.where(stopped, old, new)  # noqa: E731  freeze once stopped
        carry = _Carry(jax.tree.map(keep, new_params, carry.params),
                       jax.tree.map(keep, opt_state, carry.opt_state),
                       average, best, stopped)
        nan = jnp.full((), jnp.nan, dtype)
        return carry, (jnp.where(recorded, loss, nan), jnp.where(recorded, smoothed, nan))

    start = _Carry(params, optimizer.init(params), jnp.zeros((), dtype),
                   jnp.full((), jnp.inf, dtype), jnp.asarray(False))
    _, (losses, smoothed) = jax.lax.scan(step, start, jnp.arange(num_steps))
    learning_rates = schedule(jnp.arange(num_steps)).astype(dtype)
    return LRFinderResult(learning_rates, losses, smoothed,
                          steepest_descent_lr(learning_rates, smoothed, skip_start, half_window))


_sweep_jit = jax.jit(_sweep, static_argnames=("loss_fn", "make_optimizer", "num_steps",
                                              "batch_size", "half_window"))


def lr_finder(loss_fn: Callable[[PyTree, Array, Array], Array], params: PyTree, x: Array,
              y: Array, make_optimizer: Callable[[Schedule], optax.GradientTransformation],
              *, key: Array, min_lr: float = 1e-7, max_lr: float = 10.0, num_steps: int = 200,
              batch_size: int = 32, smoothing: float = 0.05,
              diverge_factor: float = 4.0, skip_start: int = 10,
              half_window: int = 5) -> LRFinderResult:
    """Learning-rate range test (see the module docstring for the formulas).

    Args:
      loss_fn: ``loss_fn(params, xb, yb) -> ()``, the mean loss of a mini-batch.
      params: the starting parameters (not modified; the sweep trains a copy).
      x, y: the training set, leading axis ``N`` (pytrees allowed).
      make_optimizer: ``make_optimizer(schedule) -> GradientTransformation``, e.g.
        ``jaxnn.optim.sgd`` or ``lambda lr: optax.adam(lr)``; ``schedule(step)`` is the
        exponential sweep.
      key: PRNG key for drawing the mini-batches.
      min_lr, max_lr: sweep range, ``0 < min_lr < max_lr``.
      num_steps: number of steps (``>= 3``); ``batch_size``: examples per step (``<= N``).
      smoothing: weight ``s`` of the newest loss in the moving average, ``0 < s <= 1``.
      diverge_factor: stop once the smoothed loss exceeds this multiple (``> 1``) of its
        minimum so far.
      skip_start: ignore the first steps when suggesting (fastai's ``skip_start``): the
        debiased average of the first few mini-batch losses is mostly sampling noise.
      half_window: the slope of the smoothed curve is a central difference over
        ``2 * half_window`` steps (see `steepest_descent_lr`).

    Returns:
      `LRFinderResult` ``(learning_rates, losses, smoothed_losses, suggestion)``.
      ``loss_fn`` and ``make_optimizer`` are static jit arguments: pass the same function
      objects to reuse the compiled sweep.
    """
    if as_int(num_steps) is None or num_steps < 3:
        raise ValueError(f"num_steps must be an int >= 3, got {num_steps!r}")
    n_examples = {leaf.shape[0] if jnp.ndim(leaf) else None
                  for leaf in jax.tree.leaves((x, y))}
    if len(n_examples) != 1 or None in n_examples:
        raise ValueError(f"x and y must share their leading (example) axis, got leading sizes "
                         f"{sorted(n_examples, key=str)}")
    (n,) = n_examples
    if as_int(batch_size) is None or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in [1, {n}] (the number of examples), "
                         f"got {batch_size!r}")
    check_number("min_lr", min_lr)
    check_number("max_lr", max_lr)
    if not 0.0 < min_lr < max_lr:
        raise ValueError(f"need 0 < min_lr < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}")
    check_number("smoothing", smoothing, 0, 1, low_open=True)
    check_number("diverge_factor", diverge_factor, 1, low_open=True)
    if as_int(half_window) is None or not 1 <= half_window <= (num_steps - 1) // 2:
        raise ValueError(f"half_window must be an int in [1, {(num_steps - 1) // 2}] "
                         f"(num_steps={num_steps}), got {half_window!r}")
    if as_int(skip_start) is None or not 0 <= skip_start < num_steps - half_window:
        raise ValueError(f"skip_start must be an int in [0, {num_steps - half_window - 1}], "
                         f"got {skip_start!r}")
    return _sweep_jit(loss_fn, make_optimizer, num_steps, batch_size, params, x, y, key,
                      min_lr, max_lr, smoothing, diverge_factor, skip_start,
                      half_window=half_window)
