"""Recurrent layers: hand-written BPTT against jax.vjp, finite differences and PyTorch."""
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

import checks
from checks import (assert_backward_matches_vjp, assert_backward_matches_vjp_jit, assert_trees_close,
                    gaussian, gaussian_like)
from jaxnn import backprop, models
from jaxnn.layers.base import residual, serial, vjp
from jaxnn.layers.dense import dense
from jaxnn.layers.recurrent import CELLS, bidirectional, rnn, time_distributed

D, H = 4, 5  # input width != hidden width on purpose


def build(layer, in_shape, seed=0, scale=0.5):
    return checks.build(layer, in_shape, seed, scale)


def sequence(n, t, d=D, seed=7):
    return gaussian((n, t, d), seed)


# ----------------------------------------------------------------------------- BPTT == VJP

@pytest.mark.parametrize("step_vjp", [True, False], ids=["step_vjp", "plain_scan"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_backward_matches_vjp(cell, step_vjp):
    """Per cell: last state and full sequence; (N, T) = (3, 17) and (1, 1); the oracle is
    jax.vjp of ``apply`` through `time_loop`'s VJP and through the plain ``lax.scan``."""
    cases = []
    for return_sequences in (False, True):
        layer = rnn(H, cell, return_sequences=return_sequences, step_vjp=step_vjp)
        for n, t in [(3, 17), (1, 1)]:
            out_shape, params = build(layer, (t, D))
            assert out_shape == ((t, H) if return_sequences else (H,))
            cases.append((layer, params, sequence(n, t)))
    for (_, params, x), (dp, dx) in zip(cases, assert_backward_matches_vjp_jit(*cases)):
        assert dx.shape == x.shape and set(dp) == set(params)
        assert float(jnp.abs(dx).max()) > 0


def test_backward_eager_matches_vjp():
    """The same check un-jitted, through the shared helper (eager scan, shape checks)."""
    layer = rnn(H, "tanh", return_sequences=True)
    _, params = build(layer, (3, D))
    assert_backward_matches_vjp(layer, params, sequence(2, 3))


def test_init_params_shapes_and_lstm_forget_bias():
    expected = {
        "tanh": {"W_x": (D, H), "W_h": (H, H), "b": (H,)},
        "lstm": {"W_x": (D, 4 * H), "W_h": (H, 4 * H), "b": (4 * H,)},
        "gru": {"W_x": (D, 3 * H), "W_h": (H, 3 * H), "b": (3 * H,), "b_hn": (H,)},
    }
    for cell, shapes in expected.items():
        _, params = rnn(H, cell).init(jax.random.key(0), (6, D))
        assert {k: v.shape for k, v in params.items()} == shapes
        assert all(v.dtype == jnp.float64 for v in params.values())
        W_h = params["W_h"]  # orthogonal init: rows orthonormal
        np.testing.assert_allclose(W_h @ W_h.T, np.eye(H), atol=1e-12)
        forget_bias = np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)]  # gate order i, f, g, o
        np.testing.assert_array_equal(params["b"], forget_bias if cell == "lstm" else 0)
    assert rnn(H).name == "rnn"
    # bidirectional: same architecture both ways, each direction with its own params
    _, params = bidirectional(rnn(H)).init(jax.random.key(0), (6, D))
    assert not np.allclose(params["forward"]["W_x"], params["backward"]["W_x"])


def test_follows_param_and_input_dtype_float32():
    layer = rnn(H, "gru", return_sequences=True)
    _, params = build(layer, (3, D))
    params32 = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)
    x = sequence(2, 3).astype(jnp.float32)
    dy = jnp.ones((2, 3, H), jnp.float32)
    y, (dp, dx) = jax.jit(lambda p, x: (layer.apply(p, x), layer.backward(p, x, dy)))(params32, x)
    assert y.dtype == dx.dtype == jnp.float32
    assert all(g.dtype == jnp.float32 for g in dp.values())
    with jax.enable_x64(False):  # JAX's default float outside the tests
        _, params = rnn(H, "lstm").init(jax.random.key(0), (3, D))
    assert all(p.dtype == jnp.float32 for p in params.values())


# ----------------------------------------------------------------------------- finite differences

@pytest.mark.parametrize("cell", sorted(CELLS))
def test_directional_finite_differences(cell):
    """<grad, v> against a central difference along random directions v (params and x).

    Central differences with eps=1e-5 in float64 are accurate to ~1e-9 here; rtol 1e-6
    is the oracle's own truncation error, not a loosened exact comparison.
    """
    layer = rnn(H, cell, return_sequences=True)
    _, params = build(layer, (5, D))
    x = sequence(2, 5)
    w = gaussian((2, 5, H), 11)
    directions = [(gaussian_like(params, 100 + 10 * i), gaussian(x.shape, 200 + i))
                  for i in range(2)]
    eps = 1e-5

    @jax.jit
    def analytic_and_numeric(params, x, directions):
        def loss(p, inp):
            return jnp.sum(w * layer.apply(p, inp))

        def shifted(step, v_p, v_x):
            return jax.tree_util.tree_map(lambda p, v: p + step * v, params, v_p), x + step * v_x

        dp, dx = layer.backward(params, x, w)
        pairs = []
        for v_p, v_x in directions:
            numeric = (loss(*shifted(eps, v_p, v_x)) - loss(*shifted(-eps, v_p, v_x))) / (2 * eps)
            analytic = jnp.vdot(dx, v_x) + sum(jnp.vdot(dp[k], v_p[k]) for k in params)
            pairs.append((analytic, numeric))
        return pairs

    for analytic, numeric in analytic_and_numeric(params, x, directions):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


# ----------------------------------------------------------------------------- gradient clipping

def reference_clipped_bptt(step, params, state0, x, dy_seq, max_norm):
    """Independent oracle: Python-loop BPTT with jax.vjp of one step, dL/dh clipped per example.

    ``step(params, state, x_t) -> state`` with ``state[0] = h``; ``dy_seq: (N, T, H)``.
    """
    states, vjps = [state0], []
    for t in range(x.shape[1]):
        new_state, vjp = jax.vjp(step, params, states[-1], x[:, t])
        states.append(new_state)
        vjps.append(vjp)
    dstate = jax.tree_util.tree_map(jnp.zeros_like, state0)
    dparams = jax.tree_util.tree_map(jnp.zeros_like, params)
    dxs = [None] * x.shape[1]
    for t in reversed(range(x.shape[1])):
        dh = dstate[0] + dy_seq[:, t]
        norm = jnp.linalg.norm(dh, axis=-1, keepdims=True)
        dh = jnp.where(norm > max_norm, dh * max_norm / norm, dh)
        dp_t, dstate, dxs[t] = vjps[t]((dh, *dstate[1:]))
        dparams = jax.tree_util.tree_map(jnp.add, dparams, dp_t)
    return dparams, jnp.stack(dxs, axis=1)


@pytest.mark.parametrize("cell", ["tanh", "lstm"])
def test_clip_grad_norm_matches_clipped_reference(cell):
    """The oracle differentiates the cell's textbook reference step with jax.vjp."""
    step, n_states = CELLS[cell].reference_step, CELLS[cell].n_states
    max_norm = 0.3
    clipped = rnn(H, cell, return_sequences=True, clip_grad_norm=max_norm)
    exact = rnn(H, cell, return_sequences=True)
    _, params = build(clipped, (6, D))
    x = sequence(3, 6)
    dy = gaussian((3, 6, H), 5, scale=2.0)
    state0 = (jnp.zeros((3, H)),) * n_states

    @jax.jit
    def clipped_reference_exact(params, x, dy):
        return (clipped.backward(params, x, dy),
                reference_clipped_bptt(step, params, state0, x, dy, max_norm),
                exact.backward(params, x, dy))

    (dp, dx), (ref_dp, ref_dx), (exact_dp, _) = clipped_reference_exact(params, x, dy)
    assert_trees_close(dp, ref_dp, what="dparams")
    assert_trees_close(dx, ref_dx, what="dx")
    # the bound was hit: the result differs from the exact VJP
    assert not np.allclose(dp["W_h"], exact_dp["W_h"], rtol=1e-3)


def test_clip_grad_norm_bounds_carried_gradient():
    """tanh: dL/dx_t = (dh_t * (1 - h_t^2)) W_x^T, so |dx_t| <= c ||W_x||_2 when |dh_t| <= c."""
    max_norm = 0.1
    clipped, exact = rnn(H, "tanh", clip_grad_norm=max_norm), rnn(H, "tanh")
    _, params = build(clipped, (9, D))
    x = sequence(3, 9)
    dy = gaussian((3, H), 5, scale=100.0)
    (_, dx), (_, exact_dx) = jax.jit(
        lambda p, x, dy: (clipped.backward(p, x, dy), exact.backward(p, x, dy)))(params, x, dy)
    bound = max_norm * np.linalg.norm(params["W_x"], ord=2)
    assert np.linalg.norm(dx, axis=-1).max() <= bound * (1 + 1e-12)
    assert np.linalg.norm(exact_dx, axis=-1).max() > bound


def test_clip_grad_norm_single_step_rescales_dy():
    """T = 1: clipped backward == exact VJP of the upstream gradient rescaled to norm c."""
    max_norm = 0.5
    layer = rnn(H, "gru", clip_grad_norm=max_norm)
    _, params = build(layer, (1, D))
    x = sequence(3, 1)
    dy = jnp.array([[3.0, 0, 0, 0, 0], [0.1, 0.2, 0, 0, 0], [0, 0, 0, 4.0, 3.0]])
    dy_clipped = jnp.array([[0.5, 0, 0, 0, 0], [0.1, 0.2, 0, 0, 0], [0, 0, 0, 0.4, 0.3]])

    @jax.jit
    def clipped_and_rescaled_vjp(params, x):
        _, vjp = jax.vjp(lambda p, inp: layer.apply(p, inp), params, x)
        return layer.backward(params, x, dy), vjp(dy_clipped)

    assert_trees_close(*clipped_and_rescaled_vjp(params, x))


def test_clip_grad_norm_not_hit_is_exact_vjp():
    cases = []
    for cell in ("lstm", "gru"):
        layer = rnn(H, cell, return_sequences=True, clip_grad_norm=1e6)
        cases.append((layer, build(layer, (7, D))[1], sequence(3, 7)))
    assert_backward_matches_vjp_jit(*cases)


# ----------------------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_matches_torch(cell):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = {"tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    net = module(D, H, batch_first=True).double()
    w_ih, w_hh, b_ih, b_hh = (getattr(net, f"{name}_l0").detach().numpy()
                              for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    params = {"W_x": w_ih.T, "W_h": w_hh.T, "b": b_ih + b_hh}
    if cell == "gru":  # torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        params["b"] = b_ih + np.r_[b_hh[:2 * H], np.zeros(H)]
        params["b_hn"] = b_hh[2 * H:]
    params = {k: jnp.asarray(v) for k, v in params.items()}
    x = np.array(sequence(3, 8))  # a writable copy for torch.from_numpy
    expected, _ = net(torch.from_numpy(x))
    y = rnn(H, cell, return_sequences=True).apply(params, jnp.asarray(x))
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- composition

def test_serial_stack_of_rnns():
    model = serial(rnn(6, "lstm", return_sequences=True), rnn(H, "gru"), dense(2))
    out_shape, params = build(model, (9, D))
    assert out_shape == (2,)
    assert_backward_matches_vjp_jit((model, params, sequence(3, 9)))


def test_bidirectional():
    """concat (last state or sequences; different cells and widths) and sum (one architecture)."""
    cases = []
    for return_sequences in (False, True):
        fwd, bwd = rnn(H, "lstm", return_sequences), rnn(3, "gru", return_sequences)
        layer = bidirectional(fwd, bwd)
        out_shape, params = build(layer, (6, D))
        assert out_shape == ((6, H + 3) if return_sequences else (H + 3,))
        assert layer.name == "bidirectional" and layer.children == (fwd, bwd)
        cases.append((layer, params, sequence(3, 6)))
    summed = bidirectional(rnn(H, "tanh", return_sequences=True), merge="sum")
    out_shape, params = build(summed, (5, D))
    assert out_shape == (5, H)
    cases.append((summed, params, sequence(2, 5)))
    assert_backward_matches_vjp_jit(*cases)

    layer, params, x = cases[1]  # return_sequences: the reversed pass is flipped back in time

    @jax.jit
    def merged_and_directions(params, x):
        fwd, bwd = layer.children
        return layer.apply(params, x), fwd.apply(params["forward"], x), \
            bwd.apply(params["backward"], x[:, ::-1])

    y, y_fwd, y_bwd = merged_and_directions(params, x)
    np.testing.assert_array_equal(y[..., :H], y_fwd)
    np.testing.assert_array_equal(y[..., H:], y_bwd[:, ::-1])


def test_time_distributed_dense():
    layer = time_distributed(dense(3))
    out_shape, params = build(layer, (7, D))
    assert out_shape == (7, 3) and layer.name == "time_distributed"
    x = sequence(2, 7)
    per_step = jnp.stack([x[:, t] @ params["W"] + params["b"] for t in range(7)], axis=1)
    np.testing.assert_allclose(layer.apply(params, x), per_step, rtol=1e-12)
    assert_backward_matches_vjp(layer, params, x)


def test_many_to_many_rnn_with_time_distributed_readout():
    model = serial(bidirectional(rnn(H, "gru", return_sequences=True)), time_distributed(dense(2)))
    out_shape, params = build(model, (4, D))
    assert out_shape == (4, 2)
    assert_backward_matches_vjp_jit((model, params, sequence(3, 4)))


# ----------------------------------------------------------------------------- forward with a cache

def test_rnn_forward_cache_path_matches_vjp():
    """Every cell, last state and sequences; a stack, bidirectional (concat: last state and
    sequences, sum), time_distributed readout, and an rnn inside a residual block."""
    cases = []
    for cell in sorted(CELLS):
        for return_sequences in (False, True):
            layer = rnn(H, cell, return_sequences=return_sequences)
            assert layer.forward is not None and layer.backward_from_cache is not None
            cases.append((layer, build(layer, (7, D))[1], sequence(3, 7)))
    for model in (serial(rnn(6, "lstm", return_sequences=True), rnn(H, "gru"), dense(2)),
                  bidirectional(rnn(H, "lstm"), rnn(3, "gru")),
                  bidirectional(rnn(H, "lstm", True), rnn(3, "tanh", True)),
                  bidirectional(rnn(H, "tanh", True), merge="sum"),
                  serial(bidirectional(rnn(H, "gru", True)), time_distributed(dense(2))),
                  residual(rnn(D, "lstm", return_sequences=True))):
        cases.append((model, build(model, (6, D))[1], sequence(2, 6)))
    assert_backward_matches_vjp_jit(*cases, hand_vjp=vjp)  # forward, then backward_from_cache


def test_cache_path_with_clipping_equals_backward():
    """With clip_grad_norm the hand backward is a modified gradient: forward + backward_from_cache
    must give the very same modified gradient as ``backward(params, x, dy)``."""
    layer = rnn(H, "lstm", return_sequences=True, clip_grad_norm=0.05)
    _, params = build(layer, (8, D))
    x, dy = sequence(3, 8), gaussian((3, 8, H), 3)
    _, pullback = vjp(layer, params, x)
    assert_trees_close(pullback(dy), layer.backward(params, x, dy), rtol=1e-12)


def test_backprop_runs_the_time_loop_once_forward_once_backward():
    """``backprop.value_and_grad`` of an LSTM regressor has two time loops, the forward (which
    keeps its cache) and BPTT's reverse one; ``backward(params, x, dy)`` alone also has two.
    jax.grad's path has two as well (its forward, and the transposed loop)."""
    model = models.rnn_regressor(H, 1, cell="lstm")
    _, params = build(model, (6, D))
    x, t = sequence(2, 6), gaussian((2, 1), 4)

    def count_scans(fn, *args):
        return str(jax.make_jaxpr(fn)(*args)).count("scan[")

    assert count_scans(backprop.value_and_grad(model, "mse"), params, x, t) == 2
    assert count_scans(model.backward, params, x, gaussian((2, 1), 5)) == 2
    assert count_scans(backprop.autodiff_value_and_grad(model, "mse"), params, x, t) == 2
    hand, auto = jax.jit(lambda p: (backprop.value_and_grad(model, "mse")(p, x, t),
                                    backprop.autodiff_value_and_grad(model, "mse")(p, x, t)))(params)
    assert_trees_close(hand, auto)


# ----------------------------------------------------------------------------- the autodiff path

def plain_twin(layer_with_step_vjp):
    """``hand_vjp`` for `assert_backward_matches_vjp_jit`: jax.vjp through `time_loop`'s VJP,
    while the case's own layer is the plain-scan one (the oracle)."""
    def pullback(layer, params, x):
        return jax.vjp(lambda p, x_: layer_with_step_vjp[id(layer)].apply(p, x_), params, x)
    return pullback


def test_step_vjp_equals_jax_grad_of_the_plain_scan():
    """`time_loop`'s VJP (jax.vjp of one step, matmuls outside the loops) against JAX's own
    derivative of the ``lax.scan``, float64, every cell, last state and sequences, and
    inside bidirectional and stacked layers; values, dparams and dx."""
    pairs = []
    for cell in sorted(CELLS):
        for return_sequences in (False, True):
            pairs.append([rnn(H, cell, return_sequences, step_vjp=flag) for flag in (True, False)])
    pairs.append([bidirectional(rnn(H, "lstm", True, step_vjp=flag), rnn(3, "gru", True, step_vjp=flag))
                  for flag in (True, False)])
    pairs.append([serial(rnn(6, "gru", True, step_vjp=flag), rnn(H, "lstm", step_vjp=flag), dense(2))
                  for flag in (True, False)])
    fast_of = {id(plain): fast for fast, plain in pairs}
    cases = [(plain, build(plain, (9, D), seed=i)[1], sequence(3, 9, seed=i)) for i, (_, plain) in enumerate(pairs)]
    assert_backward_matches_vjp_jit(*cases, hand_vjp=plain_twin(fast_of))


def test_step_vjp_under_vmap_equals_per_member_plain_gradients():
    """jax.vmap of jax.grad through `time_loop` (as `fit_ensemble` runs it: one member per
    slice of the params) equals each member's gradient through the plain scan."""
    fast, plain = (rnn(H, "gru", return_sequences=True, step_vjp=flag) for flag in (True, False))
    members = [build(plain, (6, D), seed=s)[1] for s in (1, 2, 3)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
    x = sequence(2, 6)

    def loss_of(layer):
        return lambda p: jnp.sum(jnp.tanh(layer.apply(p, x)))

    batched = jax.jit(jax.vmap(jax.grad(loss_of(fast))))(stacked)
    for i, member in enumerate(members):
        assert_trees_close(jax.tree.map(lambda a: a[i], batched), jax.grad(loss_of(plain))(member))


def dot_counts_per_loop(fn, *args):
    """How many matmuls (``dot_general``) each ``lax.scan`` body of ``fn``'s jaxpr runs."""
    counts = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "scan":
                body = eqn.params["jaxpr"].jaxpr
                counts.append(sum(e.primitive.name == "dot_general" for e in body.eqns))
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return counts


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_step_vjp_keeps_weight_gradients_out_of_the_loop(cell):
    """jax.grad through `time_loop`: one matmul per step in each loop (h_{t-1} W_h forward,
    dhw_t W_h^T backward); JAX's derivative of the plain scan adds h_{t-1}^T dhw_t in its
    reverse loop."""
    x = sequence(2, 5)

    def grad_loops(step_vjp):
        layer = rnn(H, cell, step_vjp=step_vjp)
        _, params = build(layer, (5, D))
        return dot_counts_per_loop(jax.grad(lambda p: layer.apply(p, x).sum()), params)

    assert grad_loops(True) == [1, 1]
    assert sorted(grad_loops(False)) == [1, 2]


def test_step_vjp_default_is_per_cell():
    """By default the LSTM and tanh cells differentiate through `time_loop` (one matmul per
    loop step), the GRU through the plain scan (the faster for each on XLA:CPU)."""
    x = sequence(2, 5)
    for cell, expected in (("lstm", [1, 1]), ("tanh", [1, 1]), ("gru", [1, 2])):
        layer = rnn(H, cell)
        _, params = build(layer, (5, D))
        counts = dot_counts_per_loop(jax.grad(lambda p: layer.apply(p, x).sum()), params)
        assert sorted(counts) == expected, cell


def test_step_vjp_second_order_and_forward_mode():
    """Forward over reverse (a Hessian-vector product, what jax.hessian is made of) through
    `time_loop` equals the plain scan's; forward mode alone (jax.jvp) is a TypeError there
    and works with step_vjp=False."""
    x = sequence(2, 4, d=2)
    fast, plain = (rnn(2, "lstm", step_vjp=flag) for flag in (True, False))
    _, params = build(plain, (4, 2))

    def loss_of(layer):
        return lambda W_h: jnp.sum(layer.apply({**params, "W_h": W_h}, x) ** 2)

    tangent = gaussian(params["W_h"].shape, 3)
    hvp_fast, hvp_plain = (jax.jvp(jax.grad(loss_of(layer)), (params["W_h"],), (tangent,))[1] for layer in (fast, plain))
    assert_trees_close(hvp_fast, hvp_plain)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(loss_of(fast), (params["W_h"],), (tangent,))
    _, directional = jax.jvp(loss_of(plain), (params["W_h"],), (tangent,))
    assert_trees_close(directional, jnp.vdot(jax.grad(loss_of(fast))(params["W_h"]), tangent))


# ----------------------------------------------------------------------------- errors

def test_errors_name_the_expected_layout():
    layer = rnn(H)
    _, params = build(layer, (5, D))
    with pytest.raises(ValueError, match=r"unknown cell 'elman'.*\['gru', 'lstm', 'tanh'\]"):
        rnn(H, "elman")
    with pytest.raises(ValueError, match=r"in_shape \(T, D\)"):
        layer.init(jax.random.key(0), (D,))
    with pytest.raises(ValueError, match=r"in_shape \(T, D\)"):
        layer.init(jax.random.key(0), (3, 5, D))
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        layer.apply(params, jnp.zeros((5, D)))
    with pytest.raises(ValueError, match=r"D=4 input features"):
        layer.apply(params, jnp.zeros((2, 5, D + 1)))
    with pytest.raises(ValueError, match=r"D=4 input features"):
        jax.jit(layer.apply)(params, jnp.zeros((2, 5, D + 1)))
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(2, 5\)"):
        layer.backward(params, jnp.zeros((2, 5, D)), jnp.zeros((2, 5, H)))
    with pytest.raises(ValueError, match="clip_grad_norm"):
        rnn(H, clip_grad_norm=0.0)
    with pytest.raises(ValueError, match="step_vjp must be True, False or None, got 'yes'"):
        rnn(H, step_vjp="yes")
    with pytest.raises(ValueError, match=r"unknown merge 'max'"):
        bidirectional(layer, merge="max")
    with pytest.raises(ValueError, match=r"\(N, T, \*features\)"):
        time_distributed(dense(2)).apply({"W": jnp.zeros((D, 2)), "b": jnp.zeros(2)},
                                         jnp.zeros((3, D)))


# ----------------------------------------------------------------------------- the cells

def textbook_lstm_sequence(params, x):
    """The LSTM equations with three sigmoids and a tanh on the four gate slices, in numpy
    float64: the oracle for `lstm_step`'s one-sigmoid slab (tanh(a) = 2 sigma(2a) - 1)."""
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    h = c = np.zeros((x.shape[0], p["W_h"].shape[0]))
    hs = []
    for t in range(x.shape[1]):
        a_i, a_f, a_g, a_o = np.split(x[:, t] @ p["W_x"] + h @ p["W_h"] + p["b"], 4, axis=-1)
        c = sig(a_f) * c + sig(a_i) * np.tanh(a_g)
        h = sig(a_o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1)


@pytest.mark.parametrize("dtype, rtol, atol", [(jnp.float64, 1e-12, 1e-14), (jnp.float32, 2e-5, 1e-6)])
def test_lstm_one_sigmoid_slab_matches_textbook_equations(dtype, rtol, atol):
    """Pre-activations up to |a| ~ 10 (saturated gates) and near 0 (where 2 sigma(2a) - 1
    cancels most), in float64 and float32."""
    layer = rnn(H, "lstm", return_sequences=True)
    _, params = build(layer, (12, D), scale=2.0)
    x = sequence(4, 12) * 2.0
    y = layer.apply(jax.tree_util.tree_map(lambda v: v.astype(dtype), params), x.astype(dtype))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, textbook_lstm_sequence(params, x), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype, rtol, atol",
                         [(jnp.float64, 1e-12, 1e-12), (jnp.float32, 1e-6, 1e-6)])
def test_fast_step_matches_textbook_reference_step(dtype, rtol, atol):
    """Per cell, one step: ``step`` (fused projections; the LSTM's one-sigmoid slab) equals
    ``reference_step`` (the equations gate by gate), with pre-activations up to |a| ~ 10."""
    n = 4
    for cell, fns in CELLS.items():
        _, params = build(rnn(H, cell), (3, D), scale=2.0)
        params = jax.tree_util.tree_map(lambda v: v.astype(dtype), params)
        x_t = gaussian((n, D), 3, scale=2.0).astype(dtype)
        state = tuple(gaussian((n, H), 11 + s).astype(dtype) for s in range(fns.n_states))
        fast, _ = fns.step(params, state, x_t @ params["W_x"] + params["b"])
        reference = fns.reference_step(params, state, x_t)
        assert all(v.dtype == dtype for v in (*fast, *reference))
        assert_trees_close(fast, reference, rtol=rtol, atol=atol, what=cell)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_step_backward_with_slopes_is_the_step_vjp(cell):
    """One step: ``slopes`` + ``step_backward`` equal jax.vjp of ``step`` w.r.t. the state
    and ``xw`` (and ``dhw`` is the VJP through ``h_{t-1} W_h``'s output)."""
    fns = CELLS[cell]
    layer = rnn(H, cell)
    _, params = build(layer, (3, D))
    n, width = 4, params["W_h"].shape[1]
    state = tuple(gaussian((n, H), 11 + s) for s in range(fns.n_states))
    xw = gaussian((n, width), 21)
    dstate = tuple(gaussian((n, H), 31 + s) for s in range(fns.n_states))

    new_state, extras = fns.step(params, state, xw)
    dstate_prev, dxw, dhw = fns.step_backward(params, fns.slopes(state, new_state, extras), dstate)
    _, vjp = jax.vjp(lambda s, v: fns.step(params, s, v)[0], state, xw)
    ref_dstate_prev, ref_dxw = vjp(dstate)
    assert_trees_close((dstate_prev, dxw), (ref_dstate_prev, ref_dxw))
    W_h = params["W_h"]
    _, vjp_w = jax.vjp(lambda w: fns.step({**params, "W_h": w}, state, xw)[0], W_h)
    assert_trees_close(fns.recurrent_grads(state[0][None], dhw[None])["W_h"], vjp_w(dstate)[0])
