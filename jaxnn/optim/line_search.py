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
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), if_true, if_false)


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

    def evaluate(step: Array) -> _Point:
        new_value, new_grad = value_and_grad(x + step * direction)
        return _Point(step, new_value, new_grad @ direction, new_grad)

    def keep_going(state: _WolfeState) -> Array:
        return ~state.accepted & (state.n_evals < max_steps)

    def body(state: _WolfeState) -> _WolfeState:
        trial = evaluate(state.next_step)
        decreases = _sufficient_decrease(trial.value, trial.slope, trial.step, value, slope0,
                                         c1, approx_rtol)
        flat_enough = jnp.abs(trial.slope) <= -c2 * slope0

        # "Higher than" compares values, except within the round-off band, where the slope
        # decides (Hager-Zhang): a trial still descending is not an overshoot.
        def higher(reference: _Point, direction: Array) -> Array:
            tied = jnp.abs(trial.value - reference.value) <= band
            return jnp.where(tied, trial.slope * direction >= 0, trial.value >= reference.value)

        # Alg. 3.5 (bracketing).
        overshoot = ~decreases | ((state.n_evals > 0) & higher(state.previous, 1.0))
        uphill = ~overshoot & ~flat_enough & (trial.slope >= 0)
        # Alg. 3.6 (zoom).
        trial_is_high = ~decreases | higher(state.low, state.high.step - state.low.step)
        trial_is_low = ~trial_is_high & ~flat_enough
        flip = trial_is_low & (trial.slope * (state.high.step - state.low.step) >= 0)

        zooming = state.zooming
        accepted = decreases & flat_enough      # any strong Wolfe point ends the search
        starts_zoom = ~zooming & (overshoot | uphill)
        low = _pick(starts_zoom, _pick(overshoot, state.previous, trial),
                    _pick(zooming & trial_is_low, trial, state.low))
        high = _pick(starts_zoom, _pick(overshoot, trial, state.previous),
                     _pick(zooming & trial_is_high, trial,
                           _pick(zooming & flip, state.low, state.high)))
        now_zooming = zooming | starts_zoom
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

    start = _WolfeState(
        zooming=jnp.asarray(False),
        previous=origin,
        low=origin,
        high=origin,
        next_step=jnp.asarray(initial_step, dtype=x.dtype),
        accepted=jnp.asarray(False),
        result=origin,
        n_evals=jnp.asarray(0),
    )
    final = jax.lax.while_loop(keep_going, body, start)
    # Fallback: in the zoom phase `low`, in the bracketing phase `previous`, is the lowest
    # sufficient-decrease trial (or the origin, step 0).
    fallback = _pick(final.zooming, final.low, final.previous)
    chosen = _pick(final.accepted, final.result, fallback)
    return LineSearchResult(step=chosen.step, value=chosen.value, grad=chosen.grad,
                            success=final.accepted, n_evals=final.n_evals)
