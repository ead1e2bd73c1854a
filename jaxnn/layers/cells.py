"""Recurrent cells for `jaxnn.layers.recurrent.rnn`: tanh (Elman), LSTM and GRU.

A cell is one time step ``state_t = step(state_{t-1}, x_t)`` on a batch, with
``state = (h,)`` (tanh, GRU) or ``(h, c)`` (LSTM), each ``(N, H)``.  Every cell has the same
two projections

    xw_t = x_t @ W_x + b        W_x: (D, G*H), b: (G*H,)   (all T steps in one matmul)
    hw_t = h_{t-1} @ W_h        W_h: (H, G*H)               (inside the time loop; the GRU
                                                            adds its b_hn here: project_recurrent)

with ``G`` gates side by side (1 for tanh, 4 for LSTM, 3 for GRU).  As for dense layers,
our ``W`` is the transpose of the column-vector ``W`` in ``z = W a + b`` of the course notes
(IIT Mandi, Introduction to Neural Networks, "Forward Propagation Through L Hidden
Layers") and of PyTorch's ``weight_ih`` / ``weight_hh``.

Each cell is written twice, side by side:

* ``<cell>_reference_step(params, state, x_t)``: the textbook equations, one line per gate
  with that gate's own blocks of the weights, e.g. ``i = sigma(x_t W_xi + h_{t-1} W_hi + b_i)``.
  Read this one first; the tests use it as the oracle of the fast step;
* ``<cell>_step(state, xw_t, hw_t)``: the same numbers computed the fast way, from the
  fused projections ``xw_t`` and ``hw_t = <cell>'s project_recurrent(params, h_{t-1})``
  (and, for the LSTM, one activation over all four gates); ``Cell.step`` joins the two.

The backward of one step is *linear* in the gradients it receives (``dh``, and ``dc`` for
the LSTM), with coefficients, the **slopes**, that depend only on forward values (the
gates, ``c_t``, ``h_{t-1}``).  So each cell splits its backward in two:

* ``slopes(state_prev, state, extras)``: every local derivative, for all ``T`` steps at
  once from what the forward loop stacked (time is just another batch axis here);
* ``step_backward(params, slopes_t, dstate_t)``: inside the reverse time loop, only the
  products of the carried gradients with the slopes and the one matmul
  ``dh_{t-1} = dhw_t W_h^T``.

A loop step this small is mostly launch cost on XLA:CPU: each kernel of the step (a
fusion, a matmul, a write into a stacked output) costs a few tenths of a microsecond
before it does any arithmetic, as much as an ``(N, H)`` elementwise kernel's work.  So
BPTT's forward loop stacks only what ``keep`` picks (the LSTM: its gates and ``c_t``;
``restore`` recomputes ``h_t`` from them for all steps at once after the loop).

The slopes are named after the derivatives they are, ``dh_dc = dh_t/dc_t`` and so on, and
built from the two activation derivatives of the course notes (IIT Mandi, Introduction
to Neural Networks, "Common activation derivatives"), written with the forward's outputs
``s = sigma(a)`` and ``t = tanh(a)``::

    sigma'(a) = s (1 - s)          tanh'(a) = 1 - t^2

References: Elman (1990) for the tanh cell; Hochreiter & Schmidhuber (1997) "Long
Short-Term Memory" and C. Olah, "Understanding LSTM Networks" (2015) for the LSTM;
Cho et al. (2014) "Learning Phrase Representations using RNN Encoder-Decoder" for the GRU;
Werbos (1990) "Backpropagation Through Time: What It Does and How to Do It" for BPTT;
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
    """One recurrent cell: its params, its step (twice), and the two halves of its backward.

    ``init(key, D, H, kernel_init, recurrent_init) -> params``
    ``reference_step(params, state, x_t) -> state_t``       the textbook equations, gate by
        gate, from the raw input ``x_t: (N, D)``: the readable oracle of ``step``
    ``project_recurrent(params, h_{t-1}) -> hw_t``            the recurrent projection
        ``h_{t-1} W_h`` (the GRU adds its recurrent bias): the only place the time loop
        reads params
    ``step_from_projections(state, xw_t, hw_t) -> (state_t, extras_t)``
        the step given both projections, without its matmuls and params: state, a tuple of
        (N, H) arrays; ``xw_t = x_t W_x + b``; ``extras_t``, the step's other intermediate
        values the backward needs (the gates).  The layer's autodiff path differentiates it
        one step at a time (`jaxnn.layers.recurrent`)
    ``step(params, state, xw_t)`` (a method)                 the two above joined
    ``projections_summed``: True when the step starts with ``a_t = xw_t + hw_t`` (tanh,
        LSTM), so that ``dL/dhw_t = dL/dxw_t``
    ``step_vjp``: whether ``rnn``'s autodiff path uses the step-by-step VJP by default
        (`jaxnn.layers.recurrent.time_loop`): True where it is the faster one on XLA:CPU
    ``slopes(state_prev, state, extras) -> slopes``          local derivatives; any leading
        axes, so the forward loop stacks states and extras and this runs on all T at once
    ``step_backward(params, slopes_t, dstate_t) -> (dstate_{t-1}, dxw_t, dhw_t)``
        with ``dstate_t = dL/dstate_t``, ``dxw_t = dL/dxw_t`` and ``dhw_t = dL/dhw_t``, the
        gradient of ``hw_t = h_{t-1} W_h`` (the very same array as ``dxw_t`` when the cell
        adds ``xw_t + hw_t`` before anything else)
    ``recurrent_grads(h_prev, dhw) -> {name: grad}``         every param but ``W_x``, ``b``,
        from all steps at once: ``h_prev, dhw: (T, N, H), (T, N, G*H)``
    ``keep(state_t, extras_t) -> kept_t``                   what BPTT's forward loop stacks
    ``restore(kept) -> (states, extras)``                   from the stacks (leading axis T),
        every step's state and extras, recomputing what ``keep`` left out
    """

    init: Callable
    reference_step: Callable
    step_from_projections: Callable
    projections_summed: bool
    project_recurrent: Callable
    step_vjp: bool
    slopes: Callable
    step_backward: Callable
    recurrent_grads: Callable
    n_states: int
    keep: Callable = lambda state, extras: (state, extras)
    restore: Callable = lambda kept: kept

    def step(self, params, state, xw_t):
        """``(state_t, extras_t)`` from ``xw_t = x_t W_x + b``: ``step_from_projections``
        with ``hw_t = project_recurrent(params, h_{t-1})``."""
        return self.step_from_projections(state, xw_t, self.project_recurrent(params, state[0]))


def gate_split(a: Array, n_gates: int) -> list[Array]:
    """Split fused pre-activations ``(..., G*H)`` into ``G`` blocks of ``(..., H)``."""
    return jnp.split(a, n_gates, axis=-1)


def gate_weights(params: dict, n_gates: int) -> tuple[list[Array], list[Array], list[Array]]:
    """Each gate's own ``W_x`` ``(D, H)``, ``W_h`` ``(H, H)`` and ``b`` ``(H,)`` blocks."""
    return tuple(gate_split(params[name], n_gates) for name in ("W_x", "W_h", "b"))


def sigmoid_slope(s: Array) -> Array:
    """sigma'(a) = s (1 - s), from the output ``s = sigma(a)``."""
    return s * (1 - s)


def tanh_slope(t: Array) -> Array:
    """tanh'(a) = 1 - t^2, from the output ``t = tanh(a)``."""
    return 1 - t**2


def projections_init(key, D, H, n_gates, kernel_init, recurrent_init) -> dict:
    k_x, k_h = jax.random.split(key)
    return {
        "W_x": kernel_init(k_x, (D, n_gates * H)),
        "W_h": recurrent_init(k_h, (H, n_gates * H)),
        "b": initializers.zeros(None, (n_gates * H,)),
    }


def project_recurrent(params, h):
    """``hw = h W_h``: the recurrent projection of the tanh and LSTM cells."""
    return h @ params["W_h"]


def w_h_grad(h_prev, dhw) -> dict:
    """dW_h = sum_t h_{t-1}^T dhw_t: one (H, T*N) @ (T*N, G*H) matmul (Werbos 1990: a
    weight shared by all steps gets the sum of the steps' gradients)."""
    return {"W_h": h_prev.reshape(-1, h_prev.shape[-1]).T @ dhw.reshape(-1, dhw.shape[-1])}


# ----------------------------------------------------------------------------- tanh (Elman)

def tanh_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, H), "W_h": (H, H), "b": (H,)}``."""
    return projections_init(key, D, H, 1, kernel_init, recurrent_init)


def tanh_reference_step(params, state, x_t):
    """Elman (1990): h_t = tanh(x_t W_x + h_{t-1} W_h + b).  x_t: (N, D), h: (N, H)."""
    (h_prev,) = state
    return (jnp.tanh(x_t @ params["W_x"] + h_prev @ params["W_h"] + params["b"]),)


def tanh_step(state, xw_t, hw_t):
    """h_t = tanh(xw_t + hw_t), from both projections ``xw_t = x_t W_x + b`` (computed
    before the loop) and ``hw_t = h_{t-1} W_h``."""
    return (jnp.tanh(xw_t + hw_t),), ()


def tanh_slopes(state_prev, state, extras):
    """dh_da = dh_t/da_t = tanh'(a_t) = 1 - h_t^2, for a_t = xw_t + h_{t-1} W_h."""
    (h,) = state
    return tanh_slope(h)


def tanh_step_backward(params, dh_da, dstate):
    """One reverse step of BPTT (Werbos 1990) through `tanh_step`; dh = dL/dh_t:

        da = dh * tanh'(a_t) = dh * (1 - h_t^2)      dL/dh_{t-1} = da W_h^T      dxw = dhw = da

    (the delta rule ``delta = (W^T delta') * h'(z)`` of IIT Mandi, Introduction to Neural
    Networks, "Backprop Through L Hidden Layers", with the layers now the time steps).
    """
    (dh,) = dstate
    da = dh * dh_da
    return (da @ params["W_h"].T,), da, da


# ----------------------------------------------------------------------------- LSTM

class LSTMSlopes(NamedTuple):
    """The local derivatives of one `lstm_step`, ``(..., H)`` or ``(..., 4H)``."""

    dh_dc: Array        # dh_t/dc_t = o tanh'(c_t)
    gate_slopes: Array  # each pre-activation's slope into the output it feeds, blocks i, f, g, o:
                        # [dc_t/da_i, dc_t/da_f, dc_t/da_g, dh_t/da_o]
                        #   = [g sigma'(a_i), c_{t-1} sigma'(a_f), i tanh'(a_g), tanh(c_t) sigma'(a_o)]
    dc_dc_prev: Array   # dc_t/dc_{t-1} = f


def lstm_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, 4H), "W_h": (H, 4H), "b": (4H,)}``, gate blocks in order i, f, g, o.

    The forget-gate block of ``b`` starts at ``LSTM_FORGET_BIAS = 1`` (Jozefowicz et al. 2015),
    so that early in training the cell remembers instead of forgetting.
    """
    params = projections_init(key, D, H, 4, kernel_init, recurrent_init)
    params["b"] = params["b"].at[H:2 * H].set(LSTM_FORGET_BIAS)
    return params


def lstm_reference_step(params, state, x_t):
    """The LSTM step as in Hochreiter & Schmidhuber (1997), with a forget gate (Olah 2015):

        i   = sigma(x_t W_xi + h_{t-1} W_hi + b_i)      input gate
        f   = sigma(x_t W_xf + h_{t-1} W_hf + b_f)      forget gate
        g   = tanh(x_t W_xg + h_{t-1} W_hg + b_g)       candidate cell value
        o   = sigma(x_t W_xo + h_{t-1} W_ho + b_o)      output gate
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    x_t: (N, D); state ``(h_{t-1}, c_{t-1})``, each (N, H).  ``W_xi`` etc. are the gate
    blocks of ``W_x``, ``W_h``, ``b`` (order i, f, g, o).  Returns ``(h_t, c_t)``.
    """
    h_prev, c_prev = state
    (W_xi, W_xf, W_xg, W_xo), (W_hi, W_hf, W_hg, W_ho), (b_i, b_f, b_g, b_o) = \
        gate_weights(params, 4)
    i = sigmoid(x_t @ W_xi + h_prev @ W_hi + b_i)
    f = sigmoid(x_t @ W_xf + h_prev @ W_hf + b_f)
    g = jnp.tanh(x_t @ W_xg + h_prev @ W_hg + b_g)
    o = sigmoid(x_t @ W_xo + h_prev @ W_ho + b_o)
    c = f * c_prev + i * g
    h = o * jnp.tanh(c)
    return (h, c)


def lstm_step(state, xw_t, hw_t):
    """`lstm_reference_step` computed fast: the same ``(h_t, c_t)``, plus the gates.

        [a_i, a_f, a_g, a_o] = xw_t + hw_t,  hw_t = h_{t-1} W_h   one (N, H) @ (H, 4H) matmul
        [i, f, s_g, o] = sigma([a_i, a_f, 2 a_g, a_o])      one sigmoid over the slab
        g = 2 s_g - 1 = tanh(a_g)

    All four gates come from one sigmoid over the whole ``(N, 4H)`` slab, using
    ``tanh(a) = 2 sigma(2a) - 1`` for ``g``: on XLA:CPU one activation over the slab runs
    about 2.5x faster than three sigmoids and a tanh on its four ``(N, H)`` slices.
    Extras: that slab, ``[i, f, sigma(2 a_g), o]``.
    """
    _, c_prev = state
    a = xw_t + hw_t
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


def lstm_keep(state, gates):
    """What BPTT's forward loop stacks: ``c_t`` and the gate slab (``h_t`` follows from them)."""
    return state[1], gates


def lstm_restore(kept):
    """``((h_t, c_t), gates)`` for all steps from the stacked ``c_t`` and gates:
    ``h_t = o tanh(c_t)``, as in `lstm_step`."""
    c, gates = kept
    return (lstm_gates(gates)[3] * jnp.tanh(c), c), gates


def lstm_slopes(state_prev, state, gates) -> LSTMSlopes:
    """The local derivatives of `lstm_step`, by the chain rule on its equations
    (sigma', tanh': IIT Mandi, Introduction to Neural Networks, "Common activation derivatives"):

        dh_t/dc_t      = o tanh'(c_t)                  (h_t = o tanh(c_t))
        dc_t/da_i      = g sigma'(a_i)                  (c_t = f c_{t-1} + i g)
        dc_t/da_f      = c_{t-1} sigma'(a_f)
        dc_t/da_g      = i tanh'(a_g)
        dh_t/da_o      = tanh(c_t) sigma'(a_o)
        dc_t/dc_{t-1}  = f
    """
    (_, c_prev), (_, c) = state_prev, state
    i, f, g, o = lstm_gates(gates)
    tanh_c = jnp.tanh(c)
    gate_slopes = jnp.concatenate([g * sigmoid_slope(i), c_prev * sigmoid_slope(f), i * tanh_slope(g),
                                   tanh_c * sigmoid_slope(o)], axis=-1)
    return LSTMSlopes(dh_dc=o * tanh_slope(tanh_c), gate_slopes=gate_slopes, dc_dc_prev=f)


def lstm_step_backward(params, slopes: LSTMSlopes, dstate):
    """One reverse step of BPTT (Werbos 1990) through `lstm_step` (Hochreiter & Schmidhuber
    1997), given dh = dL/dh_t and dc = dL/dc_t sent back by the later steps and the output:

        dc_t     = dc + dh * dh_dc                     both paths into c_t: direct, and via h_t
        da_i     = dc_t * g sigma'(a_i)                da_f = dc_t * c_{t-1} sigma'(a_f)
        da_g     = dc_t * i tanh'(a_g)                 da_o = dh * tanh(c_t) sigma'(a_o)
        dL/dc_{t-1} = dc_t * f                         dL/dh_{t-1} = da W_h^T
        dxw = dhw = da = [da_i, da_f, da_g, da_o]

    The constant error carousel: along ``c`` the gradient is only multiplied by ``f``.
    """
    dh, dc = dstate
    dc_t = dc + dh * slopes.dh_dc
    s_i, s_f, s_g, s_o = gate_split(slopes.gate_slopes, 4)
    da = jnp.concatenate([dc_t * s_i, dc_t * s_f, dc_t * s_g, dh * s_o], axis=-1)
    return (da @ params["W_h"].T, dc_t * slopes.dc_dc_prev), da, da


# ----------------------------------------------------------------------------- GRU

class GRUExtras(NamedTuple):
    r: Array
    z: Array
    n: Array
    hn: Array  # h_{t-1} W_hn + b_hn, the term the reset gate multiplies


class GRUSlopes(NamedTuple):
    """The local derivatives of one `gru_step`, per unit of dh = dL/dh_t."""

    dh_dxw: Array      # dh_t/d[x_r, x_z, x_n] = [dh_da_r, dh_da_z, dh_da_n]
    dh_dhw: Array      # dh_t/d[h_r, h_z, h_n] = [dh_da_r, dh_da_z, dh_da_n * r]
    dh_dh_prev: Array  # the direct path h_{t-1} -> h_t: z


def gru_init(key, D, H, kernel_init, recurrent_init):
    """``{"W_x": (D, 3H), "W_h": (H, 3H), "b": (3H,), "b_hn": (H,)}``, gate blocks r, z, n.

    ``b`` is the input-side bias of all three gates; ``b_hn`` is the recurrent bias of the
    candidate, which sits inside the reset product (PyTorch's ``bias_hh[2H:]``).  PyTorch's
    other recurrent biases add to ``b`` and are not kept twice.
    """
    params = projections_init(key, D, H, 3, kernel_init, recurrent_init)
    params["b_hn"] = initializers.zeros(None, (H,))
    return params


def gru_reference_step(params, state, x_t):
    """The GRU step of Cho et al. (2014), PyTorch / cuDNN variant:

        r   = sigma(x_t W_xr + b_r + h_{t-1} W_hr)                  reset gate
        z   = sigma(x_t W_xz + b_z + h_{t-1} W_hz)                  update gate
        n   = tanh(x_t W_xn + b_n + r * (h_{t-1} W_hn + b_hn))      candidate
        h_t = (1 - z) * n + z * h_{t-1}

    Cho et al. apply the reset gate before the matmul, ``tanh(x_n + (r * h_{t-1}) W_hn)``;
    here, as in PyTorch (``torch.nn.GRU``) and cuDNN, it multiplies ``h_{t-1} W_hn + b_hn``.
    x_t: (N, D), h: (N, H); ``W_xr`` etc. are the gate blocks (order r, z, n).
    """
    (h_prev,) = state
    (W_xr, W_xz, W_xn), (W_hr, W_hz, W_hn), (b_r, b_z, b_n) = gate_weights(params, 3)
    r = sigmoid(x_t @ W_xr + b_r + h_prev @ W_hr)
    z = sigmoid(x_t @ W_xz + b_z + h_prev @ W_hz)
    n = jnp.tanh(x_t @ W_xn + b_n + r * (h_prev @ W_hn + params["b_hn"]))
    return ((1 - z) * n + z * h_prev,)


def gru_project_recurrent(params, h):
    """``hw = h W_h + [0, 0, b_hn]``: the recurrent projection with the candidate's recurrent
    bias, which sits inside the reset product (``r * (h W_hn + b_hn)``)."""
    H = params["b_hn"].shape[-1]
    return h @ params["W_h"] + jnp.concatenate([jnp.zeros((2 * H,), h.dtype), params["b_hn"]])


def gru_step(state, xw_t, hw_t):
    """`gru_reference_step` from the fused projections, plus the gates as extras:

        [x_r, x_z, x_n] = xw_t = x_t W_x + b       [h_r, h_z, h_n] = hw_t = h_{t-1} W_h + [0, 0, b_hn]
        r = sigma(x_r + h_r)      z = sigma(x_z + h_z)      n = tanh(x_n + r * h_n)
        h_t = (1 - z) * n + z * h_{t-1}

    (``hw_t`` from `gru_project_recurrent`.)
    """
    (h_prev,) = state
    x_r, x_z, x_n = gate_split(xw_t, 3)
    h_r, h_z, hn = gate_split(hw_t, 3)  # hn = h_{t-1} W_hn + b_hn
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * hn)
    h = (1 - z) * n + z * h_prev
    return (h,), GRUExtras(r, z, n, hn)


def gru_slopes(state_prev, state, extras) -> GRUSlopes:
    """The local derivatives of `gru_step`, with ``a_r, a_z, a_n`` the gates' pre-activations:

        dh_da_n = dh_t/dn * dn/da_n = (1 - z) tanh'(a_n)
        dh_da_z = dh_t/dz * dz/da_z = (h_{t-1} - n) sigma'(a_z)
        dh_da_r = dh_da_n * da_n/dr * dr/da_r = dh_da_n (h_n + b_hn) sigma'(a_r)
    """
    (h_prev,), (r, z, n, hn) = state_prev, extras
    dh_da_n = (1 - z) * tanh_slope(n)
    dh_da_r = dh_da_n * hn * sigmoid_slope(r)
    dh_da_z = (h_prev - n) * sigmoid_slope(z)
    return GRUSlopes(dh_dxw=jnp.concatenate([dh_da_r, dh_da_z, dh_da_n], axis=-1),
                     dh_dhw=jnp.concatenate([dh_da_r, dh_da_z, dh_da_n * r], axis=-1),
                     dh_dh_prev=z)


def gru_step_backward(params, slopes: GRUSlopes, dstate):
    """One reverse step of BPTT (Werbos 1990) through `gru_step` (Cho et al. 2014); dh = dL/dh_t:

        dxw = dh * [dh_da_r, dh_da_z, dh_da_n]          (x_r, x_z, x_n enter a_r, a_z, a_n as is)
        dhw = dh * [dh_da_r, dh_da_z, dh_da_n * r]      (h_n enters a_n through r * h_n)
        dL/dh_{t-1} = dh * z + dhw W_h^T                (the direct path, and the matmul)
    """
    (dh,) = dstate
    dh3 = jnp.tile(dh, 3)
    dhw = dh3 * slopes.dh_dhw
    return (dh * slopes.dh_dh_prev + dhw @ params["W_h"].T,), dh3 * slopes.dh_dxw, dhw


def gru_recurrent_grads(h_prev, dhw) -> dict:
    """dW_h = sum_t h_{t-1}^T dhw_t;  db_hn = sum_t sum_N (da_n * r), the n block of dhw
    (sums over the steps that share them, Werbos 1990)."""
    H = h_prev.shape[-1]
    return {**w_h_grad(h_prev, dhw), "b_hn": dhw[..., 2 * H:].sum((0, 1))}


CELLS: dict[str, Cell] = {
    "tanh": Cell(init=tanh_init, reference_step=tanh_reference_step,
                 step_from_projections=tanh_step, projections_summed=True,
                 project_recurrent=project_recurrent, step_vjp=True,
                 slopes=tanh_slopes, step_backward=tanh_step_backward,
                 recurrent_grads=w_h_grad, n_states=1),
    "lstm": Cell(init=lstm_init, reference_step=lstm_reference_step,
                 step_from_projections=lstm_step, projections_summed=True,
                 project_recurrent=project_recurrent, step_vjp=True,
                 slopes=lstm_slopes, step_backward=lstm_step_backward,
                 recurrent_grads=w_h_grad, n_states=2, keep=lstm_keep, restore=lstm_restore),
    "gru": Cell(init=gru_init, reference_step=gru_reference_step,
                step_from_projections=gru_step, projections_summed=False,
                project_recurrent=gru_project_recurrent, step_vjp=False,
                slopes=gru_slopes, step_backward=gru_step_backward,
                recurrent_grads=gru_recurrent_grads, n_states=1),
}


def get_cell(name: str) -> Cell:
    if not isinstance(name, str) or name not in CELLS:
        raise ValueError(f"rnn: unknown cell {name!r}; known cells: {sorted(CELLS)}")
    return CELLS[name]
