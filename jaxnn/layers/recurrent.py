"""Recurrent layers: ``rnn`` (tanh, LSTM, GRU cells), ``bidirectional``, ``time_distributed``.

Inputs are batch-first sequences ``x: (N, T, D)``; the hidden width is ``H``.  A cell is one
time step ``state_t = step(state_{t-1}, x_t)`` with ``state = (h,)`` (tanh, GRU) or
``(h, c)`` (LSTM), ``h_0 = c_0 = 0``.  Every cell has the same two projections

    xw_t = x_t @ W_x + b        W_x: (D, G*H), b: (G*H,)   (all T steps in one matmul)
    hw_t = h_{t-1} @ W_h        W_h: (H, G*H)               (inside the time loop)

with ``G`` gates side by side (1 for tanh, 4 for LSTM, 3 for GRU).  As for dense layers,
our ``W`` is the transpose of the column-vector ``W`` of the lectures and of PyTorch's
``weight_ih`` / ``weight_hh``.

Forward: a ``lax.scan`` over time.  Backward: backpropagation through time (BPTT) by hand.
The forward scan stores, per step, what that step's backward needs (gates, previous
``h`` and ``c``); a reverse ``lax.scan`` then carries ``dL/dh`` (and ``dL/dc``), adds the
output gradient of each step, turns it into ``dL/dxw_t`` and the previous step's
``dL/dh``, and accumulates the recurrent weights' gradients.  ``dL/dW_x``, ``dL/db`` and
``dL/dx`` for all steps come after the loop from ``dL/dxw`` in one matmul each.

References: Elman (1990) for the tanh cell; Hochreiter & Schmidhuber (1997) "Long
Short-Term Memory" and C. Olah, "Understanding LSTM Networks" (2015) for the LSTM;
Cho et al. (2014) "Learning Phrase Representations using RNN Encoder-Decoder" for the GRU;
Jozefowicz, Zaremba & Sutskever (2015) for the forget-gate bias of 1.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnn import initializers
from jaxnn.activations import sigmoid
from jaxnn.layers.base import Array, Layer, describe, split_key

LSTM_FORGET_BIAS = 1.0  # Jozefowicz et al. 2015: start with the forget gate open


# ----------------------------------------------------------------------------- helpers

def gate_split(a: Array, n_gates: int) -> list[Array]:
    """Split fused pre-activations ``(N, G*H)`` into ``G`` blocks of ``(N, H)``."""
    return jnp.split(a, n_gates, axis=-1)


def clip_rows(g: Array, max_norm: float) -> Array:
    """Rescale each row of ``g: (N, H)`` to L2 norm at most ``max_norm``."""
    norm = jnp.linalg.norm(g, axis=-1, keepdims=True)
    return g * (max_norm / jnp.maximum(norm, max_norm))


class Cell(NamedTuple):
    """One recurrent cell: how to build its params and run / differentiate one time step.

    ``init(key, D, H, kernel_init, recurrent_init) -> params``
    ``step(params, state, xw_t) -> (state_t, cache_t)``                   state: tuple of (N, H)
    ``step_backward(params, cache_t, dstate_t) -> (dstate_{t-1}, dxw_t, drecurrent_t)``
    where ``dstate_t = dL/dstate_t`` and ``drecurrent_t`` holds this step's gradient of
    every param other than ``W_x`` and ``b`` (the ones used inside the loop).
    """

    init: Callable
    step: Callable
    step_backward: Callable
    n_states: int


def projections_init(key, D, H, n_gates, kernel_init, recurrent_init):
    k_x, k_h = jax.random.split(key)
    return {
        "W_x": kernel_init(k_x, (D, n_gates * H)),
        "W_h": recurrent_init(k_h, (H, n_gates * H)),
        "b": initializers.zeros(None, (n_gates * H,)),
    }


# ----------------------------------------------------------------------------- tanh (Elman)

class TanhCache(NamedTuple):
    h_prev: Array
    h: Array


def tanh_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, H), "W_h": (H, H), "b": (H,)}``."""
    return projections_init(key, D, H, 1, kernel_init, recurrent_init)


def tanh_step(params, state, xw_t):
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b)."""
    (h_prev,) = state
    h = jnp.tanh(xw_t + h_prev @ params["W_h"])
    return (h,), TanhCache(h_prev, h)


def tanh_step_backward(params, cache, dstate):
    """da = dh * (1 - h^2);  dW_h += h_{t-1}^T da;  dh_{t-1} = da W_h^T;  dxw = da."""
    (dh,) = dstate
    da = dh * (1 - cache.h**2)
    return (da @ params["W_h"].T,), da, {"W_h": cache.h_prev.T @ da}


# ----------------------------------------------------------------------------- LSTM

class LSTMCache(NamedTuple):
    h_prev: Array
    c_prev: Array
    i: Array
    f: Array
    g: Array
    o: Array
    tanh_c: Array


def lstm_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, 4H), "W_h": (H, 4H), "b": (4H,)}``, gate blocks in order i, f, g, o.

    The forget-gate block of ``b`` starts at ``LSTM_FORGET_BIAS = 1`` (Jozefowicz et al. 2015),
    so that early in training the cell remembers instead of forgetting.
    """
    params = projections_init(key, D, H, 4, kernel_init, recurrent_init)
    params["b"] = params["b"].at[H:2 * H].set(LSTM_FORGET_BIAS)
    return params


def lstm_step(params, state, xw_t):
    """LSTM step (Hochreiter & Schmidhuber 1997, with a forget gate; Olah's notation).

        [a_i, a_f, a_g, a_o] = x_t W_x + h_{t-1} W_h + b
        i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
    """
    h_prev, c_prev = state
    a_i, a_f, a_g, a_o = gate_split(xw_t + h_prev @ params["W_h"], 4)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), jnp.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = jnp.tanh(c)
    h = o * tanh_c
    return (h, c), LSTMCache(h_prev, c_prev, i, f, g, o, tanh_c)


def lstm_step_backward(params, cache, dstate):
    """Backward of `lstm_step`, given dh = dL/dh_t and dc = dL/dc_t from later steps.

        dc_t  = dc + dh * o * (1 - tanh(c_t)^2)          (both paths into c_t)
        da_o  = dh * tanh(c_t) * o (1 - o)
        da_i  = dc_t * g * i (1 - i)      da_f = dc_t * c_{t-1} * f (1 - f)
        da_g  = dc_t * i * (1 - g^2)
        dc_{t-1} = dc_t * f                dh_{t-1} = da W_h^T        dW_h += h_{t-1}^T da
    """
    dh, dc = dstate
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    dc_total = dc + dh * o * (1 - tanh_c**2)
    da = jnp.concatenate([
        dc_total * g * i * (1 - i),
        dc_total * cache.c_prev * f * (1 - f),
        dc_total * i * (1 - g**2),
        dh * tanh_c * o * (1 - o),
    ], axis=-1)
    dstate_prev = (da @ params["W_h"].T, dc_total * f)
    return dstate_prev, da, {"W_h": cache.h_prev.T @ da}


# ----------------------------------------------------------------------------- GRU

class GRUCache(NamedTuple):
    h_prev: Array
    r: Array
    z: Array
    n: Array
    hn: Array  # h_{t-1} W_hn + b_hn, the term the reset gate multiplies


def gru_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, 3H), "W_h": (H, 3H), "b": (3H,), "b_hn": (H,)}``, gate blocks r, z, n.

    ``b`` is the input-side bias of all three gates; ``b_hn`` is the recurrent bias of the
    candidate, which sits inside the reset product (PyTorch's ``bias_hh[2H:]``).  PyTorch's
    other recurrent biases add to ``b`` and are not kept twice.
    """
    params = projections_init(key, D, H, 3, kernel_init, recurrent_init)
    params["b_hn"] = initializers.zeros(None, (H,))
    return params


def gru_step(params, state, xw_t):
    """GRU step, PyTorch / cuDNN variant of Cho et al. (2014).

        [x_r, x_z, x_n] = x_t W_x + b          [h_r, h_z, h_n] = h_{t-1} W_h
        r = sigma(x_r + h_r)                   (reset gate)
        z = sigma(x_z + h_z)                   (update gate)
        n = tanh(x_n + r * (h_n + b_hn))       (candidate)
        h_t = (1 - z) * n + z * h_{t-1}

    Cho et al. apply the reset gate before the matmul, ``tanh(x_n + (r * h_{t-1}) W_hn)``;
    here, as in PyTorch (``torch.nn.GRU``) and cuDNN, it multiplies ``h_{t-1} W_hn + b_hn``.
    """
    (h_prev,) = state
    x_r, x_z, x_n = gate_split(xw_t, 3)
    h_r, h_z, h_n = gate_split(h_prev @ params["W_h"], 3)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    hn = h_n + params["b_hn"]
    n = jnp.tanh(x_n + r * hn)
    h = (1 - z) * n + z * h_prev
    return (h,), GRUCache(h_prev, r, z, n, hn)


def gru_step_backward(params, cache, dstate):
    """Backward of `gru_step`, given dh = dL/dh_t.

        da_n = dh * (1 - z) * (1 - n^2)        da_z = dh * (h_{t-1} - n) * z (1 - z)
        da_r = da_n * (h_n + b_hn) * r (1 - r)
        dxw = [da_r, da_z, da_n]                dhw = [da_r, da_z, da_n * r]
        dh_{t-1} = dh * z + dhw W_h^T           dW_h += h_{t-1}^T dhw     db_hn += sum_N da_n * r
    """
    (dh,) = dstate
    r, z, n = cache.r, cache.z, cache.n
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (cache.h_prev - n) * z * (1 - z)
    da_r = da_n * cache.hn * r * (1 - r)
    dhn = da_n * r
    dxw = jnp.concatenate([da_r, da_z, da_n], axis=-1)
    dhw = jnp.concatenate([da_r, da_z, dhn], axis=-1)
    dh_prev = dh * z + dhw @ params["W_h"].T
    return (dh_prev,), dxw, {"W_h": cache.h_prev.T @ dhw, "b_hn": dhn.sum(0)}


CELLS: dict[str, Cell] = {
    "tanh": Cell(tanh_init, tanh_step, tanh_step_backward, n_states=1),
    "lstm": Cell(lstm_init, lstm_step, lstm_step_backward, n_states=2),
    "gru": Cell(gru_init, gru_step, gru_step_backward, n_states=1),
}


def get_cell(name: str) -> Cell:
    if name not in CELLS:
        raise ValueError(f"rnn: unknown cell {name!r}; known cells: {sorted(CELLS)}")
    return CELLS[name]


def check_sequence(x: Array, W_x: Array, what: str = "rnn") -> None:
    """Static shape check: ``x`` must be ``(N, T, D)`` with ``D`` the params' input width."""
    if x.ndim != 3:
        raise ValueError(f"{what}: expected inputs of shape (N, T, D) (batch, time, features), "
                         f"got shape {tuple(x.shape)}")
    if x.shape[-1] != W_x.shape[0]:
        raise ValueError(f"{what}: params were built for D={W_x.shape[0]} input features, "
                         f"got inputs of shape (N, T, D)={tuple(x.shape)}")


# ----------------------------------------------------------------------------- rnn

def rnn(hidden: int, cell: str = "tanh", return_sequences: bool = False,
        clip_grad_norm: float | None = None, *,
        kernel_init: str | Callable = initializers.glorot_uniform,
        recurrent_init: str | Callable = initializers.orthogonal()) -> Layer:
    """A recurrent layer: ``x: (N, T, D) -> h_T: (N, H)``, or all ``h_t: (N, T, H)``.

    ``cell`` is ``"tanh"``, ``"lstm"`` or ``"gru"`` (see `CELLS`; equations in each step's
    docstring), ``h_0 = 0`` (and ``c_0 = 0``).  ``W_x`` starts Glorot-uniform, ``W_h``
    orthogonal, biases at 0 except the LSTM forget gate (1).

    ``backward`` is BPTT by hand (module docstring).  With ``clip_grad_norm=c`` it rescales,
    at every step, each example's carried ``dL/dh_t`` (after adding that step's output
    gradient) to L2 norm at most ``c`` (Pascanu et al. 2013 clip the whole gradient; this is
    the per-step variant).  ``dL/dc`` is not clipped.  Clipping makes ``backward`` a
    *modified* gradient, no longer the VJP of ``apply``; ``None`` (default) is the exact VJP.
    """
    cell_fns = get_cell(cell)
    kernel_init, recurrent_init = initializers.get(kernel_init), initializers.get(recurrent_init)
    if not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"rnn: hidden must be a positive int, got {hidden}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"rnn: clip_grad_norm must be positive or None, got {clip_grad_norm}")

    @describe("rnn")
    def init_fn(key, in_shape):
        if len(in_shape) != 2:
            raise ValueError(f"rnn: expected in_shape (T, D) (time, features; no batch axis), "
                             f"got {tuple(in_shape)}")
        T, D = in_shape
        params = cell_fns.init(key, D, hidden, kernel_init, recurrent_init)
        return ((T, hidden) if return_sequences else (hidden,)), params

    def input_projection(params, x):
        """xw_t = x_t W_x + b for all steps at once, time-major: (T, N, G*H)."""
        check_sequence(x, params["W_x"])
        return jnp.einsum("ntd,dg->tng", x, params["W_x"]) + params["b"]

    def initial_state(batch_size, dtype):
        """h_0 = 0 (and c_0 = 0): a tuple of ``n_states`` arrays (N, H)."""
        return (jnp.zeros((batch_size, hidden), dtype),) * cell_fns.n_states

    def forward(params, x):
        """Run the time loop; return time-major ``h_t: (T, N, H)`` and the per-step caches."""
        xw = input_projection(params, x)

        def body(state, xw_t):
            state, cache = cell_fns.step(params, state, xw_t)
            return state, (state[0], cache)

        _, (hs, caches) = lax.scan(body, initial_state(x.shape[0], xw.dtype), xw)
        return hs, caches

    def apply_fn(params, x, *, key=None, train=False):
        # Lean loop: keeps only what is returned (the caches are the backward's business).
        xw = input_projection(params, x)

        def body(state, xw_t):
            state, _ = cell_fns.step(params, state, xw_t)
            return state, (state[0] if return_sequences else None)

        last, hs = lax.scan(body, initial_state(x.shape[0], xw.dtype), xw)
        return jnp.swapaxes(hs, 0, 1) if return_sequences else last[0]

    def backward_fn(params, x, dy, *, key=None, train=False):
        check_sequence(x, params["W_x"])
        N, T, _ = x.shape
        expected = (N, T, hidden) if return_sequences else (N, hidden)
        if dy.shape != expected:
            raise ValueError(f"rnn backward: dy must have the output's shape {expected}, "
                             f"got {tuple(dy.shape)}")
        hs, caches = forward(params, x)
        # dL/dh_t coming straight from the output, time-major (T, N, H)
        if return_sequences:
            dh_out = jnp.swapaxes(dy, 0, 1)
        else:
            dh_out = jnp.zeros_like(hs).at[-1].set(dy)
        recurrent = {k: v for k, v in params.items() if k not in ("W_x", "b")}

        def body(carry, step_inputs):
            dstate, grads = carry
            cache, dh_out_t = step_inputs
            dh = dstate[0] + dh_out_t
            if clip_grad_norm is not None:
                dh = clip_rows(dh, clip_grad_norm)
            dstate_prev, dxw_t, dgrads_t = cell_fns.step_backward(params, cache, (dh, *dstate[1:]))
            grads = jax.tree_util.tree_map(jnp.add, grads, dgrads_t)
            return (dstate_prev, grads), dxw_t

        zero_grads = jax.tree_util.tree_map(jnp.zeros_like, recurrent)
        zero_carry = (initial_state(N, hs.dtype), zero_grads)
        (_, grads), dxw = lax.scan(body, zero_carry, (caches, dh_out), reverse=True)
        grads["W_x"] = jnp.einsum("ntd,tng->dg", x, dxw)
        grads["b"] = dxw.sum((0, 1))
        dx = jnp.einsum("tng,dg->ntd", dxw, params["W_x"])
        return {k: grads[k] for k in params}, dx

    return Layer(init_fn, apply_fn, backward_fn)


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
    layer_bwd = layer_fwd if layer_bwd is None else layer_bwd
    if merge not in MERGES:
        raise ValueError(f"bidirectional: unknown merge {merge!r}; known: {sorted(MERGES)}")
    merge_fn, split_fn = MERGES[merge]

    @describe("bidirectional", (layer_fwd, layer_bwd))
    def init_fn(key, in_shape):
        if len(in_shape) != 2:
            raise ValueError(f"bidirectional: expected in_shape (T, D), got {tuple(in_shape)}")
        k_f, k_b = jax.random.split(key)
        shape_f, p_f = layer_fwd.init(k_f, in_shape)
        shape_b, p_b = layer_bwd.init(k_b, in_shape)
        out = jax.eval_shape(merge_fn, jax.ShapeDtypeStruct(shape_f, jnp.float32),
                             jax.ShapeDtypeStruct(shape_b, jnp.float32)).shape
        return out, {"forward": p_f, "backward": p_b}

    def align(y_bwd, x):
        """Flip a per-step output of the reversed pass back into forward time order."""
        return time_reverse(y_bwd) if y_bwd.ndim == x.ndim else y_bwd

    def apply_fn(params, x, *, key=None, train=False):
        if x.ndim != 3:
            raise ValueError(f"bidirectional: expected inputs (N, T, D), "
                             f"got shape {tuple(x.shape)}")
        k_f, k_b = split_key(key, 2)
        y_f = layer_fwd.apply(params["forward"], x, key=k_f, train=train)
        y_b = layer_bwd.apply(params["backward"], time_reverse(x), key=k_b, train=train)
        return merge_fn(y_f, align(y_b, x))

    def backward_fn(params, x, dy, *, key=None, train=False):
        k_f, k_b = split_key(key, 2)
        width_f = jax.eval_shape(
            lambda p, v: layer_fwd.apply(p, v, key=k_f, train=train), params["forward"], x
        ).shape[-1]
        dy_f, dy_b = split_fn(dy, width_f)
        dp_f, dx_f = layer_fwd.backward(params["forward"], x, dy_f, key=k_f, train=train)
        dp_b, dx_b = layer_bwd.backward(params["backward"], time_reverse(x), align(dy_b, x),
                                        key=k_b, train=train)
        return {"forward": dp_f, "backward": dp_b}, dx_f + time_reverse(dx_b)

    return Layer(init_fn, apply_fn, backward_fn)


# ----------------------------------------------------------------------------- time_distributed

def time_distributed(layer: Layer) -> Layer:
    """Apply ``layer`` to every time step: ``(N, T, *F) -> (N, T, *F')``, shared params.

    Folds time into the batch axis, ``(N, T, *F) -> (N*T, *F)``, runs ``layer`` once and
    unfolds the result; ``backward`` folds ``dy`` the same way, so the shared params'
    gradient is the sum over all steps.  Example: ``time_distributed(dense(V))`` puts a
    per-step readout on ``rnn(H, return_sequences=True)``.
    """

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
        dparams, dx = layer.backward(params, fold(x), fold(dy), key=key, train=train)
        return dparams, unfold(dx, x)

    return Layer(init_fn, apply_fn, backward_fn)
