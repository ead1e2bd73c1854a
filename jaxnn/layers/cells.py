"""Recurrent cells for `jaxnn.layers.recurrent.rnn`: tanh (Elman), LSTM and GRU.

A cell is one time step ``state_t = step(state_{t-1}, x_t)`` on a batch, with
``state = (h,)`` (tanh, GRU) or ``(h, c)`` (LSTM), each ``(N, H)``.  Every cell has the same
two projections

    xw_t = x_t @ W_x + b        W_x: (D, G*H), b: (G*H,)   (all T steps in one matmul)
    hw_t = h_{t-1} @ W_h        W_h: (H, G*H)               (inside the time loop)

with ``G`` gates side by side (1 for tanh, 4 for LSTM, 3 for GRU).  As for dense layers,
our ``W`` is the transpose of the column-vector ``W`` of the lectures and of PyTorch's
``weight_ih`` / ``weight_hh``.

The backward of one step is *linear* in the gradients it receives (``dh``, and ``dc`` for
the LSTM), with coefficients, the **slopes**, that depend only on forward values (the
gates, ``c_t``, ``h_{t-1}``).  So each cell splits its backward in two:

* ``slopes(state_prev, state, extras)``: every local derivative, for all ``T`` steps at
  once from what the forward loop stacked (time is just another batch axis here);
* ``step_backward(params, slopes_t, dstate_t)``: inside the reverse time loop, only the
  products of the carried gradients with the slopes and the one matmul
  ``dh_{t-1} = dhw_t W_h^T``.

References: Elman (1990) for the tanh cell; Hochreiter & Schmidhuber (1997) "Long
Short-Term Memory" and C. Olah, "Understanding LSTM Networks" (2015) for the LSTM;
Cho et al. (2014) "Learning Phrase Representations using RNN Encoder-Decoder" for the GRU;
Jozefowicz, Zaremba & Sutskever (2015) for the forget-gate bias of 1.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.activations import sigmoid
from jaxnn.layers.base import Array

LSTM_FORGET_BIAS = 1.0  # Jozefowicz et al. 2015: start with the forget gate open


class Cell(NamedTuple):
    """One recurrent cell: its params, its step, and the two halves of its backward.

    ``init(key, D, H, kernel_init, recurrent_init) -> params``
    ``step(params, state, xw_t) -> (state_t, extras_t)``     state: tuple of (N, H) arrays;
        ``extras_t``: the step's other intermediate values the backward needs (the gates)
    ``slopes(state_prev, state, extras) -> slopes``          local derivatives; any leading
        axes, so the forward loop stacks states and extras and this runs on all T at once
    ``step_backward(params, slopes_t, dstate_t) -> (dstate_{t-1}, dxw_t, dhw_t)``
        with ``dstate_t = dL/dstate_t``, ``dxw_t = dL/dxw_t`` and ``dhw_t = dL/dhw_t``, the
        gradient of ``hw_t = h_{t-1} W_h`` (the very same array as ``dxw_t`` when the cell
        adds ``xw_t + hw_t`` before anything else)
    ``recurrent_grads(h_prev, dhw) -> {name: grad}``         every param but ``W_x``, ``b``,
        from all steps at once: ``h_prev, dhw: (T, N, H), (T, N, G*H)``
    """

    init: Callable
    step: Callable
    slopes: Callable
    step_backward: Callable
    recurrent_grads: Callable
    n_states: int


def gate_split(a: Array, n_gates: int) -> list[Array]:
    """Split fused pre-activations ``(..., G*H)`` into ``G`` blocks of ``(..., H)``."""
    return jnp.split(a, n_gates, axis=-1)


def projections_init(key, D, H, n_gates, kernel_init, recurrent_init) -> dict:
    k_x, k_h = jax.random.split(key)
    return {
        "W_x": kernel_init(k_x, (D, n_gates * H)),
        "W_h": recurrent_init(k_h, (H, n_gates * H)),
        "b": initializers.zeros(None, (n_gates * H,)),
    }


def w_h_grad(h_prev, dhw) -> dict:
    """dW_h = sum_t h_{t-1}^T dhw_t: one (H, T*N) @ (T*N, G*H) matmul."""
    return {"W_h": h_prev.reshape(-1, h_prev.shape[-1]).T @ dhw.reshape(-1, dhw.shape[-1])}


# ----------------------------------------------------------------------------- tanh (Elman)

def tanh_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, H), "W_h": (H, H), "b": (H,)}``."""
    return projections_init(key, D, H, 1, kernel_init, recurrent_init)


def tanh_step(params, state, xw_t):
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b)."""
    (h_prev,) = state
    h = jnp.tanh(xw_t + h_prev @ params["W_h"])
    return (h,), ()


def tanh_slopes(state_prev, state, extras):
    """dh_t/da_t = 1 - h_t^2."""
    (h,) = state
    return 1 - h**2


def tanh_step_backward(params, slope, dstate):
    """da = dh * (1 - h^2);  dh_{t-1} = da W_h^T;  dxw = dhw = da."""
    (dh,) = dstate
    da = dh * slope
    return (da @ params["W_h"].T,), da, da


# ----------------------------------------------------------------------------- LSTM

class LSTMSlopes(NamedTuple):
    dc_dh: Array   # o (1 - tanh(c_t)^2):                     dc_t = dc + dh * dc_dh
    da_dc: Array   # [g i(1-i), c_{t-1} f(1-f), i(1-g^2)]:    [da_i, da_f, da_g] = dc_t * da_dc
    da_dh: Array   # tanh(c_t) o(1-o):                        da_o = dh * da_dh
    f: Array       # dc_{t-1} = dc_t * f


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

    All four gates come from one sigmoid over the whole ``(N, 4H)`` slab, using
    ``tanh(a) = 2 sigma(2a) - 1`` for ``g``: on XLA:CPU one activation over the slab runs
    about 2.5x faster than three sigmoids and a tanh on its four ``(N, H)`` slices.
    Extras: that slab, ``[i, f, sigma(2 a_g), o]``.
    """
    h_prev, c_prev = state
    a = xw_t + h_prev @ params["W_h"]
    H = a.shape[-1] // 4
    g_doubled = jnp.repeat(jnp.array([1, 1, 2, 1], a.dtype), H)  # a_g -> 2 a_g
    gates = sigmoid(a * g_doubled)
    i, f, g, o = lstm_gates(gates)
    c = f * c_prev + i * g
    h = o * jnp.tanh(c)
    return (h, c), gates


def lstm_gates(gates: Array) -> tuple[Array, Array, Array, Array]:
    """``i, f, g, o`` from the slab ``[i, f, sigma(2 a_g), o]`` of `lstm_step`."""
    i, f, s_g, o = gate_split(gates, 4)
    return i, f, 2 * s_g - 1, o


def lstm_slopes(state_prev, state, gates):
    """The local derivatives of `lstm_step` (docstring of `lstm_step_backward`)."""
    (_, c_prev), (_, c) = state_prev, state
    i, f, g, o = lstm_gates(gates)
    tanh_c = jnp.tanh(c)
    da_dc = jnp.concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g**2)], axis=-1)
    return LSTMSlopes(o * (1 - tanh_c**2), da_dc, tanh_c * o * (1 - o), f)


def lstm_step_backward(params, slopes, dstate):
    """Backward of `lstm_step`, given dh = dL/dh_t and dc = dL/dc_t from later steps.

        dc_t  = dc + dh * o * (1 - tanh(c_t)^2)          (both paths into c_t)
        da_i  = dc_t * g * i (1 - i)      da_f = dc_t * c_{t-1} * f (1 - f)
        da_g  = dc_t * i * (1 - g^2)      da_o = dh * tanh(c_t) * o (1 - o)
        dc_{t-1} = dc_t * f               dh_{t-1} = da W_h^T          dxw = dhw = da
    """
    dh, dc = dstate
    dc_t = dc + dh * slopes.dc_dh
    da = jnp.concatenate([jnp.tile(dc_t, 3) * slopes.da_dc, dh * slopes.da_dh], axis=-1)
    return (da @ params["W_h"].T, dc_t * slopes.f), da, da


# ----------------------------------------------------------------------------- GRU

class GRUExtras(NamedTuple):
    r: Array
    z: Array
    n: Array
    hn: Array  # h_{t-1} W_hn + b_hn, the term the reset gate multiplies


class GRUSlopes(NamedTuple):
    dxw_dh: Array  # [da_r, da_z, da_n] / dh:                  dxw = tile(dh, 3) * dxw_dh
    dhw_dh: Array  # [da_r, da_z, da_n * r] / dh:              dhw = tile(dh, 3) * dhw_dh
    z: Array       # the direct path h_{t-1} -> h_t:           dh_{t-1} = dh * z + dhw W_h^T


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
    return (h,), GRUExtras(r, z, n, hn)


def gru_slopes(state_prev, state, extras):
    """The local derivatives of `gru_step` per unit of dh = dL/dh_t:

        da_n = dh * (1 - z) * (1 - n^2)        da_z = dh * (h_{t-1} - n) * z (1 - z)
        da_r = da_n * (h_n + b_hn) * r (1 - r)
    """
    (h_prev,), (r, z, n, hn) = state_prev, extras
    dn = (1 - z) * (1 - n**2)
    dr = dn * hn * r * (1 - r)
    dz = (h_prev - n) * z * (1 - z)
    return GRUSlopes(jnp.concatenate([dr, dz, dn], axis=-1), jnp.concatenate([dr, dz, dn * r], axis=-1), z)


def gru_step_backward(params, slopes, dstate):
    """dxw = [da_r, da_z, da_n];  dhw = [da_r, da_z, da_n * r];  dh_{t-1} = dh * z + dhw W_h^T."""
    (dh,) = dstate
    dh3 = jnp.tile(dh, 3)
    dhw = dh3 * slopes.dhw_dh
    return (dh * slopes.z + dhw @ params["W_h"].T,), dh3 * slopes.dxw_dh, dhw


def gru_recurrent_grads(h_prev, dhw) -> dict:
    """dW_h = sum_t h_{t-1}^T dhw_t;  db_hn = sum_t sum_N (da_n * r), the n block of dhw."""
    H = h_prev.shape[-1]
    return {**w_h_grad(h_prev, dhw), "b_hn": dhw[..., 2 * H:].sum((0, 1))}


CELLS: dict[str, Cell] = {
    "tanh": Cell(tanh_init, tanh_step, tanh_slopes, tanh_step_backward, w_h_grad, n_states=1),
    "lstm": Cell(lstm_init, lstm_step, lstm_slopes, lstm_step_backward, w_h_grad, n_states=2),
    "gru": Cell(gru_init, gru_step, gru_slopes, gru_step_backward, gru_recurrent_grads, n_states=1),
}


def get_cell(name: str) -> Cell:
    if name not in CELLS:
        raise ValueError(f"rnn: unknown cell {name!r}; known cells: {sorted(CELLS)}")
    return CELLS[name]
