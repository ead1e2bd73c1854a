"""Learning-rate schedules and reduce-on-plateau.

A schedule is a plain function ``step -> lr`` built from ``jax.numpy`` ops, so it can be
called on a traced int32 step inside ``jit``/``scan`` and passed as any optimizer's
``learning_rate``.  ``step`` counts updates from 0 (the first update uses
``schedule(0)``), as in optax, whose counterpart each schedule matches.

``reduce_on_plateau`` is different: a host-side, pure helper called once per epoch with
the validation loss; the scale it returns is fed to an optimizer wrapped in
``scale_by_factor`` via ``set_factor``, which changes no compiled code.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.optim.base import Schedule, check_nonnegative
from jaxnn.util import check_number, check_positive_int
from jaxnn.spec import configured


def _as_float(step: jax.Array | int) -> jax.Array:
    """The step in the default float dtype: int32 / int would otherwise give float32
    even under ``jax_enable_x64``."""
    return jnp.asarray(step, dtype=jnp.result_type(float))


@configured
def constant(value: float) -> Schedule:
    """``lr_t = value``.  = ``optax.constant_schedule``."""
    check_nonnegative("value", value)
    return lambda step: jnp.full(jnp.shape(step), value, dtype=jnp.result_type(float))


@configured
def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    """``lr_t = init_value * decay_rate ** ((t - transition_begin) / transition_steps)``
    for ``t > transition_begin``, else ``init_value``; ``staircase`` floors the exponent;
    ``end_value`` bounds the decay.  = ``optax.exponential_decay``."""
    check_nonnegative("init_value", init_value)
    check_positive_int("transition_steps", transition_steps)
    check_number("decay_rate", decay_rate, 0, low_open=True)
    check_nonnegative("transition_begin", transition_begin)
    if end_value is not None:
        check_nonnegative("end_value", end_value)
    bound = jnp.maximum if decay_rate < 1 else jnp.minimum

    def schedule(step):
        elapsed = _as_float(step) - transition_begin
        exponent = elapsed / transition_steps
        if staircase:
            exponent = jnp.floor(exponent)
        lr = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, exponent))
        return lr if end_value is None else bound(lr, end_value)

    return schedule


@configured
def step_decay(init_value: float, drop_every: int, factor: float = 0.1) -> Schedule:
    """Piecewise-constant drops: ``lr_t = init_value * factor ** floor(t / drop_every)``.

    PyTorch's ``StepLR(step_size=drop_every, gamma=factor)``; equals
    ``optax.exponential_decay(init_value, drop_every, factor, staircase=True)``.
    """
    check_nonnegative("init_value", init_value)
    check_positive_int("drop_every", drop_every)
    check_number("factor", factor, 0, 1, low_open=True)
    return lambda step: init_value * jnp.power(factor, jnp.floor_divide(step, drop_every))


@configured
def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0,
                 exponent: float = 1.0) -> Schedule:
    """Cosine annealing (Loshchilov & Hutter, 2017)::

        lr_t = init_value ((1 - alpha) (1/2 (1 + cos(pi min(t, T) / T)))^exponent + alpha)

    with ``T = decay_steps``: from ``init_value`` down to ``alpha * init_value``, then flat.
    = ``optax.cosine_decay_schedule``.
    """
    check_nonnegative("init_value", init_value)
    check_positive_int("decay_steps", decay_steps)
    check_number("alpha", alpha)
    check_number("exponent", exponent)

    def schedule(step):
        progress = jnp.minimum(_as_float(step), decay_steps) / decay_steps
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * progress))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)

    return schedule


@configured
def warmup_cosine(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                  end_value: float = 0.0, exponent: float = 1.0) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then cosine
    decay to ``end_value`` at step ``decay_steps`` (which includes the warmup).
    = ``optax.warmup_cosine_decay_schedule``."""
    for name, value in (("init_value", init_value), ("peak_value", peak_value),
                        ("end_value", end_value), ("warmup_steps", warmup_steps)):
        check_nonnegative(name, value)
    check_positive_int("decay_steps", decay_steps)
    if not decay_steps > warmup_steps:
        raise ValueError(f"decay_steps must be > warmup_steps={warmup_steps} (it includes "
                         f"the warmup), got decay_steps={decay_steps!r}")
    alpha = 0.0 if peak_value == 0 else end_value / peak_value
    decay = cosine_decay(peak_value, decay_steps - warmup_steps, alpha, exponent)

    def schedule(step):
        step = _as_float(step)
        warm = (init_value - peak_value) * (
            1 - jnp.clip(step, 0, warmup_steps) / max(warmup_steps, 1)) + peak_value
        return jnp.where(step < warmup_steps, warm, decay(step - warmup_steps))

    return schedule


def _cosine_between(start: float, end: float, progress: jax.Array) -> jax.Array:
    """Half-cosine from ``start`` (progress 0) to ``end`` (progress 1)."""
    return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * progress) + 1)


@configured
def one_cycle(transition_steps: int, peak_value: float, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    """One-cycle policy (Smith & Topin, 2017, https://arxiv.org/abs/1708.07120).

    Cosine rise from ``peak_value / div_factor`` to ``peak_value`` over the first
    ``int(pct_start * transition_steps)`` steps, cosine fall to
    ``peak_value / (div_factor * final_div_factor)`` at ``transition_steps``, then flat.
    = ``optax.cosine_onecycle_schedule``.
    """
    check_positive_int("transition_steps", transition_steps)
    check_nonnegative("peak_value", peak_value)
    check_number("pct_start", pct_start, 0, 1, high_open=True)
    check_number("div_factor", div_factor, 0, low_open=True)
    check_number("final_div_factor", final_div_factor, 0, low_open=True)
    rise_steps = int(pct_start * transition_steps)
    start_value = peak_value / div_factor
    final_value = start_value / final_div_factor

    def schedule(step):
        step = _as_float(step)
        rising = _cosine_between(start_value, peak_value, step / max(rise_steps, 1))
        falling = _cosine_between(peak_value, final_value,
                                  (step - rise_steps) / max(transition_steps - rise_steps, 1))
        return jnp.where(step < rise_steps, rising,
                         jnp.where(step < transition_steps, falling, final_value))

    return schedule


# ------------------------------------------------------------------ reduce on plateau

class Plateau(NamedTuple):
    """The plateau rule's state: the ``best`` value so far and the epochs since it improved."""
    best: float = math.inf
    bad_epochs: int = 0


def plateau_update(plateau: Plateau, value: float, min_delta: float = 0.0) -> tuple[bool, Plateau]:
    """The one plateau rule (reduce-on-plateau and early stopping both use it).

    ``value`` improves iff ``value < best - min_delta``: then ``best = value`` and the
    count resets, otherwise the count grows.  Lower is better; negate a score to maximize.
    Returns ``(improved, new_plateau)``.
    """
    value = float(value)
    if value < plateau.best - min_delta:
        return True, Plateau(value, 0)
    return False, Plateau(plateau.best, plateau.bad_epochs + 1)


class ReduceOnPlateauState(NamedTuple):
    """Host-side Python scalars: the current learning-rate ``scale``, the ``best`` value
    seen, epochs without improvement (``plateau_count``) and cooldown epochs left."""
    scale: float
    best: float
    plateau_count: int
    cooldown_count: int


class ReduceOnPlateau(NamedTuple):
    """``state = init()``; ``scale, state = update(state, value)`` once per epoch."""
    init: Callable[[], ReduceOnPlateauState]
    update: Callable[[ReduceOnPlateauState, float], tuple[float, ReduceOnPlateauState]]


@configured
def reduce_on_plateau(factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                      cooldown: int = 0, min_scale: float = 0.0) -> ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when a monitored value stops improving.

    Each ``update(state, value)``: ``value`` improves if ``value < best - min_delta``
    (then ``best = value`` and the plateau count resets), otherwise the plateau count
    grows; when it reaches ``patience``, ``scale <- max(scale * factor, min_scale)`` and
    the next ``cooldown`` updates only track ``best``.  The same rule as
    ``optax.contrib.reduce_on_plateau(rtol=0, atol=min_delta)`` and Keras's
    ``ReduceLROnPlateau``; PyTorch's reduces one epoch later (after ``patience + 1``).
    Usage from a training loop::

        opt = optim.scale_by_factor(optim.adam(1e-3))
        rop = optim.reduce_on_plateau(factor=0.5, patience=3)
        rop_state = rop.init()
        for epoch in ...:
            params, opt_state = train_epoch(params, opt_state)   # jitted, compiled once
            scale, rop_state = rop.update(rop_state, float(val_loss))
            opt_state = optim.set_factor(opt_state, scale)
    """
    check_number("factor", factor, 0, 1, low_open=True, high_open=True)
    check_positive_int("patience", patience)
    check_nonnegative("min_delta", min_delta)
    check_nonnegative("cooldown", cooldown)
    check_nonnegative("min_scale", min_scale)

    def init() -> ReduceOnPlateauState:
        return ReduceOnPlateauState(scale=1.0, best=math.inf, plateau_count=0, cooldown_count=0)

    def update(state: ReduceOnPlateauState,
               value: float) -> tuple[float, ReduceOnPlateauState]:
        _, (best, plateau) = plateau_update(Plateau(state.best, state.plateau_count), value, min_delta)
        if state.cooldown_count > 0:
            new = ReduceOnPlateauState(state.scale, best, 0, state.cooldown_count - 1)
        elif plateau == patience:
            new = ReduceOnPlateauState(max(state.scale * factor, min_scale), best, 0, cooldown)
        else:
            new = ReduceOnPlateauState(max(state.scale, min_scale), best, plateau, 0)
        return new.scale, new

    return ReduceOnPlateau(init, update)


__all__ = ["constant", "exponential_decay", "step_decay", "cosine_decay", "warmup_cosine",
           "one_cycle", "reduce_on_plateau", "ReduceOnPlateau", "ReduceOnPlateauState",
           "Plateau", "plateau_update"]
