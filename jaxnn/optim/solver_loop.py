"""The compiled loop behind `jaxnn.optim.solvers.minimize`, and the records it passes around.

Each method of `jaxnn.optim.solvers` is a pair of pure functions on flat vectors
``x, g: (n,)``:

* ``init(x, value, grad, config) -> aux``: the method's own state (memory, direction, damping);
* ``step(value_and_grad, hessian, config, numbers, k, x, value, grad, aux) -> StepResult``:
  iteration ``k``, from ``x_k`` to ``x_{k+1}``.

`solve` flattens ``x0`` into ``x: (n,)``, runs ``step`` in a `jax.lax.while_loop` until a
stopping test holds, and unflattens the answer; `solve_jit` compiles the whole solve into
one program.  It stops as converged when ``||g||_2 <= tol`` (a numerical form of the
first-order optimality condition ``grad f(x*) = 0``, Nocedal & Wright, *Numerical
Optimization*, 2nd ed. 2006, Theorem 2.2) or when the method's own test holds, and stops
unconverged when the method makes no more progress, ``f`` is not finite, or after
``max_iter`` iterations.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.flatten_util import ravel_pytree

from jaxnn.optim.line_search import LineSearchResult, backtracking, strong_wolfe

PyTree = Any


class MinimizeResult(NamedTuple):
    """What `minimize` returns.

    x: the final iterate, same pytree structure as ``x0``.
    fun: () ``f(x)``.
    grad_norm: () Euclidean norm of the gradient at ``x`` (over all leaves).
    n_iter: () int, iterations taken (0 if ``x0`` already satisfied the tolerance).
    converged: () bool, whether the stopping test was met (not just ``max_iter`` reached or
        a stalled line search).
    history: (max_iter + 1,) ``f`` after each iteration: ``history[0] = f(x0)``,
        ``history[k] = f(x_k)`` for ``k <= n_iter``, NaN after ``n_iter``.
    """

    x: PyTree
    fun: Array
    grad_norm: Array
    n_iter: Array
    converged: Array
    history: Array


class SolverConfig(NamedTuple):
    """Static (hashable) settings: changing one recompiles the solver."""

    method: str
    max_iter: int
    line_search: str
    memory_size: int
    restart_every: int
    max_line_search_steps: int


class SolverNumbers(NamedTuple):
    """Traced scalar settings: changing one reuses the compiled solver."""

    tol: Array
    f_tol: Array
    learning_rate: Array
    c1: Array
    c2: Array


class StepResult(NamedTuple):
    """One iteration's outcome, as returned by each method's step function."""

    x: Array
    value: Array
    grad: Array
    aux: Any            # the method's own state (memory, direction, damping)
    progressed: Array   # False: the method cannot make further progress (stop)
    converged: Array    # a method-specific convergence test (gd's decrease test)


def search_along(config: SolverConfig, numbers: SolverNumbers, value_and_grad, x, direction,
                 value, grad, initial_step) -> LineSearchResult:
    """The configured line search along ``direction``: Armijo backtracking (N&W Algorithm
    3.1) or strong Wolfe (N&W Algorithms 3.5, 3.6); see `jaxnn.optim.line_search`."""
    if config.line_search == "backtracking":
        return backtracking(value_and_grad, x, direction, value, grad,
                            initial_step=initial_step, c1=numbers.c1,
                            max_steps=config.max_line_search_steps)
    return strong_wolfe(value_and_grad, x, direction, value, grad, initial_step=initial_step,
                        c1=numbers.c1, c2=numbers.c2, max_steps=config.max_line_search_steps)


class LoopState(NamedTuple):
    k: Array
    x: Array
    value: Array
    grad: Array
    aux: Any
    history: Array
    converged: Array
    stalled: Array


def solve(fun: Callable, config: SolverConfig, method: tuple[Callable, Callable], x0: PyTree,
          args: tuple, numbers: SolverNumbers) -> MinimizeResult:
    """Minimize ``fun(x0-like, *args)`` with ``method = (init, step)`` (module docstring)."""
    flat0, unravel = ravel_pytree(x0)
    numbers = jax.tree.map(lambda v: jnp.asarray(v, flat0.dtype), numbers)

    def flat_fun(flat: Array) -> Array:
        return fun(unravel(flat), *args)

    value_and_grad = jax.value_and_grad(flat_fun)
    hessian = jax.hessian(flat_fun)
    init_aux, step = method

    def running(state: LoopState) -> Array:
        return (state.k < config.max_iter) & ~state.converged & ~state.stalled

    def iterate(state: LoopState) -> LoopState:
        out = step(value_and_grad, hessian, config, numbers, state.k, state.x, state.value,
                   state.grad, state.aux)
        converged = (jnp.linalg.norm(out.grad) <= numbers.tol) | out.converged
        return LoopState(
            k=state.k + 1,
            x=out.x,
            value=out.value,
            grad=out.grad,
            aux=out.aux,
            history=state.history.at[state.k + 1].set(out.value),
            converged=converged,
            stalled=~out.progressed | ~jnp.isfinite(out.value),
        )

    value0, grad0 = value_and_grad(flat0)
    history = jnp.full((config.max_iter + 1,), jnp.nan, flat0.dtype).at[0].set(value0)
    start = LoopState(jnp.asarray(0), flat0, value0, grad0,
                      init_aux(flat0, value0, grad0, config), history,
                      jnp.linalg.norm(grad0) <= numbers.tol, ~jnp.isfinite(value0))
    final = jax.lax.while_loop(running, iterate, start)
    return MinimizeResult(x=unravel(final.x), fun=final.value,
                          grad_norm=jnp.linalg.norm(final.grad), n_iter=final.k,
                          converged=final.converged, history=final.history)


solve_jit = jax.jit(solve, static_argnames=("fun", "config", "method"))
