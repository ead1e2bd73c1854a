"""jaxnn.optim first-order optimizers against independent oracles, step by step, float64.

Oracles: optax's function of the same name and keywords (100 steps, nested pytree,
gradients spanning 8 orders of magnitude with exact zeros); the course notes' equations
(KAUST Academy and HSE) written out in plain numpy; PyTorch when importable.  Plus mixing with optax, bad input, and the
non-finite gradient guard.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from checks import assert_trees_close, optimizer_trajectory
from jaxnn import optim

STEPS = 100
RTOL = 1e-9  # relative error allowed on params at every step (float64)
ATOL = 1e-12  # params are O(1) to O(1e3)
SHAPES = {"dense": {"W": (3, 4), "b": (5,)}, "pair": ((2, 3), ())}


def is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(d, int) for d in x)


def make_params(seed: int = 0):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda shape: jnp.asarray(rng.normal(size=shape)), SHAPES,
                        is_leaf=is_shape)


def make_grad_stream(seed: int = 1, steps: int = STEPS):
    """Per leaf an array (steps, *shape): normal * 10**U(-4, 4), ~20% exact zeros, and the
    first three steps of the bias entirely zero (an accumulator that starts at 0 stays 0)."""
    rng = np.random.default_rng(seed)

    def stream(p):
        shape = (steps,) + p.shape
        g = rng.normal(size=shape) * 10.0 ** rng.uniform(-4, 4, size=shape)
        g[rng.uniform(size=shape) < 0.2] = 0.0
        return g

    grads = jax.tree.map(stream, make_params())
    grads["dense"]["b"][:3] = 0.0
    return jax.tree.map(jnp.asarray, grads)


PARAMS = make_params()
GRADS = make_grad_stream()


# Tiny programs: XLA's backend optimizations cost more compile time than they save.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def trajectories(opts: dict, params=PARAMS, grads=GRADS) -> dict:
    """Params after every step (leading axis = step) for each optimizer, one jit for all
    (one compile of many scans is ~3x faster than one compile per optimizer)."""
    def run_all(params, grads):
        return {name: optimizer_trajectory(opt, params, grads) for name, opt in opts.items()}
    return jax.jit(run_all, compiler_options=FAST_COMPILE)(params, grads)


def trajectory(opt, params=PARAMS, grads=GRADS):
    return trajectories({"opt": opt}, params, grads)["opt"]


def assert_finite_and_moved(traj, name):
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(traj)), f"{name}: non-finite"
    moved = jax.tree.map(lambda t, p: float(np.max(np.abs(t[-1] - p))), traj, PARAMS)
    assert min(jax.tree.leaves(moved)) > 0, f"{name}: some leaf never moved: {moved}"


def lr_schedule_pair():
    return optim.cosine_decay(0.05, 80, alpha=0.1), optax.cosine_decay_schedule(0.05, 80, alpha=0.1)


def bias_false_mask(params):
    return {"dense": {"W": True, "b": False}, "pair": True}  # a prefix of the params tree


ours_lr, optax_lr = lr_schedule_pair()
OPTAX_CASES = {
    "sgd": (optim.sgd(0.01), optax.sgd(0.01)),
    "sgd_momentum": (optim.sgd(0.01, momentum=0.9), optax.sgd(0.01, momentum=0.9)),
    "sgd_nesterov": (optim.sgd(0.01, 0.9, nesterov=True), optax.sgd(0.01, 0.9, nesterov=True)),
    "sgd_schedule": (optim.sgd(ours_lr, 0.5), optax.sgd(optax_lr, 0.5)),
    "momentum_ema": (optim.momentum(0.01, beta=0.8),
                     optax.chain(optax.ema(0.8, debias=False), optax.scale(-0.01))),
    "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1)),
    "adagrad_zero_init": (optim.adagrad(0.1, 0.0, 1e-10), optax.adagrad(0.1, 0.0, 1e-10)),
    "adagrad_schedule": (optim.adagrad(ours_lr), optax.adagrad(optax_lr)),
    "rmsprop": (optim.rmsprop(0.01), optax.rmsprop(0.01)),
    "rmsprop_eps_outside": (optim.rmsprop(0.01, eps_in_sqrt=False),
                            optax.rmsprop(0.01, eps_in_sqrt=False)),
    "rmsprop_centered": (optim.rmsprop(0.01, 0.95, centered=True),
                         optax.rmsprop(0.01, 0.95, centered=True)),
    "rmsprop_centered_eps_outside": (
        optim.rmsprop(0.01, centered=True, eps_in_sqrt=False),
        optax.rmsprop(0.01, centered=True, eps_in_sqrt=False)),
    "rmsprop_momentum": (optim.rmsprop(0.01, momentum=0.9), optax.rmsprop(0.01, momentum=0.9)),
    "rmsprop_nesterov": (optim.rmsprop(0.01, momentum=0.9, nesterov=True),
                         optax.rmsprop(0.01, momentum=0.9, nesterov=True)),
    "rmsprop_initial_scale": (optim.rmsprop(0.01, initial_scale=1.0),
                              optax.rmsprop(0.01, initial_scale=1.0)),
    "rmsprop_bias_correction": (optim.rmsprop(0.01, bias_correction=True, eps_in_sqrt=False),
                                optax.rmsprop(0.01, bias_correction=True, eps_in_sqrt=False)),
    "rmsprop_schedule": (optim.rmsprop(ours_lr, momentum=0.5),
                         optax.rmsprop(optax_lr, momentum=0.5)),
    "adam": (optim.adam(0.01), optax.adam(0.01)),
    "adam_eps_root": (optim.adam(0.01, 0.8, 0.99, eps=1e-6, eps_root=1e-8),
                      optax.adam(0.01, 0.8, 0.99, eps=1e-6, eps_root=1e-8)),
    "adam_schedule": (optim.adam(ours_lr), optax.adam(optax_lr)),
    "nadam": (optim.nadam(0.01), optax.nadam(0.01)),
    "adamw": (optim.adamw(0.01), optax.adamw(0.01)),
    "adamw_decay_all": (optim.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)),
    "adamw_mask_callable": (optim.adamw(0.01, weight_decay=0.1, mask=optim.weights_only_mask),
                            optax.adamw(0.01, weight_decay=0.1,
                                        mask=lambda p: jax.tree.map(lambda x: x.ndim >= 2, p))),
    "adamw_mask_prefix_tree": (optim.adamw(ours_lr, weight_decay=0.1, mask=bias_false_mask(PARAMS)),
                               optax.adamw(optax_lr, weight_decay=0.1,
                                           mask=bias_false_mask(PARAMS))),
    "amsgrad": (optim.amsgrad(0.01), optax.amsgrad(0.01)),
    "amsgrad_no_bias_correction": (
        optim.amsgrad(0.01, bias_correction_mu=False, bias_correction_nu=False),
        optax.amsgrad(0.01, bias_correction_mu=False, bias_correction_nu=False)),
    "lion": (optim.lion(0.001), optax.lion(0.001)),
    "lion_masked": (optim.lion(0.001, weight_decay=0.1, mask=optim.weights_only_mask),
                    optax.lion(0.001, weight_decay=0.1,
                               mask=lambda p: jax.tree.map(lambda x: x.ndim >= 2, p))),
}


@pytest.fixture(scope="module")
def optax_results():
    opts = {}
    for name, (ours, theirs) in OPTAX_CASES.items():
        opts[name + "/jaxnn"], opts[name + "/optax"] = ours, theirs
    return jax.tree.map(np.asarray, trajectories(opts))


@pytest.mark.parametrize("name", list(OPTAX_CASES))
def test_matches_optax_every_step(name, optax_results):
    actual, expected = optax_results[name + "/jaxnn"], optax_results[name + "/optax"]
    assert_finite_and_moved(actual, name)
    assert_trees_close(actual, expected, rtol=RTOL, atol=ATOL, what=name)


# ---------------------------------------------------------------- lecture equations in numpy

def numpy_trajectory(step_fn, state_fn, params=PARAMS, grads=GRADS):
    """Run ``theta, state = step_fn(theta, g, state, t)`` leaf by leaf in plain numpy."""
    def leaf_run(p, gs):
        theta, state, out = np.array(p), state_fn(np.asarray(p)), []
        for t, g in enumerate(np.asarray(gs), start=1):
            theta, state = step_fn(theta, g, state, t)
            out.append(theta.copy())
        return np.stack(out)
    return jax.tree.map(leaf_run, params, grads)


def lecture_adagrad(lr, eps):  # KAUST Academy, "AdaGrad": G_t = G_{t-1} + g^2, theta -= lr g / sqrt(G + eps)
    def step(theta, g, G, t):
        G = G + g ** 2
        return theta - lr * g / np.sqrt(G + eps), G
    return step, np.zeros_like


def lecture_rmsprop(lr, alpha, eps):  # KAUST Academy and HSE, "RMSProp": E = a E + (1-a) g^2
    def step(theta, g, E, t):
        E = alpha * E + (1 - alpha) * g ** 2
        return theta - lr * g / np.sqrt(E + eps), E
    return step, np.zeros_like


def lecture_adam(lr, b1, b2, eps, weight_decay=0.0):  # KAUST Academy, "Adam"; "AdamW" when weight_decay > 0
    def step(theta, g, state, t):
        m, v = state
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps) - lr * weight_decay * theta, (m, v)
    return step, lambda p: (np.zeros_like(p), np.zeros_like(p))


def lecture_momentum(lr, beta):  # HSE, "Momentum SGD": m = beta m + (1 - beta) g, theta -= lr m
    def step(theta, g, m, t):
        m = beta * m + (1 - beta) * g
        return theta - lr * m, m
    return step, np.zeros_like


LECTURE_CASES = {
    "adagrad": (optim.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-7),
                lecture_adagrad(0.1, 1e-7)),
    "rmsprop": (optim.rmsprop(0.01, decay=0.9, eps=1e-8), lecture_rmsprop(0.01, 0.9, 1e-8)),
    "adam": (optim.adam(0.01, 0.9, 0.999, 1e-8), lecture_adam(0.01, 0.9, 0.999, 1e-8)),
    "adamw": (optim.adamw(0.01, 0.9, 0.999, 1e-8, weight_decay=0.05),
              lecture_adam(0.01, 0.9, 0.999, 1e-8, weight_decay=0.05)),
    "momentum_ema": (optim.momentum(0.01, beta=0.9), lecture_momentum(0.01, 0.9)),
}


@pytest.fixture(scope="module")
def ours_for_lecture_and_torch():
    opts = {"lecture/" + name: opt for name, (opt, _) in LECTURE_CASES.items()}
    opts.update({"torch/" + name: opt for name, (opt, _) in TORCH_CASES.items()})
    return jax.tree.map(np.asarray, trajectories(opts))


@pytest.mark.parametrize("name", list(LECTURE_CASES))
def test_matches_lecture_equation_in_numpy(name, ours_for_lecture_and_torch):
    _, (step_fn, state_fn) = LECTURE_CASES[name]
    actual = ours_for_lecture_and_torch["lecture/" + name]
    assert_finite_and_moved(actual, name)
    assert_trees_close(actual, numpy_trajectory(step_fn, state_fn),
                       rtol=RTOL, atol=ATOL, what=name)


def test_ema_momentum_is_damped_heavy_ball():
    """momentum(lr, beta) == sgd(lr (1 - beta), momentum=beta): the 1 - beta damping."""
    out = trajectories({"ema": optim.momentum(0.05, 0.8),
                        "heavy_ball": optim.sgd(0.05 * (1 - 0.8), momentum=0.8)})
    assert_trees_close(out["ema"], out["heavy_ball"], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- PyTorch

def torch_trajectory(make_optimizer, params=PARAMS, grads=GRADS):
    torch = pytest.importorskip("torch")
    leaves, treedef = jax.tree.flatten(params)
    tensors = [torch.tensor(np.asarray(p), dtype=torch.float64, requires_grad=True)
               for p in leaves]
    opt = make_optimizer(torch, tensors)
    grad_leaves = [np.asarray(g) for g in jax.tree.leaves(grads)]
    out = [[] for _ in tensors]
    for t in range(grad_leaves[0].shape[0]):
        for tensor, g in zip(tensors, grad_leaves):
            tensor.grad = torch.tensor(g[t], dtype=torch.float64)
        opt.step()
        for trace, tensor in zip(out, tensors):
            trace.append(tensor.detach().numpy().copy())
    return jax.tree.unflatten(treedef, [np.stack(trace) for trace in out])


TORCH_CASES = {
    "sgd_momentum": (optim.sgd(0.01, momentum=0.9),
                     lambda torch, ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)),
    "sgd_nesterov": (optim.sgd(0.01, momentum=0.9, nesterov=True),
                     lambda torch, ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True)),
    "rmsprop": (optim.rmsprop(0.01, decay=0.95, eps=1e-8, eps_in_sqrt=False),
                lambda torch, ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.95, eps=1e-8)),
    "rmsprop_centered": (optim.rmsprop(0.01, decay=0.9, eps_in_sqrt=False, centered=True),
                         lambda torch, ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8,
                                                               centered=True)),
    "rmsprop_momentum": (optim.rmsprop(0.01, decay=0.9, eps_in_sqrt=False, momentum=0.9),
                         lambda torch, ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8,
                                                               momentum=0.9)),
    "adagrad": (optim.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-10, eps_in_sqrt=False),
                lambda torch, ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10)),
    "adam": (optim.adam(0.01, 0.9, 0.999, 1e-8),
             lambda torch, ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
    "adamw": (optim.adamw(0.01, 0.9, 0.999, 1e-8, weight_decay=0.05),
              lambda torch, ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                                  weight_decay=0.05)),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_pytorch_every_step(name, ours_for_lecture_and_torch):
    _, make_torch = TORCH_CASES[name]
    expected = torch_trajectory(make_torch)
    assert_trees_close(ours_for_lecture_and_torch["torch/" + name], expected,
                       rtol=RTOL, atol=ATOL, what=name)


# ---------------------------------------------------------------- plumbing

def test_apply_updates_adds_and_keeps_param_dtype():
    params = {"w": jnp.array([1.0, 2.0], jnp.float32), "b": jnp.array(3.0)}
    updates = {"w": jnp.array([0.5, -0.25]), "b": jnp.array(-1.0)}
    out = optim.apply_updates(params, updates)
    assert out["w"].dtype == jnp.float32 and out["b"].dtype == jnp.float64
    np.testing.assert_array_equal(out["w"], np.array([1.5, 1.75], np.float32))
    assert float(out["b"]) == 2.0


def test_schedule_learning_rate_starts_at_step_zero():
    opt = optim.sgd(lambda step: 0.1 * (step + 1))
    params = {"w": jnp.zeros(2)}
    state = opt.init(params)
    grads = {"w": jnp.array([1.0, -2.0])}
    for expected_lr in (0.1, 0.2, 0.3):
        updates, state = opt.update(grads, state, params)
        np.testing.assert_allclose(updates["w"], -expected_lr * grads["w"], rtol=1e-15)


def test_clip_by_global_norm_matches_optax_and_the_formula():
    g = {"a": jnp.array([3.0, 0.0]), "b": (jnp.array([[4.0]]),)}  # ||g|| = 5
    clipped, _ = optim.clip_by_global_norm(1.0).update(g, optim.EmptyState())
    assert_trees_close(clipped, jax.tree.map(lambda x: x / 5.0, g))
    unchanged, _ = optim.clip_by_global_norm(10.0).update(g, optim.EmptyState())
    assert_trees_close(unchanged, g, rtol=0, atol=0)
    out = trajectories({
        "ours": optim.chain(optim.clip_by_global_norm(30.0), optim.sgd(0.01, momentum=0.9)),
        "optax": optax.chain(optax.clip_by_global_norm(30.0), optax.sgd(0.01, momentum=0.9))})
    assert_trees_close(out["ours"], out["optax"], rtol=RTOL, atol=ATOL)


def test_weights_only_mask_excludes_biases_and_scalars():
    assert optim.weights_only_mask(PARAMS) == {"dense": {"W": True, "b": False},
                                               "pair": (True, False)}


def test_add_decayed_weights_respects_mask_and_needs_params():
    params = {"W": jnp.ones((2, 2)), "b": jnp.full(2, 2.0)}
    zeros = jax.tree.map(jnp.zeros_like, params)
    t = optim.add_decayed_weights(0.5, mask=optim.weights_only_mask)
    updates, _ = t.update(zeros, t.init(params), params)
    np.testing.assert_array_equal(updates["W"], 0.5 * np.ones((2, 2)))
    np.testing.assert_array_equal(updates["b"], np.zeros(2))
    with pytest.raises(ValueError, match="needs params"):
        t.update(zeros, t.init(params))


def test_chain_mixes_jaxnn_and_optax_transforms_both_ways():
    reference = optax.chain(optax.clip_by_global_norm(50.0), optax.scale_by_adam(b1=0.8),
                            optax.add_decayed_weights(0.01), optax.scale_by_learning_rate(0.02))
    ours_outside = optim.chain(optim.clip_by_global_norm(50.0), optax.scale_by_adam(b1=0.8),
                               optim.add_decayed_weights(0.01), optax.scale_by_learning_rate(0.02))
    optax_outside = optax.chain(optax.clip_by_global_norm(50.0), optim.scale_by_adam(b1=0.8),
                                optax.add_decayed_weights(0.01), optim.scale_by_learning_rate(0.02))
    out = trajectories({"reference": reference, "ours_outside": ours_outside,
                        "optax_outside": optax_outside})
    assert_trees_close(out["ours_outside"], out["reference"], rtol=RTOL, atol=ATOL)
    assert_trees_close(out["optax_outside"], out["reference"], rtol=RTOL, atol=ATOL)


def test_chain_rejects_a_foreign_state():
    opt = optim.chain(optim.scale(2.0), optim.scale(3.0))
    with pytest.raises(ValueError, match="chain of 2 transforms got a state with 1"):
        opt.update({"w": jnp.ones(1)}, (optim.EmptyState(),))


def test_default_dtype_is_float32_outside_x64():
    with jax.enable_x64(False):
        params = {"W": jnp.ones((2, 3)), "b": jnp.zeros(3)}
        for opt in (optim.adam(1e-3), optim.rmsprop(optim.cosine_decay(1e-3, 10), momentum=0.9),
                    optim.scale_by_factor(optim.adamw(1e-3, mask=optim.weights_only_mask))):
            state = opt.init(params)
            grads = jax.tree.map(jnp.ones_like, params)
            updates, state = jax.jit(opt.update)(grads, state, params)
            new = optim.apply_updates(params, updates)
            floats = [x for x in jax.tree.leaves((updates, state, new))
                      if jnp.issubdtype(x.dtype, jnp.floating)]
            assert floats and all(x.dtype == jnp.float32 for x in floats)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, message", [
    (lambda: optim.sgd(-0.1), r"learning_rate must be >= 0, got learning_rate=-0.1"),
    (lambda: optim.adam(float("nan")), r"learning_rate must be >= 0"),
    (lambda: optim.sgd(0.1, momentum=1.0), r"momentum must be in \[0, 1\), got momentum=1.0"),
    (lambda: optim.sgd(0.1, nesterov=True), r"nesterov=True needs a momentum rate"),
    (lambda: optim.momentum(0.1, beta=-0.5), r"beta must be in \[0, 1\)"),
    (lambda: optim.adam(0.1, b1=1.0), r"b1 must be in \[0, 1\), got b1=1.0"),
    (lambda: optim.adamw(0.1, b2=1.5), r"b2 must be in \[0, 1\), got b2=1.5"),
    (lambda: optim.adam(0.1, eps=-1e-8), r"eps must be >= 0, got eps=-1e-08"),
    (lambda: optim.adam(0.1, eps_root=-1.0), r"eps_root must be >= 0"),
    (lambda: optim.rmsprop(0.1, decay=1.0), r"decay must be in \[0, 1\), got decay=1.0"),
    (lambda: optim.rmsprop(0.1, nesterov=True), r"nesterov=True needs a momentum rate"),
    (lambda: optim.rmsprop(0.1, centered=True, bias_correction=True),
     r"centered=True with bias_correction=True"),
    (lambda: optim.adagrad(0.1, initial_accumulator_value=-0.1),
     r"initial_accumulator_value must be >= 0"),
    (lambda: optim.adamw(0.1, weight_decay=-1e-4), r"weight_decay must be >= 0"),
    (lambda: optim.lion(0.1, b2=1.0), r"b2 must be in \[0, 1\)"),
    (lambda: optim.clip_by_global_norm(-1.0), r"max_norm must be >= 0"),
])
def test_bad_hyperparameters_raise_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_ambiguous_positional_arguments_are_keyword_only():
    """optax's adamw has mu_dtype 6th and rmsprop initial_scale 4th: no silent mix-ups."""
    with pytest.raises(TypeError):
        optim.adamw(1e-3, 0.9, 0.999, 1e-8, 1e-2)
    with pytest.raises(TypeError):
        optim.rmsprop(1e-3, 0.9, 1e-8, False)


# ---------------------------------------------------------------- non-finite gradients

def test_skip_nonfinite_skips_bad_steps_and_counts_them():
    steps, bad_steps = 20, {3: np.nan, 7: np.inf, 8: -np.inf}
    grads = jax.tree.map(lambda x: np.array(x[:steps]), GRADS)
    for t, value in bad_steps.items():
        grads["pair"][0][t, 1, 2] = value
    good = np.array([t for t in range(steps) if t not in bad_steps])
    guarded, plain = optim.skip_nonfinite(optim.adam(0.01)), optim.adam(0.01)

    def run(params, grads, clean_grads):
        def step(carry, g):
            p, state = carry
            updates, state = guarded.update(g, state, p)
            p = optim.apply_updates(p, updates)
            return (p, state), (p, state)
        _, (ps, states) = jax.lax.scan(step, (params, guarded.init(params)), grads)
        return ps, states, optimizer_trajectory(plain, params, clean_grads)

    clean_grads = jax.tree.map(lambda x: x[good], grads)
    ps, states, clean = jax.tree.map(np.asarray, jax.jit(run, compiler_options=FAST_COMPILE)(
        PARAMS, grads, clean_grads))
    is_bad = np.isin(np.arange(steps), list(bad_steps))
    np.testing.assert_array_equal(states.skipped, np.cumsum(is_bad))
    for t in bad_steps:  # params and the inner state bitwise unchanged by a bad step
        for leaf in jax.tree.leaves((ps, states.inner_state)):
            np.testing.assert_array_equal(leaf[t], leaf[t - 1])
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(ps))
    assert_trees_close(jax.tree.map(lambda x: x[good], ps), clean, rtol=RTOL, atol=ATOL)


def test_skip_nonfinite_also_catches_overflowing_updates():
    opt = optim.skip_nonfinite(optim.sgd(1e300))
    params = {"w": jnp.array([1.0, 2.0])}
    updates, state = opt.update({"w": jnp.array([1e10, 0.0])}, opt.init(params), params)
    assert int(state.skipped) == 1
    np.testing.assert_array_equal(updates["w"], np.zeros(2))


# ---------------------------------------------------------------- scale_by_factor

def test_scale_by_factor_scales_updates_without_retracing():
    traces = []
    opt = optim.scale_by_factor(optim.adam(0.01))
    plain = optim.adam(0.01)
    plain_update = jax.jit(plain.update)

    @jax.jit
    def step(params, state, grads):
        traces.append(None)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, updates

    params, state = PARAMS, opt.init(PARAMS)
    plain_state = plain.init(PARAMS)
    for t, factor in enumerate([1.0, 1.0, 0.5, 0.5, 0.1, 0.0]):
        state = optim.set_factor(state, factor)
        g = jax.tree.map(lambda x: x[t], GRADS)
        new_params, state, updates = step(params, state, g)
        plain_updates, plain_state = plain_update(g, plain_state, params)
        assert_trees_close(updates, jax.tree.map(lambda u: factor * u, plain_updates),
                           rtol=1e-15, atol=0)
        params = new_params
    assert len(traces) == 1
    with pytest.raises(ValueError, match="scale_by_factor"):
        optim.set_factor(plain_state, 0.5)
    with pytest.raises(ValueError, match="factor must be >= 0"):
        optim.set_factor(state, -1.0)
