"""Line searches for the full-batch solvers in `jaxnn.optim.solvers`.

Reference: Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006), chapter 3.

A line search looks along a descent direction ``p`` from ``x`` at the one-variable function

    phi(alpha)  = f(x + alpha p),        phi'(alpha) = grad f(x + alpha p) . p,

with ``phi'(0) < 0``, and returns a step ``alpha > 0`` satisfying

* sufficient decrease (Armijo):  phi(alpha) <= phi(0) + c1 alpha phi'(0)     (N&W eq. 3.6a)
* strong curvature:              |phi'(alpha)| <= c2 |phi'(0)|                 (N&W eq. 3.7b)

`backtracking` enforces only the first (N&W Algorithm 3.1); `strong_wolfe` enforces both
(N&W Algorithms 3.5 and 3.6 with cubic interpolation, eq. 3.59), with ``0 < c1 < c2 < 1``.

Near a minimizer the decrease ``phi(0) - phi(alpha)`` falls below the round-off in ``f``
(about ``eps |f|``) long before the gradient does, and the Armijo test then rejects every
step. Both searches therefore also accept Hager & Zhang's *approximate* sufficient decrease
(SIAM J. Optim. 16(1), 2005, eq. 4.1; also used by optax's zoom line search):

    phi'(alpha) <= (2 c1 - 1) phi'(0)   and   phi(alpha) <= phi(0) + approx_rtol |phi(0)|,

which is equivalent to Armijo's test on a quadratic but is computed from slopes, so it stays
accurate where differences of ``f`` do not. ``approx_rtol=None`` switches it off.

Everything here works on flat vectors ``x, p`` of shape ``(n,)`` and is written with
`jax.lax.while_loop`, so a line search compiles into the solver's loop. A non-finite
``phi(alpha)`` (overflow, log of a negative number, ...) counts as "not decreasing enough",
so both searches step back from it.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

ValueAndGrad = Callable[[Array], tuple[Array, Array]]   # x (n,) -> (f (), grad f (n,))


class LineSearchResult(NamedTuple):
    """Outcome of a line search along ``p`` from ``x``.

    step: () the accepted ``alpha``; ``0`` when no point with sufficient decrease was found.
    value: () ``f(x + step p)``.
    grad: (n,) ``grad f(x + step p)``.
    success: () bool, whether ``step`` satisfies the search's conditions (strong Wolfe or
        Armijo). A failed strong-Wolfe search still returns the best sufficient-decrease
        point it met (``step > 0``) when there is one.
    n_evals: () int, evaluations of ``f`` (and its gradient) used.
    """

    step: Array
    value: Array
    grad: Array
    success: Array
    n_evals: Array


def _sufficient_decrease(value: Array, slope: Array, step: Array, value0: Array,
                         slope0: Array, c1, approx_rtol) -> Array:
    """Armijo's test phi(a) <= phi(0) + c1 a phi'(0), or Hager-Zhang's approximate form
    phi'(a) <= (2 c1 - 1) phi'(0) with phi(a) <= phi(0) + approx_rtol |phi(0)|.
    False for a non-finite phi(a) or phi'(a)."""
    armijo = value <= value0 + c1 * step * slope0
    if approx_rtol is None:
        return armijo
    approximate = ((slope <= (2.0 * c1 - 1.0) * slope0)
                   & (value <= value0 + approx_rtol * jnp.abs(value0)))
    return armijo | approximate


# ---------------------------------------------------------------- backtracking (N&W Alg. 3.1)

class _BacktrackState(NamedTuple):
    step: Array
    value: Array
    grad: Array
    accepted: Array
    n_evals: Array


def backtracking(value_and_grad: ValueAndGrad, x: Array, direction: Array, value: Array,
                 grad: Array, *, initial_step=1.0, c1=1e-4, shrink: float = 0.5,
                 max_steps: int = 50, approx_rtol: float | None = 1e-6) -> LineSearchResult:
    """Backtracking Armijo line search (N&W Algorithm 3.1).

    Tries ``alpha = initial_step, shrink * initial_step, shrink**2 * initial_step, ...`` and
    stops at the first ``alpha`` with sufficient decrease, after at most ``max_steps``
    evaluations. On failure the step is 0 (``x`` unchanged). Sufficient decrease includes the
    approximate form (module docstring) unless ``approx_rtol`` is None.
    x, direction, grad: (n,); value: () is ``f(x)``.
    """
    slope0 = grad @ direction

    def evaluate(step):
        new_value, new_grad = value_and_grad(x + step * direction)
        accepted = _sufficient_decrease(new_value, new_grad @ direction, step, value, slope0,
                                        c1, approx_rtol)
        return _BacktrackState(step, new_value, new_grad, accepted, jnp.asarray(0))

    def keep_going(state: _BacktrackState) -> Array:
        return ~state.accepted & (state.n_evals < max_steps)

    def shrink_step(state: _BacktrackState) -> _BacktrackState:
        trial = evaluate(state.step * shrink)
        return trial._replace(n_evals=state.n_evals + 1)

    first = evaluate(jnp.asarray(initial_step, dtype=x.dtype))._replace(n_evals=jnp.asarray(1))
    final = jax.lax.while_loop(keep_going, shrink_step, first)
    step = jnp.where(final.accepted, final.step, jnp.zeros_like(final.step))
    return LineSearchResult(
        step=step,
        value=jnp.where(final.accepted, final.value, value),
        grad=jnp.where(final.accepted, final.grad, grad),
        success=final.accepted,
        n_evals=final.n_evals,
    )


# ------------------------------------------------------ strong Wolfe (N&W Algs. 3.5 and 3.6)

class _Point(NamedTuple):
    """One evaluated trial step: alpha, phi(alpha), phi'(alpha), grad f(x + alpha p)."""

    step: Array
    value: Array
    slope: Array
    grad: Array


class _WolfeState(NamedTuple):
    zooming: Array       # False: bracketing phase (Alg. 3.5); True: zoom phase (Alg. 3.6)
    previous: _Point     # last trial of the bracketing phase (alpha_{i-1})
    low: _Point          # zoom interval end with the lowest value satisfying sufficient decrease
    high: _Point         # the other end of the zoom interval
    next_step: Array     # the trial step to evaluate next
    accepted: Array      # a trial satisfied the strong Wolfe conditions
    result: _Point       # the accepted trial
    n_evals: Array


def cubic_minimizer(a0: Array, f0: Array, d0: Array, a1: Array, f1: Array, d1: Array) -> Array:
    """Minimizer of the cubic through (a0, f0) and (a1, f1) with slopes d0, d1 (N&W eq. 3.59).

        e1 = d0 + d1 - 3 (f0 - f1) / (a0 - a1)
        e2 = sign(a1 - a0) sqrt(e1^2 - d0 d1)
        a  = a1 - (a1 - a0) (d1 + e2 - e1) / (d1 - d0 + 2 e2)

    Returns NaN when the cubic has no minimizer (negative radicand) or the data are not
    finite; callers safeguard the result.
    """
    e1 = d0 + d1 - 3.0 * (f0 - f1) / (a0 - a1)
    radicand = e1 * e1 - d0 * d1
    e2 = jnp.sign(a1 - a0) * jnp.sqrt(jnp.where(radicand >= 0, radicand, jnp.nan))
    return a1 - (a1 - a0) * (d1 + e2 - e1) / (d1 - d0 + 2.0 * e2)


def _zoom_trial(low: _Point, high: _Point) -> Array:
    """Next zoom trial: the cubic minimizer if it lies in the middle 80% of the interval,
    else the midpoint (bisection) -- a safeguard that guarantees the interval shrinks."""
    left = jnp.minimum(low.step, high.step)
    right = jnp.maximum(low.step, high.step)
    margin = 0.1 * (right - left)
    cubic = cubic_minimizer(low.step, low.value, low.slope, high.step, high.value, high.slope)
    usable = jnp.isfinite(cubic) & (cubic >= left + margin) & (cubic <= right - margin)
    return jnp.where(usable, cubic, 0.5 * (left + right))


def _pick(condition: Array, if_true: _Point, if_false: _Point) -> _Point:
    """``if_true`` where ``condition`` holds, else ``if_false``, field by field."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), if_true, if_false)


def _evaluate_point(value_and_grad: ValueAndGrad, x: Array, direction: Array,
                    step: Array) -> _Point:
    """The trial ``alpha = step``: phi(alpha), phi'(alpha) = grad f(x + alpha p) . p, and
    grad f(x + alpha p) (n,)."""
    new_value, new_grad = value_and_grad(x + step * direction)
    return _Point(step, new_value, new_grad @ direction, new_grad)


def _is_higher(trial: _Point, reference: _Point, toward: Array, band) -> Array:
    """Whether ``trial`` is no lower than ``reference``: ``phi(trial) >= phi(reference)``,
    except that values within the round-off ``band`` count as tied and the slope decides
    (Hager & Zhang 2005): a trial still going downhill along ``toward`` (a step difference
    or a sign) is lower, so it is not an overshoot."""
    tied = jnp.abs(trial.value - reference.value) <= band
    return jnp.where(tied, trial.slope * toward >= 0, trial.value >= reference.value)


def _bracketing_phase(state: _WolfeState, trial: _Point, decreases: Array,
                      flat_enough: Array, band) -> tuple[Array, _Point, _Point]:
    """One iteration of N&W Algorithm 3.5 with ``trial`` = alpha_i, ``state.previous`` =
    alpha_{i-1}.

    A strong Wolfe point lies between them when alpha_i overshoots (fails sufficient
    decrease, or is no lower than alpha_{i-1}): zoom(alpha_{i-1}, alpha_i); or when it is
    not flat enough and ``phi'(alpha_i) >= 0`` (uphill): zoom(alpha_i, alpha_{i-1}).
    Returns ``(brackets, low, high)``: whether either holds, and that zoom interval.
    """
    overshoot = ~decreases | ((state.n_evals > 0) & _is_higher(trial, state.previous, 1.0, band))
    uphill = ~overshoot & ~flat_enough & (trial.slope >= 0)
    low = _pick(overshoot, state.previous, trial)
    high = _pick(overshoot, trial, state.previous)
    return overshoot | uphill, low, high


def _zoom_phase(low: _Point, high: _Point, trial: _Point, decreases: Array,
                flat_enough: Array, band) -> tuple[_Point, _Point]:
    """One iteration of N&W Algorithm 3.6: the interval ``[low, high]`` after ``trial``.

    A trial that fails sufficient decrease or is no lower than ``low`` becomes ``high``.
    Otherwise, unless it ends the search, it becomes ``low``, and the old ``low`` becomes
    ``high`` when ``phi'(trial) (high - low) >= 0`` (the minimum then lies behind the trial).
    Returns ``(low, high)``.
    """
    toward_high = high.step - low.step
    trial_is_high = ~decreases | _is_higher(trial, low, toward_high, band)
    trial_is_low = ~trial_is_high & ~flat_enough
    flip = trial_is_low & (trial.slope * toward_high >= 0)
    return _pick(trial_is_low, trial, low), _pick(trial_is_high, trial, _pick(flip, low, high))


def _wolfe_step(state: _WolfeState, trial: _Point, decreases: Array, flat_enough: Array,
                band, increase_factor: float) -> _WolfeState:
    """The search after evaluating ``trial``: ``decreases`` is its sufficient-decrease test,
    ``flat_enough`` its curvature test ``|phi'| <= c2 |phi'(0)|``; both together accept it.

    Bracketing phase: a trial that brackets a strong Wolfe point starts the zoom phase on
    that interval, else the next trial is ``increase_factor`` times farther. Zoom phase: the
    interval shrinks and the next trial is a safeguarded cubic step inside it (`_zoom_trial`).
    """
    brackets, bracket_low, bracket_high = _bracketing_phase(state, trial, decreases,
                                                            flat_enough, band)
    zoom_low, zoom_high = _zoom_phase(state.low, state.high, trial, decreases, flat_enough, band)
    starts_zoom = ~state.zooming & brackets
    low = _pick(starts_zoom, bracket_low, _pick(state.zooming, zoom_low, state.low))
    high = _pick(starts_zoom, bracket_high, _pick(state.zooming, zoom_high, state.high))
    now_zooming = state.zooming | starts_zoom
    accepted = decreases & flat_enough      # any strong Wolfe point ends the search
    next_step = jnp.where(now_zooming, _zoom_trial(low, high), trial.step * increase_factor)
    return _WolfeState(
        zooming=now_zooming,
        previous=_pick(now_zooming, state.previous, trial),
        low=low,
        high=high,
        next_step=next_step,
        accepted=accepted,
        result=_pick(accepted, trial, state.result),
        n_evals=state.n_evals + 1,
    )


def _wolfe_start(origin: _Point, initial_step: Array) -> _WolfeState:
    """Bracketing phase, nothing evaluated yet, first trial ``initial_step``; every point of
    the state is the origin (alpha = 0)."""
    return _WolfeState(
        zooming=jnp.asarray(False),
        previous=origin,
        low=origin,
        high=origin,
        next_step=initial_step,
        accepted=jnp.asarray(False),
        result=origin,
        n_evals=jnp.asarray(0),
    )


def _wolfe_outcome(final: _WolfeState) -> LineSearchResult:
    """The accepted trial; failing that, the lowest sufficient-decrease trial: ``low`` in
    the zoom phase, ``previous`` in the bracketing phase (the origin, step 0, if none)."""
    fallback = _pick(final.zooming, final.low, final.previous)
    chosen = _pick(final.accepted, final.result, fallback)
    return LineSearchResult(step=chosen.step, value=chosen.value, grad=chosen.grad,
                            success=final.accepted, n_evals=final.n_evals)


def strong_wolfe(value_and_grad: ValueAndGrad, x: Array, direction: Array, value: Array,
                 grad: Array, *, initial_step=1.0, c1=1e-4, c2=0.9,
                 increase_factor: float = 2.0, max_steps: int = 30,
                 approx_rtol: float | None = 1e-6) -> LineSearchResult:
    """Line search for a step satisfying the strong Wolfe conditions (N&W Algs. 3.5, 3.6).

    Bracketing phase (Alg. 3.5): try ``alpha_1 = initial_step`` and grow it by
    ``increase_factor`` while phi keeps decreasing sufficiently with a negative slope. A
    trial that fails sufficient decrease, is no lower than the previous trial, or has a
    non-negative slope brackets a strong Wolfe point; zoom phase (Alg. 3.6): shrink the
    bracket ``[low, high]`` with safeguarded cubic interpolation (eq. 3.59), keeping ``low``
    the lowest trial with sufficient decrease. Values within the round-off band
    ``approx_rtol |phi(0)|`` of each other count as tied, and a tie is broken by the slope
    (a trial still going downhill towards ``high`` is lower), after Hager & Zhang. The
    first trial that satisfies both conditions is returned (as in optax's zoom search; N&W
    test ``phi(alpha_j) >= phi(alpha_lo)`` first, which rejects good steps when values tie
    in round-off near a minimizer).

    At most ``max_steps`` evaluations. When none satisfies both conditions the best
    sufficient-decrease trial met so far is returned with ``success=False`` (step 0 if none).
    x, direction, grad: (n,); value: () is ``f(x)``; needs ``0 < c1 < c2 < 1``.
    """
    slope0 = grad @ direction
    band = 0.0 if approx_rtol is None else approx_rtol * jnp.abs(value)
    origin = _Point(jnp.zeros((), x.dtype), value, slope0, grad)

    def keep_going(state: _WolfeState) -> Array:
        return ~state.accepted & (state.n_evals < max_steps)

    def body(state: _WolfeState) -> _WolfeState:
        trial = _evaluate_point(value_and_grad, x, direction, state.next_step)
        decreases = _sufficient_decrease(trial.value, trial.slope, trial.step, value, slope0,
                                         c1, approx_rtol)
        flat_enough = jnp.abs(trial.slope) <= -c2 * slope0
        return _wolfe_step(state, trial, decreases, flat_enough, band, increase_factor)

    start = _wolfe_start(origin, jnp.asarray(initial_step, dtype=x.dtype))
    return _wolfe_outcome(jax.lax.while_loop(keep_going, body, start))
