"""Recurrent layers: ``rnn`` (tanh, LSTM, GRU cells), ``bidirectional``, ``time_distributed``.

Inputs are batch-first sequences ``x: (N, T, D)``; the hidden width is ``H``; the cells
(one time step each, written twice: the textbook reference step and the fast step, and
the halves of its backward) are in `jaxnn.layers.cells`.

Forward (``apply``): a ``lax.scan`` over time of the cell's step.  Backward:
backpropagation through time (BPTT, Werbos 1990) by hand, in three parts:

1. the forward loop, stacking what the cell keeps of every step (the LSTM: ``c_t`` and its
   gates; ``h_t`` is rebuilt from them after the loop); from the states and gates the local
   derivatives (the cell's ``slopes``) for all ``T`` steps at once.  This is the layer's
   ``forward``, whose cache (`BPTTCache`) the backward of `jaxnn.backprop.value_and_grad`
   starts from; ``backward(params, x, dy)`` runs it first;
2. a reverse ``lax.scan`` that carries ``dL/dh`` (and ``dL/dc``), adds each step's output
   gradient and turns it into ``dL/dxw_t``, ``dL/dhw_t`` and the previous step's ``dL/dh``:
   the only sequential part, one matmul ``dh_{t-1} = dhw_t W_h^T`` per step;
3. the weight gradients, sums over steps, each one matmul over all ``T`` steps at once,

       dW_x = sum_t x_t^T dxw_t      db = sum_t sum_n dxw_t      dx_t = dxw_t W_x^T
       dW_h = sum_t h_{t-1}^T dhw_t

   instead of ``T`` small matmuls accumulated in the loop (what ``jax.grad`` of the scan
   does for ``W_h``).

jax.grad of ``apply`` (the autodiff path) goes through `time_loop`, whose VJP is built from
``jax.vjp`` of one step (no hand-written derivative) but arranged as BPTT is: the matmuls
over all ``T`` steps sit outside the loops.

Everything outside the loops works on time-major ``(T, N, .)`` arrays, flattened to
``(T*N, .)`` rows for the matmuls.  Speed notes (XLA:CPU, the adding problem T = 100,
D = 2, H = 32, batch 32): unrolling the loops (``lax.scan(..., unroll=k)``) made a training
step 1.1-1.8x slower for k = 2, 4, on both gradient paths, so the loops are not unrolled.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnn import initializers
from jaxnn.layers.base import (Array, Layer, backward_with_cache, check_layer, check_param_dict, describe,
                               forward_with_cache, require_key, split_key)
from jaxnn.util import check_number, check_positive_int
from jaxnn.layers.cells import CELLS, Cell, get_cell
from jaxnn.spec import configured

__all__ = ["CELLS", "bidirectional", "rnn", "time_distributed"]


def clip_rows(g: Array, max_norm: float) -> Array:
    """Rescale each row of ``g: (N, H)`` to L2 norm at most ``max_norm``."""
    norm = jnp.linalg.norm(g, axis=-1, keepdims=True)
    return g * (max_norm / jnp.maximum(norm, max_norm))


def check_sequence(x: Array, W_x: Array, what: str = "rnn") -> None:
    """Static shape check: ``x`` must be ``(N, T, D)`` with ``D`` the params' input width."""
    if jnp.ndim(x) != 3:
        raise ValueError(f"{what}: expected inputs of shape (N, T, D) (batch, time, features), "
                         f"got shape {tuple(x.shape)}")
    if x.shape[-1] != W_x.shape[0]:
        raise ValueError(f"{what}: params were built for D={W_x.shape[0]} input features, "
                         f"got inputs of shape (N, T, D)={tuple(x.shape)}")


# ----------------------------------------------------------------------------- the time loops

def time_major(x: Array, W_x: Array) -> Array:
    """The checked inputs ``(N, T, D)`` as ``(T, N, D)``, the order the time loop reads them."""
    check_sequence(x, W_x)
    return jnp.swapaxes(x, 0, 1)


def with_ones(xs: Array) -> Array:
    """``[x, 1]``: the time-major inputs ``(T, N, D)`` as rows ``(T*N, D + 1)`` with a 1 appended,
    so that ``[x, 1] [W_x; b] = x W_x + b`` (the bias trick, CS231n "Linear classification")."""
    T, N, D = xs.shape
    return jnp.concatenate([xs.reshape(T * N, D), jnp.ones((T * N, 1), xs.dtype)], axis=1)


def input_projection(params: dict, xs: Array) -> Array:
    """xw_t = x_t W_x + b for all steps at once: ``xs: (T, N, D) -> (T, N, G*H)``.

    One ``[x, 1] @ [W_x; b]`` matmul (`with_ones`) on the time-major inputs, so its result is
    already in the order the loop reads and its transpose (in jax.grad and in BPTT) is one
    ``[x, 1]^T dxw`` for ``dW_x`` and ``db`` together.  On XLA:CPU this runs ~2x faster than
    ``x W_x + b`` (a matmul, then a pass adding ``b``), and an einsum from batch-first ``x``
    leaves transposed ``(T, N, G*H)`` copies each way and a slow ``dW_x`` product (together
    ~20% of an LSTM training step on the adding problem: T = 100, D = 2, H = 32, batch 32).
    """
    T, N, _ = xs.shape
    W_and_b = jnp.concatenate([params["W_x"], params["b"][None]])
    return (with_ones(xs) @ W_and_b).reshape(T, N, -1)


def initial_state(cell: Cell, batch_size: int, hidden: int, dtype) -> tuple[Array, ...]:
    """h_0 = 0 (and c_0 = 0): a tuple of ``cell.n_states`` arrays (N, H)."""
    return (jnp.zeros((batch_size, hidden), dtype),) * cell.n_states


def rnn_forward(cell: Cell, params: dict, x: Array, hidden: int, return_sequences: bool,
                step_vjp: bool) -> Array:
    """``state_t = cell.step(state_{t-1}, xw_t)`` for t = 1..T: h_T (N, H), or all h_t (N, T, H).

    With ``step_vjp``, jax.grad differentiates the time loop through
    `time_loop`'s VJP, which leaves the matmuls out of the loops; without it, jax.grad
    differentiates the plain ``lax.scan`` (`plain_time_loop`).  Both give the same numbers.
    """
    xw = input_projection(params, time_major(x, params["W_x"]))
    loop = time_loop if step_vjp else plain_time_loop
    y = loop(cell, hidden, return_sequences, recurrent_params(params), xw)
    return jnp.swapaxes(y, 0, 1) if return_sequences else y


def recurrent_params(params: dict) -> dict:
    """The params the time loop reads (``W_h``, and the GRU's ``b_hn``): all but ``W_x``, ``b``."""
    return {k: v for k, v in params.items() if k not in ("W_x", "b")}


def plain_time_loop(cell: Cell, hidden: int, return_sequences: bool, loop_params: dict,
                    xw: Array) -> Array:
    """The time loop on the projected inputs ``xw: (T, N, G*H)``: h_T (N, H), or every h_t
    time-major (T, N, H).

    Its own lean loop, stacking only what is returned: `forward_for_bptt`'s stacks would
    slow inference, and XLA cannot merge the two loops anyway.
    """
    def body(state, xw_t):
        state, _ = cell.step(loop_params, state, xw_t)
        return state, (state[0] if return_sequences else None)

    last, hs = lax.scan(body, initial_state(cell, xw.shape[1], hidden, xw.dtype), xw)
    return hs if return_sequences else last[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def time_loop(cell: Cell, hidden: int, return_sequences: bool, loop_params: dict, xw: Array) -> Array:
    """`plain_time_loop`, whose reverse-mode derivative is built from ``jax.vjp`` of one step.

    JAX's own derivative of the ``lax.scan`` stacks every intermediate of the step (nine
    arrays for the LSTM) and adds ``h_{t-1}^T dhw_t`` into ``dW_h`` at every step, so each
    step of its loops launches about twice the kernels of the hand BPTT's (a few tenths of
    a microsecond each on XLA:CPU, as much as the step's arithmetic).  This VJP
    (`time_loop_fwd`, `time_loop_bwd`) is the same chain rule arranged as BPTT is
    (Werbos 1990): the forward loop keeps only the states and ``h_{t-1} W_h``, and the
    other matmuls run over all ``T`` steps at once outside the loops.  No derivative is written by hand: each step's
    is ``jax.vjp`` of the cell's ``step_from_projections``, so this path stays an
    independent check of the hand BPTT, and the tests hold it to jax.grad of
    `plain_time_loop` in float64.  Reverse mode only: ``jax.jvp``/``jax.jacfwd`` of it
    raise a TypeError (``jax.hessian``, forward-over-reverse, works); ``rnn(...,
    step_vjp=False)`` differentiates the plain loop in every mode.
    """
    return plain_time_loop(cell, hidden, return_sequences, loop_params, xw)


def time_loop_fwd(cell, hidden, return_sequences, loop_params, xw):
    """The forward loop, keeping what each step's VJP starts from: the state before the
    step, ``(h_{t-1}, [c_{t-1}])``, and ``hw_t = h_{t-1} W_h``."""
    first = initial_state(cell, xw.shape[1], hidden, xw.dtype)

    def body(state, xw_t):
        hw_t = cell.project_recurrent(loop_params, state[0])
        state, _ = cell.step_from_projections(state, xw_t, hw_t)
        return state, (state, hw_t)

    _, (states, hw) = lax.scan(body, first, xw)
    states_prev = tuple(jnp.concatenate([s0[None], s[:-1]]) for s0, s in zip(first, states))
    y = states[0] if return_sequences else states[0][-1]
    return y, (loop_params, xw, hw, states_prev)


def time_loop_bwd(cell, hidden, return_sequences, residuals, dy):
    """The chain rule through time, t = T..1, every local derivative from ``jax.vjp``:

        pullback_t = vjp of step_from_projections at (state_{t-1}, xw_t, hw_t)   all T at once
        dstate_t = dy_t + (dL/dstate_t from step t+1)
        (dL/dstate_{t-1}, dxw_t, dhw_t) = pullback_t(dstate_t)
        dL/dh_{t-1} += vjp of project_recurrent in h, at dhw_t    (dhw_t W_h^T: the loop's matmul)
        dparams = vjp of project_recurrent in params, at all dhw_t (h_{t-1}^T dhw_t summed: one matmul)

    The pullbacks' residuals (the step's activations and their slopes) are computed for all
    ``T`` steps at once by ``jax.vmap``, so the loop runs only their linear, transposed
    parts.  ``project_recurrent`` is affine in ``h``, so its VJP in ``h`` is the same
    wherever it is taken (here at 0), and the params get one VJP over all ``T * N`` rows.
    """
    loop_params, xw, hw, states_prev = residuals
    T, N, width = xw.shape
    first = initial_state(cell, N, hidden, xw.dtype)
    if return_sequences:
        dh_out = dy
    else:
        dh_out, first = None, (dy.astype(xw.dtype), *first[1:])

    def step_pullback(state_prev, xw_t, hw_t):
        """jax.vjp of one step: its pullback ``dstate_t -> (dstate_{t-1}, dxw_t[, dhw_t])``."""
        if cell.projections_summed:  # a_t = xw_t + hw_t first: dL/dhw_t = dL/dxw_t
            return jax.vjp(lambda s, a: cell.step_from_projections(s, a, hw_t)[0], state_prev, xw_t)[1]
        return jax.vjp(lambda s, a, b: cell.step_from_projections(s, a, b)[0], state_prev, xw_t, hw_t)[1]

    pullbacks = jax.vmap(step_pullback)(states_prev, xw, hw)
    _, project_back = jax.vjp(lambda h: cell.project_recurrent(loop_params, h), jnp.zeros((N, hidden), xw.dtype))

    def body(dstate, inputs):
        dh_out_t, pullback_t = inputs
        if dh_out_t is not None:
            dstate = (dstate[0] + dh_out_t, *dstate[1:])
        if cell.projections_summed:
            (dstate_prev, dxw_t), dhw_t = pullback_t(dstate), None
        else:
            dstate_prev, dxw_t, dhw_t = pullback_t(dstate)
        (dh_prev,) = project_back(dxw_t if dhw_t is None else dhw_t)
        return (dstate_prev[0] + dh_prev, *dstate_prev[1:]), (dxw_t, dhw_t)

    _, (dxw, dhw) = lax.scan(body, first, (dh_out, pullbacks), reverse=True)
    dhw = dxw if dhw is None else dhw
    _, params_back = jax.vjp(lambda p: cell.project_recurrent(p, states_prev[0].reshape(T * N, hidden)), loop_params)
    (dparams,) = params_back(dhw.reshape(T * N, width))
    return dparams, dxw


time_loop.defvjp(time_loop_fwd, time_loop_bwd)


def forward_for_bptt(cell: Cell, params: dict, xs: Array, hidden: int):
    """The time loop on time-major ``xs: (T, N, D)``, keeping what the backward needs: the
    states before each step and after it, ``(h_t, [c_t])`` each (T, N, H), and the extras.
    The loop stacks only what ``cell.keep`` picks; ``cell.restore`` rebuilds the rest for
    all steps at once."""
    xw = input_projection(params, xs)
    first = initial_state(cell, xs.shape[1], hidden, xw.dtype)

    def body(state, xw_t):
        state, extras = cell.step(params, state, xw_t)
        return state, cell.keep(state, extras)

    _, kept = lax.scan(body, first, xw)
    states, extras = cell.restore(kept)
    states_prev = tuple(jnp.concatenate([s0[None], s[:-1]]) for s0, s in zip(first, states))
    return states_prev, states, extras


def reverse_time_loop(cell: Cell, params: dict, slopes, dh_out: Array | None, first_dstate,
                      clip_grad_norm: float | None) -> tuple[Array, Array | None]:
    """BPTT's sequential part, t = T..1, carrying ``dL/dstate_t`` (Werbos 1990):

        dh_t = dh_out_t + dL/dh_t sent back by step t+1        (clipped per row if asked)
        (dL/dstate_{t-1}, dxw_t, dhw_t) = cell.step_backward(slopes_t, (dh_t, [dc_t]))

    slopes: the cell's, stacked over T; dh_out: (T, N, H), dL/dh_t from the layer's output,
    or None when only the last state is an output (its gradient is then in ``first_dstate``).
    Returns ``dxw: (T, N, G*H)`` and ``dhw`` (None when it is ``dxw`` itself).
    """

    def body(dstate, step_inputs):
        slopes_t, dh_out_t = step_inputs
        dh = dstate[0] if dh_out_t is None else dstate[0] + dh_out_t
        if clip_grad_norm is not None:
            dh = clip_rows(dh, clip_grad_norm)
        dstate_prev, dxw_t, dhw_t = cell.step_backward(params, slopes_t, (dh, *dstate[1:]))
        # tanh and LSTM: dhw_t is dxw_t itself; stack it once
        return dstate_prev, (dxw_t, None if dhw_t is dxw_t else dhw_t)

    _, (dxw, dhw) = lax.scan(body, first_dstate, (slopes, dh_out), reverse=True)
    return dxw, dhw


class BPTTCache(NamedTuple):
    """What the backward through time needs from the forward (`rnn_forward_with_cache`)."""

    xs: Array      # the inputs, time-major (T, N, D), for dW_x
    h_prev: Array  # h_{t-1} at every step, time-major (T, N, H), for dW_h
    slopes: Any    # the cell's local derivatives at every step (`Cell.slopes`), stacked over T


def rnn_forward_with_cache(cell: Cell, params: dict, x: Array, hidden: int,
                           return_sequences: bool) -> tuple[Array, BPTTCache]:
    """``(y, cache)``: the output of `rnn_forward` from `forward_for_bptt`'s loop, and the
    `BPTTCache` of `rnn_backward_from_cache` (the slopes of all ``T`` steps at once)."""
    xs = time_major(x, params["W_x"])
    states_prev, states, extras = forward_for_bptt(cell, params, xs, hidden)
    y = jnp.swapaxes(states[0], 0, 1) if return_sequences else states[0][-1]
    return y, BPTTCache(xs, states_prev[0], cell.slopes(states_prev, states, extras))


def rnn_backward_from_cache(cell: Cell, params: dict, cache: BPTTCache, dy: Array, hidden: int,
                            return_sequences: bool, clip_grad_norm: float | None):
    """Backpropagation through time (Werbos 1990) by hand: ``(dparams, dx)``.

        dh_t = dy_t + dL/dh_t from step t+1       (dy_t = 0 for t < T without return_sequences)
        dxw_t, dhw_t, dL/dstate_{t-1} from the cell's step_backward, t = T..1
        dW_x = sum_t x_t^T dxw_t      db = sum_{t, n} dxw_t      dx_t = dxw_t W_x^T
        dW_h = sum_t h_{t-1}^T dhw_t  (and the cell's other recurrent params)

    x: (N, T, D); dy: (N, T, H) with return_sequences, else (N, H); dx: (N, T, D).
    The sums over steps are matmuls over the flattened ``(T*N, .)`` time-major stacks;
    ``[dW_x; db] = [x, 1]^T dxw`` is one (`with_ones`).
    """
    T, N, D = cache.xs.shape
    expected = (N, T, hidden) if return_sequences else (N, hidden)
    if dy.shape != expected:
        raise ValueError(f"rnn backward: dy must have the output's shape {expected}, "
                         f"got {tuple(dy.shape)}")
    first_dstate = initial_state(cell, N, hidden, cache.h_prev.dtype)
    if return_sequences:  # dL/dh_t straight from the output at every step, time-major (T, N, H)
        dh_out = jnp.swapaxes(dy, 0, 1)
    else:  # only h_T is an output: the loop starts from dL/dh_T = dy
        dh_out, first_dstate = None, (dy.astype(first_dstate[0].dtype), *first_dstate[1:])
    dxw, dhw = reverse_time_loop(cell, params, cache.slopes, dh_out, first_dstate, clip_grad_norm)
    grads = cell.recurrent_grads(cache.h_prev, dxw if dhw is None else dhw)
    dxw = dxw.reshape(T * N, -1)
    dW_and_b = with_ones(cache.xs).T @ dxw
    grads["W_x"], grads["b"] = dW_and_b[:D], dW_and_b[D]
    dx = jnp.swapaxes((dxw @ params["W_x"].T).reshape(T, N, D), 0, 1)
    return {k: grads[k] for k in params}, dx


def rnn_backward(cell: Cell, params: dict, x: Array, dy: Array, hidden: int,
                 return_sequences: bool, clip_grad_norm: float | None):
    """`rnn_backward_from_cache` after the forward loop that fills the cache."""
    _, cache = rnn_forward_with_cache(cell, params, x, hidden, return_sequences)
    return rnn_backward_from_cache(cell, params, cache, dy, hidden, return_sequences, clip_grad_norm)


# ----------------------------------------------------------------------------- rnn

@configured
def rnn(hidden: int, cell: str = "tanh", return_sequences: bool = False,
        clip_grad_norm: float | None = None, *,
        kernel_init: str | Callable = initializers.glorot_uniform,
        recurrent_init: str | Callable = initializers.orthogonal(), step_vjp: bool | None = None) -> Layer:
    """A recurrent layer: ``x: (N, T, D) -> h_T: (N, H)``, or all ``h_t: (N, T, H)``.

    ``cell`` is ``"tanh"``, ``"lstm"`` or ``"gru"`` (see `CELLS`; equations in each cell's
    reference step), ``h_0 = 0`` (and ``c_0 = 0``).  ``W_x`` starts Glorot-uniform, ``W_h``
    orthogonal, biases at 0 except the LSTM forget gate (1).

    ``backward`` is BPTT by hand (`rnn_backward`); ``forward`` runs the time loop once
    keeping the `BPTTCache` that ``backward_from_cache`` starts from.  With ``clip_grad_norm=c`` it rescales,
    at every step, each example's carried ``dL/dh_t`` (after adding that step's output
    gradient) to L2 norm at most ``c`` (Pascanu et al. 2013 clip the whole gradient; this is
    the per-step variant).  ``dL/dc`` is not clipped.  Clipping makes ``backward`` a
    *modified* gradient, no longer the VJP of ``apply``; ``None`` (default) is the exact VJP.

    ``step_vjp=True``: jax.grad of ``apply`` runs `time_loop`'s VJP, built from
    ``jax.vjp`` of one step with the matmuls outside the loops (reverse mode only:
    ``jax.jvp``/``jax.jacfwd`` of ``apply`` raise a TypeError, while ``jax.hessian``
    works).  ``step_vjp=False``: JAX differentiates the plain ``lax.scan``, in every mode.
    Both give the same numbers.  ``None`` (default): the faster on XLA:CPU for the cell
    (the adding problem, T = 100, H = 32, batch 32: a training step of the LSTM and tanh
    cells ~1.15x faster with it, so True; the GRU's ~1.7x slower, so False: XLA:CPU fuses
    its forward step into one kernel whose sigmoids and tanh run ~3x slower than apart).
    """
    cell_fns = get_cell(cell)
    if step_vjp is None:
        step_vjp = cell_fns.step_vjp
    if not isinstance(step_vjp, bool):
        raise ValueError(f"rnn: step_vjp must be True, False or None, got {step_vjp!r}")
    kernel_init, recurrent_init = initializers.get(kernel_init), initializers.get(recurrent_init)
    hidden = check_positive_int("rnn: hidden", hidden)
    if clip_grad_norm is not None:
        clip_grad_norm = check_number("rnn: clip_grad_norm (or None)", clip_grad_norm, 0, low_open=True)

    @describe("rnn")
    def init_fn(key, in_shape):
        if len(in_shape) != 2:
            raise ValueError(f"rnn: expected in_shape (T, D) (time, features; no batch axis), "
                             f"got {tuple(in_shape)}")
        T, D = in_shape
        params = cell_fns.init(require_key("rnn", key), D, hidden, kernel_init, recurrent_init)
        return ((T, hidden) if return_sequences else (hidden,)), params

    def apply_fn(params, x, *, key=None, train=False):
        check_param_dict("rnn", params, ("W_x", "b"))
        return rnn_forward(cell_fns, params, x, hidden, return_sequences, step_vjp)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """BPTT (Werbos 1990): dh_t = dy_t + dL/dh_t from step t+1, then the cell's
        step_backward for t = T..1; dW = sums over t (formulas in `rnn_backward`)."""
        check_param_dict("rnn", params, ("W_x", "b"))
        return rnn_backward(cell_fns, params, x, dy, hidden, return_sequences, clip_grad_norm)

    def forward_fn(params, x, *, key=None, train=False):
        """``(y, BPTTCache)``: the time loop once, keeping what BPTT needs."""
        check_param_dict("rnn", params, ("W_x", "b"))
        return rnn_forward_with_cache(cell_fns, params, x, hidden, return_sequences)

    def backward_from_cache_fn(params, cache, dy, *, key=None, train=False):
        """BPTT from `forward`'s cache (formulas in `rnn_backward_from_cache`)."""
        check_param_dict("rnn", params, ("W_x", "b"))
        return rnn_backward_from_cache(cell_fns, params, cache, dy, hidden, return_sequences, clip_grad_norm)

    return Layer(init_fn, apply_fn, backward_fn, forward_fn, backward_from_cache_fn)


# ----------------------------------------------------------------------------- bidirectional

MERGES: dict[str, tuple[Callable, Callable]] = {
    # name: (merge(y_fwd, y_bwd), split(dy, width_fwd) -> (dy_fwd, dy_bwd))
    "concat": (lambda a, b: jnp.concatenate([a, b], axis=-1),
               lambda dy, width: (dy[..., :width], dy[..., width:])),
    "sum": (lambda a, b: a + b, lambda dy, width: (dy, dy)),
    "mean": (lambda a, b: (a + b) / 2, lambda dy, width: (dy / 2, dy / 2)),
}


def time_reverse(x: Array) -> Array:
    return jnp.flip(x, axis=1)


def _align(y_bwd: Array, x: Array) -> Array:
    """Flip a per-step output of the reversed pass back into forward time order (a last-state
    output has no time axis and stays as it is)."""
    return time_reverse(y_bwd) if y_bwd.ndim == x.ndim else y_bwd


@configured
def bidirectional(layer_fwd: Layer, layer_bwd: Layer | None = None, merge: str = "concat") -> Layer:
    """Run ``layer_fwd`` on ``x`` and ``layer_bwd`` on ``x`` reversed in time, then merge.

    ``x: (N, T, D)``.  ``layer_bwd`` defaults to ``layer_fwd`` (same architecture, its own
    params).  A sequence output ``(N, T, H)`` of the backward layer is flipped back so that
    step ``t`` of both directions lines up; a last-state output ``(N, H)`` is used as is
    (it is the state after reading ``x_1``).  ``merge``: ``"concat"`` (features side by side),
    ``"sum"`` or ``"mean"``.  Params: ``{"forward": ..., "backward": ...}``.

    Backward: split ``dy`` between the directions (``merge``'s backward), flip the
    backward direction's part, run each child's ``backward``, and add the two ``dx``
    (flipping the reversed one back).
    """
    check_layer("bidirectional: layer_fwd", layer_fwd)
    layer_bwd = layer_fwd if layer_bwd is None else check_layer("bidirectional: layer_bwd", layer_bwd)
    if not isinstance(merge, str) or merge not in MERGES:
        raise ValueError(f"bidirectional: unknown merge {merge!r}; known: {sorted(MERGES)}")
    merge_fn, split_fn = MERGES[merge]

    @describe("bidirectional", (layer_fwd, layer_bwd))
    def init_fn(key, in_shape):
        if len(in_shape) != 2:
            raise ValueError(f"bidirectional: expected in_shape (T, D), got {tuple(in_shape)}")
        k_f, k_b = split_key(key, 2)
        shape_f, p_f = layer_fwd.init(k_f, in_shape)
        shape_b, p_b = layer_bwd.init(k_b, in_shape)
        out = jax.eval_shape(merge_fn, jax.ShapeDtypeStruct(shape_f, jnp.float32),
                             jax.ShapeDtypeStruct(shape_b, jnp.float32)).shape
        return out, {"forward": p_f, "backward": p_b}

    def apply_fn(params, x, *, key=None, train=False):
        if x.ndim != 3:
            raise ValueError(f"bidirectional: expected inputs (N, T, D), "
                             f"got shape {tuple(x.shape)}")
        k_f, k_b = split_key(key, 2)
        y_f = layer_fwd.apply(params["forward"], x, key=k_f, train=train)
        y_b = layer_bwd.apply(params["backward"], time_reverse(x), key=k_b, train=train)
        return merge_fn(y_f, _align(y_b, x))

    def backward_fn(params, x, dy, *, key=None, train=False):
        """Each direction's own backward on its share of ``dy`` (Schuster & Paliwal 1997):

            (dy_f, dy_b) = merge's adjoint of dy    concat: split by width; sum: (dy, dy);
                                                    mean: (dy / 2, dy / 2)
            dx = dx_f + reverse_t(dx_b)             (dx_b is w.r.t. the reversed input)
        """
        k_f, k_b = split_key(key, 2)
        width_f = jax.eval_shape(
            lambda p, v: layer_fwd.apply(p, v, key=k_f, train=train), params["forward"], x
        ).shape[-1]
        dy_f, dy_b = split_fn(dy, width_f)
        dp_f, dx_f = layer_fwd.backward(params["forward"], x, dy_f, key=k_f, train=train)
        dp_b, dx_b = layer_bwd.backward(params["backward"], time_reverse(x), _align(dy_b, x),
                                        key=k_b, train=train)
        return {"forward": dp_f, "backward": dp_b}, dx_f + time_reverse(dx_b)

    def forward_fn(params, x, *, key=None, train=False):
        """The merged output and ``(cache_f, cache_b, y_f)``: each direction's cache, and the
        forward direction's output, whose width splits ``dy``."""
        if x.ndim != 3:
            raise ValueError(f"bidirectional: expected inputs (N, T, D), got shape {tuple(x.shape)}")
        k_f, k_b = split_key(key, 2)
        y_f, cache_f = forward_with_cache(layer_fwd, params["forward"], x, key=k_f, train=train)
        y_b, cache_b = forward_with_cache(layer_bwd, params["backward"], time_reverse(x), key=k_b, train=train)
        return merge_fn(y_f, _align(y_b, x)), (cache_f, cache_b, y_f)

    def backward_from_cache_fn(params, cache, dy, *, key=None, train=False):
        """``backward``'s formulas, from each direction's cache."""
        cache_f, cache_b, y_f = cache
        k_f, k_b = split_key(key, 2)
        dy_f, dy_b = split_fn(dy, y_f.shape[-1])
        dp_f, dx_f = backward_with_cache(layer_fwd, params["forward"], cache_f, dy_f, key=k_f, train=train)
        dp_b, dx_b = backward_with_cache(layer_bwd, params["backward"], cache_b, _align(dy_b, dx_f),
                                         key=k_b, train=train)
        return {"forward": dp_f, "backward": dp_b}, dx_f + time_reverse(dx_b)

    return Layer(init_fn, apply_fn, backward_fn, forward_fn, backward_from_cache_fn)


# ----------------------------------------------------------------------------- time_distributed

@configured
def time_distributed(layer: Layer) -> Layer:
    """Apply ``layer`` to every time step: ``(N, T, *F) -> (N, T, *F')``, shared params.

    Folds time into the batch axis, ``(N, T, *F) -> (N*T, *F)``, runs ``layer`` once and
    unfolds the result; ``backward`` folds ``dy`` the same way, so the shared params'
    gradient is the sum over all steps.  Example: ``time_distributed(dense(V))`` puts a
    per-step readout on ``rnn(H, return_sequences=True)``.
    """
    check_layer("time_distributed: layer", layer)

    @describe("time_distributed", (layer,))
    def init_fn(key, in_shape):
        if len(in_shape) < 2:
            raise ValueError(f"time_distributed: expected in_shape (T, *features), "
                             f"got {tuple(in_shape)}")
        T, *features = in_shape
        step_shape, params = layer.init(key, tuple(features))
        return (T, *step_shape), params

    def fold(x):
        if x.ndim < 3:
            raise ValueError(f"time_distributed: expected inputs (N, T, *features), "
                             f"got shape {tuple(x.shape)}")
        return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

    def unfold(y, x):
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])

    def apply_fn(params, x, *, key=None, train=False):
        return unfold(layer.apply(params, fold(x), key=key, train=train), x)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """``dx_t = layer's dx at step t``; ``dparams = sum_t dparams_t``: a weight used at
        every step gets the sum of the steps' gradients (Werbos 1990), here the sum over
        the folded ``N*T`` batch axis that ``layer.backward`` already takes."""
        dparams, dx = layer.backward(params, fold(x), fold(dy), key=key, train=train)
        return dparams, unfold(dx, x)

    def forward_fn(params, x, *, key=None, train=False):
        """The output and the layer's cache on the folded ``(N*T, *F)`` batch."""
        y, cache = forward_with_cache(layer, params, fold(x), key=key, train=train)
        return unfold(y, x), cache

    def backward_from_cache_fn(params, cache, dy, *, key=None, train=False):
        dparams, dx = backward_with_cache(layer, params, cache, fold(dy), key=key, train=train)
        return dparams, unfold(dx, dy)

    return Layer(init_fn, apply_fn, backward_fn, forward_fn, backward_from_cache_fn)
