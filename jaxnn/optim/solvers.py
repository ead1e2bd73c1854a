"""Full-batch solvers: ``minimize(fun, x0, method="gd" | "newton" | "lbfgs" | "cg")``.

The course notes name Newton's method, L-BFGS and conjugate gradient as the alternatives
to gradient descent (UMT Lahore, NN Training and Optimization, "How to Find a Better NN?")
and give gradient descent with a fixed learning rate and its convergence test (Liverpool,
Introduction to Neural Networks I, "Gradient descent: remarks").  The methods follow
Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006), "N&W" below.  Each method is
one small ``step`` function here; `jaxnn.optim.solver_loop` runs it in a
`jax.lax.while_loop` under `jax.jit`, so the whole solve is one compiled program.

``x0`` may be any pytree of floating arrays: it is flattened with
`jax.flatten_util.ravel_pytree` into a vector ``x`` of shape ``(n,)`` and ``fun`` sees the
pytree again. Notation below: ``f = fun``, ``g = grad f(x)``, ``H = hess f(x)``.

* ``"gd"``: ``x <- x - lr g`` (N&W ch. 2-3, steepest descent with a fixed step). Stops
  when ``|f(x_k) - f(x_{k+1})| < f_tol`` (the notes' "decreases by less than a threshold
  in one iteration"; the absolute value also stops on a round-off-sized increase at the
  minimum) or when ``||g|| <= tol``.
* ``"newton"``: ``x <- x + alpha p`` with ``(H + tau I) p = -g``; ``tau = 0`` when ``H`` is
  positive definite, otherwise the smallest of ``tau_0, 2 tau_0, 4 tau_0, ...`` making the
  Cholesky factorisation succeed (N&W sec. 3.4, Algorithm 3.3, beta = 1e-3). ``alpha`` from a
  backtracking Armijo search starting at 1; when it fails the iterate stays put and the next
  iteration starts from ``tau >= max(10 tau, beta)`` (Levenberg-style damping). On a convex
  quadratic the first, undamped, full step lands on the minimizer.
* ``"lbfgs"``: ``p = -H_k g`` by the two-loop recursion (N&W sec. 7.2, Algorithm 7.4) over
  the last ``memory_size`` pairs ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``, with
  ``H_k^0 = (s.y / y.y) I`` (N&W eq. 7.20); the first direction is ``-g / max(1, ||g||)``
  (optax's choice). Pairs with ``s.y <= 1e-10 ||s|| ||y||`` are skipped (they would break
  positive definiteness); strong Wolfe steps (``c2 = 0.9``) always have ``s.y > 0``.
* ``"cg"``: nonlinear conjugate gradient, Polak-Ribiere+ (N&W sec. 5.2, eq. 5.44):
  ``beta = max(0, g_{k+1}.(g_{k+1} - g_k) / g_k.g_k)``, ``p <- -g_{k+1} + beta p``, restarted
  with ``p = -g`` every ``restart_every`` (default ``n``) iterations or when ``p`` is not a
  descent direction. Strong Wolfe search with ``c2 = 0.1`` (N&W section 5.2); initial trial
  step ``alpha_{k-1} g_{k-1}.p_{k-1} / g_k.p_k`` (N&W eq. 3.60).

Line searches (`jaxnn.optim.line_search`, N&W ch. 3) also accept Hager-Zhang's approximate
sufficient decrease, so ``f`` may rise by round-off (at most ``1e-6 |f|``) in an iteration
near the minimizer instead of the search stalling there.

All methods stop as converged when ``||g||_2 <= tol``, and stop unconverged when a line
search cannot decrease ``f`` any more, when ``f`` becomes non-finite, or after ``max_iter``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.flatten_util import ravel_pytree

from jaxnn.optim.solver_loop import (MinimizeResult, PyTree, SolverConfig, SolverNumbers,
                                     StepResult, search_along, solve_jit)
from jaxnn.util import check_number, check_positive_int, is_concrete

METHODS = ("gd", "newton", "lbfgs", "cg")
LINE_SEARCHES = ("strong_wolfe", "backtracking")
_DEFAULT_LINE_SEARCH = {"newton": "backtracking", "lbfgs": "strong_wolfe", "cg": "strong_wolfe"}
_DEFAULT_C2 = {"newton": 0.9, "lbfgs": 0.9, "cg": 0.1}


# ------------------------------------------------------------------------- gradient descent

def _gd_init(x, value, grad, config):
    return ()


def _gd_step(value_and_grad, hessian, config, numbers, k, x, value, grad, aux) -> StepResult:
    """``x <- x - lr g``: steepest descent with a fixed step (N&W ch. 2-3; Liverpool,
    Introduction to Neural Networks I, "Gradient descent: remarks").  Converged when
    ``|f(x_k) - f(x_{k+1})| < f_tol``, the notes' "decreases by less than a threshold"."""
    new_x = x - numbers.learning_rate * grad
    new_value, new_grad = value_and_grad(new_x)
    small_change = jnp.abs(value - new_value) < numbers.f_tol
    return StepResult(new_x, new_value, new_grad, aux, jnp.asarray(True), small_change)


# --------------------------------------------------------------------------------- Newton

_NEWTON_BETA = 1e-3        # N&W Algorithm 3.3's beta: the first non-zero shift
_MAX_SHIFT_DOUBLINGS = 100


def damped_cholesky(hess: Array, min_shift: Array) -> tuple[Array, Array, Array]:
    """Cholesky factor of ``hess + tau I`` with the smallest ``tau`` of a doubling sequence.

    N&W Algorithm 3.3: ``tau_0 = max(min_shift, 0 if min(diag H) > 0 else beta - min(diag H))``,
    then ``tau <- max(2 tau, beta)`` until the factorisation succeeds (JAX's Cholesky
    returns NaNs for a matrix that is not positive definite).
    hess: (n, n) symmetric. Returns ``(L, tau, ok)`` with ``L`` (n, n) lower triangular.
    """
    eye = jnp.eye(hess.shape[0], dtype=hess.dtype)
    min_diag = jnp.min(jnp.diag(hess))
    tau0 = jnp.maximum(min_shift, jnp.where(min_diag > 0, 0.0, _NEWTON_BETA - min_diag))

    def factor(tau):
        chol = jnp.linalg.cholesky(hess + tau * eye)
        return chol, jnp.all(jnp.isfinite(chol))

    def failing(state):
        _, _, ok, tries = state
        return ~ok & (tries < _MAX_SHIFT_DOUBLINGS)

    def double(state):
        _, tau, _, tries = state
        tau = jnp.maximum(2.0 * tau, _NEWTON_BETA)
        chol, ok = factor(tau)
        return chol, tau, ok, tries + 1

    chol, ok = factor(tau0)
    chol, tau, ok, _ = jax.lax.while_loop(failing, double, (chol, tau0, ok, 0))
    return chol, tau, ok


def _newton_init(x, value, grad, config):
    return jnp.zeros((), x.dtype)            # the shift to start from (raised after a failure)


def _newton_step(value_and_grad, hessian, config, numbers, k, x, value, grad,
                 min_shift) -> StepResult:
    """Damped Newton step ``(H + tau I) p = -g`` with a line search from ``alpha = 1``
    (N&W sec. 3.4, "Newton's method with Hessian modification").  When the search cannot
    move, the next iteration starts from ``tau >= max(10 tau, beta)`` (Levenberg-style)."""
    hess = hessian(x)
    hess = 0.5 * (hess + hess.T)
    chol, tau, factored = damped_cholesky(hess, min_shift)
    direction = -jax.scipy.linalg.cho_solve((chol, True), grad)
    search = search_along(config, numbers, value_and_grad, x, direction, value, grad, 1.0)
    moved = search.step > 0
    next_shift = jnp.where(moved, 0.0, jnp.maximum(10.0 * tau, _NEWTON_BETA))
    shift_limit = 1e12 * jnp.maximum(1.0, jnp.max(jnp.abs(hess)))
    progressed = factored & (moved | (next_shift < shift_limit))
    return StepResult(x + search.step * direction, search.value, search.grad, next_shift,
                      progressed, jnp.asarray(False))


# ---------------------------------------------------------------------------------- L-BFGS

class _LBFGSMemory(NamedTuple):
    s: Array      # (m, n) x_{k+1} - x_k, oldest first; unused rows are zero
    y: Array      # (m, n) g_{k+1} - g_k
    rho: Array    # (m,) 1 / (y.s); zero for unused rows, which then act as the identity


def lbfgs_direction(grad: Array, memory: _LBFGSMemory) -> Array:
    """``-H_k grad`` by the L-BFGS two-loop recursion (N&W Algorithm 7.4).

        q = g;  for i = newest..oldest: a_i = rho_i s_i.q,  q -= a_i y_i
        r = gamma q,  gamma = s.y / y.y of the newest pair (eq. 7.20), or 1/max(1, ||g||)
        for i = oldest..newest: b = rho_i y_i.r,  r += (a_i - b) s_i
        return -r
    grad: (n,); memory rows oldest first, rows with rho = 0 are skipped.
    """
    def first_loop(q, pair):
        s, y, rho = pair
        a = rho * (s @ q)
        return q - a * y, a

    q, alphas = jax.lax.scan(first_loop, grad, memory, reverse=True)
    s_new, y_new = memory.s[-1], memory.y[-1]
    yy = y_new @ y_new
    gamma = jnp.where(memory.rho[-1] > 0, (s_new @ y_new) / jnp.where(yy > 0, yy, 1.0),
                      1.0 / jnp.maximum(1.0, jnp.linalg.norm(grad)))

    def second_loop(r, pair_and_alpha):
        (s, y, rho), a = pair_and_alpha
        b = rho * (y @ r)
        return r + (a - b) * s, None

    r, _ = jax.lax.scan(second_loop, gamma * q, (memory, alphas))
    return -r


def _lbfgs_init(x, value, grad, config):
    m, n = config.memory_size, x.shape[0]
    return _LBFGSMemory(jnp.zeros((m, n), x.dtype), jnp.zeros((m, n), x.dtype),
                        jnp.zeros((m,), x.dtype))


def _push_pair(memory: _LBFGSMemory, s: Array, y: Array) -> _LBFGSMemory:
    """Append (s, y) as the newest pair (dropping the oldest) if s.y > 1e-10 ||s|| ||y||:
    only pairs of positive curvature keep ``H_k`` positive definite (N&W sec. 6.1, eq. 6.7)."""
    sy = s @ y
    keep = sy > 1e-10 * jnp.linalg.norm(s) * jnp.linalg.norm(y)
    pushed = _LBFGSMemory(
        jnp.concatenate([memory.s[1:], s[None]]),
        jnp.concatenate([memory.y[1:], y[None]]),
        jnp.concatenate([memory.rho[1:], (1.0 / jnp.where(keep, sy, 1.0))[None]]),
    )
    return jax.tree.map(lambda new, old: jnp.where(keep, new, old), pushed, memory)


def _lbfgs_step(value_and_grad, hessian, config, numbers, k, x, value, grad,
                memory: _LBFGSMemory) -> StepResult:
    """``p = -H_k g`` (two-loop recursion), line search from ``alpha = 1``, store the new
    pair (N&W sec. 7.2, Algorithm 7.5); a memory whose direction does not descend is cleared."""
    direction = lbfgs_direction(grad, memory)
    descent = direction @ grad < 0
    memory = jax.tree.map(lambda a: jnp.where(descent, a, jnp.zeros_like(a)), memory)
    direction = jnp.where(descent, direction, lbfgs_direction(grad, memory))
    search = search_along(config, numbers, value_and_grad, x, direction, value, grad, 1.0)
    step = search.step * direction
    memory = _push_pair(memory, step, search.grad - grad)
    return StepResult(x + step, search.value, search.grad, memory, search.step > 0,
                      jnp.asarray(False))


# ------------------------------------------------------------------- nonlinear CG (PR+)

class _CGState(NamedTuple):
    direction: Array        # (n,) the search direction for the current iterate
    previous_step: Array    # () alpha_{k-1}
    previous_slope: Array   # () g_{k-1}.p_{k-1}


def _cg_init(x, value, grad, config):
    return _CGState(-grad, 1.0 / jnp.maximum(1.0, jnp.linalg.norm(grad)), -(grad @ grad))


def _cg_step(value_and_grad, hessian, config, numbers, k, x, value, grad,
             state: _CGState) -> StepResult:
    """Line search along ``p``, then ``p <- -g_new + beta p`` with Polak-Ribiere+
    ``beta = max(0, g_new.(g_new - g) / g.g)`` (N&W sec. 5.2, eq. 5.44), restarted with
    ``p = -g_new`` every ``restart_every`` iterations or when ``p`` does not descend.
    First trial step ``alpha_{k-1} g_{k-1}.p_{k-1} / g_k.p_k`` (N&W eq. 3.60)."""
    direction = state.direction
    slope = grad @ direction
    initial_step = jnp.where(k == 0, state.previous_step,
                             state.previous_step * state.previous_slope / slope)
    search = search_along(config, numbers, value_and_grad, x, direction, value, grad,
                          initial_step)
    new_grad = search.grad
    beta = jnp.maximum(0.0, new_grad @ (new_grad - grad) / (grad @ grad))
    next_direction = -new_grad + beta * direction
    restart = ((k + 1) % config.restart_every == 0) | (next_direction @ new_grad >= 0)
    next_direction = jnp.where(restart, -new_grad, next_direction)
    next_state = _CGState(next_direction, search.step, slope)
    return StepResult(x + search.step * direction, search.value, new_grad, next_state,
                      search.step > 0, jnp.asarray(False))


_SOLVERS = {
    "gd": (_gd_init, _gd_step),
    "newton": (_newton_init, _newton_step),
    "lbfgs": (_lbfgs_init, _lbfgs_step),
    "cg": (_cg_init, _cg_step),
}


# ------------------------------------------------------------------------ public entry

def _check_number(name: str, value, *, allow_zero: bool = False) -> None:
    if is_concrete(value):
        number = check_number(name, value)
        bad = not (number >= 0.0 if allow_zero else number > 0.0)
        if bad:
            expected = "non-negative" if allow_zero else "positive"
            raise ValueError(f"{name} must be a {expected} number, got {value!r}")


def _check_method_options(method: str, line_search: str | None) -> None:
    """ValueError for an unknown method or line search, or one the method cannot use."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if line_search is None:
        return
    if method == "gd":
        raise ValueError("method 'gd' takes a fixed learning_rate, not a line_search; "
                         f"use line_search=None or one of {', '.join(METHODS[1:])}")
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"unknown line_search {line_search!r}; expected one of "
                         f"{', '.join(LINE_SEARCHES)}")
    if method == "cg" and line_search != "strong_wolfe":
        raise ValueError("method 'cg' needs line_search='strong_wolfe': with Armijo "
                         "steps alone PR+ directions need not descend (N&W section 5.2)")


def _check_settings(*, max_iter, memory_size, restart_every, max_line_search_steps, tol,
                    learning_rate, f_tol, c1, c2) -> None:
    """ValueError for a non-positive budget or tolerance, or ``c1, c2`` outside
    ``0 < c1 < c2 < 1`` (the Wolfe conditions' constants, N&W sec. 3.1)."""
    check_positive_int("max_iter", max_iter)
    check_positive_int("memory_size", memory_size)
    check_positive_int("max_line_search_steps", max_line_search_steps)
    _check_number("tol", tol)
    _check_number("learning_rate", learning_rate)
    _check_number("f_tol", f_tol, allow_zero=True)
    check_number("c1", c1)
    check_number("c2", c2)
    if is_concrete(c1, c2) and not 0.0 < float(c1) < float(c2) < 1.0:
        raise ValueError(f"line search constants must satisfy 0 < c1 < c2 < 1, "
                         f"got c1={c1!r}, c2={c2!r}")
    if restart_every is not None:
        check_positive_int("restart_every", restart_every)


def _check_problem(fun: Callable, x0: PyTree, args: tuple) -> int:
    """The dimension ``n`` of the flattened ``x0``, after checking that ``x0`` is a
    non-empty pytree of floating arrays and that ``fun(x0, *args)`` is a scalar."""
    flat0, _ = ravel_pytree(x0)
    if flat0.size == 0 or not jnp.issubdtype(flat0.dtype, jnp.floating):
        raise ValueError(f"x0 must be a non-empty pytree of floating-point arrays, got "
                         f"{flat0.size} elements of dtype {flat0.dtype}")
    out = jax.eval_shape(fun, x0, *args)
    if not hasattr(out, "shape") or out.shape != ():
        raise ValueError(f"fun must return a scalar, got {getattr(out, 'shape', type(out))}")
    return int(flat0.size)


def minimize(fun: Callable[..., Array], x0: PyTree, method: str = "lbfgs", *,
             args: tuple = (), tol: float = 1e-6, max_iter: int = 1000,
             learning_rate: float = 0.1, f_tol: float | None = None,
             line_search: str | None = None, memory_size: int = 10,
             restart_every: int | None = None, c1: float = 1e-4, c2: float | None = None,
             max_line_search_steps: int = 30) -> MinimizeResult:
    """Minimize ``fun(x, *args)`` (a scalar) over a pytree ``x`` starting from ``x0``.

    Args:
      fun: ``fun(x, *args) -> ()`` differentiable scalar; ``x`` has ``x0``'s structure.
        Used as a static jit argument: pass the same function object to reuse the
        compiled solver (data go through ``args``, which are traced).
      x0: pytree of floating arrays, the starting point.
      method: ``"gd"``, ``"newton"``, ``"lbfgs"`` or ``"cg"`` (see the module docstring).
      args: extra arguments passed to ``fun`` (arrays or pytrees).
      tol: converged when the gradient's Euclidean norm is ``<= tol``.
      max_iter: iteration budget; ``history`` has ``max_iter + 1`` entries.
      learning_rate: gd's fixed step ``lr``.
      f_tol: gd's decrease test, converged when ``|f(x_k) - f(x_{k+1})| < f_tol``; default
        ``tol``; ``0`` switches the test off (then only the gradient test applies).
      line_search: ``"strong_wolfe"`` or ``"backtracking"`` (Armijo) for newton and lbfgs;
        defaults: newton backtracking, lbfgs strong Wolfe. cg always uses strong Wolfe;
        gd takes none.
      memory_size: L-BFGS memory ``m`` (pairs kept).
      restart_every: CG restart period; default the dimension ``n``.
      c1, c2: sufficient-decrease and curvature constants, ``0 < c1 < c2 < 1``; ``c2``
        defaults to 0.9 (newton, lbfgs) or 0.1 (cg).
      max_line_search_steps: function evaluations allowed per line search.

    Returns:
      `MinimizeResult` ``(x, fun, grad_norm, n_iter, converged, history)``.

    Raises:
      ValueError: unknown method or line search, non-positive tolerances or budgets,
        non-floating ``x0``, or ``fun`` not returning a scalar.
    """
    f_tol = tol if f_tol is None else f_tol
    c2 = _DEFAULT_C2.get(method, 0.9) if c2 is None else c2
    _check_method_options(method, line_search)
    _check_settings(max_iter=max_iter, memory_size=memory_size, restart_every=restart_every,
                    max_line_search_steps=max_line_search_steps, tol=tol,
                    learning_rate=learning_rate, f_tol=f_tol, c1=c1, c2=c2)
    n = _check_problem(fun, x0, args)
    config = SolverConfig(
        method=method,
        max_iter=max_iter,
        line_search=line_search or _DEFAULT_LINE_SEARCH.get(method, "backtracking"),
        memory_size=memory_size,
        restart_every=restart_every or n,
        max_line_search_steps=max_line_search_steps,
    )
    numbers = SolverNumbers(tol=tol, f_tol=f_tol, learning_rate=learning_rate, c1=c1, c2=c2)
    return solve_jit(fun, config, _SOLVERS[method], x0, tuple(args), numbers)
