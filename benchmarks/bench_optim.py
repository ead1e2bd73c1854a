"""jaxnn.optim against optax: speed (float32) and step-by-step agreement (float64).

Speed: per optimizer, one ``jit`` of a ``lax.fori_loop`` running ``--steps`` updates
(gradient of ``1/2 ||theta - target||^2``, then ``update`` and ``apply_updates``) on a
~1.07M-parameter MLP-shaped pytree in float32; jaxnn and optax are timed back to back
in this process, after a warm-up call, best of ``--repeats``.  Goal: ratio <= 1.05.

Agreement: per optimizer, 100 steps on a small nested pytree in float64 with gradients
spanning 8 orders of magnitude and exact zeros; the table gives the max elementwise
relative error of the params over all steps against optax's namesake (same keywords) and
against PyTorch (the same update in PyTorch's form, where PyTorch has one).

    .venv/bin/python benchmarks/bench_optim.py [--steps 1000] [--repeats 5] [--only adam,sgd]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from timing import interleaved_rounds, xla_cost

from jaxnn import optim

# name -> (jaxnn optimizer, optax optimizer), both from the same keywords.
SPEED_CASES: dict[str, tuple[Callable[[], optax.GradientTransformation], ...]] = {
    "sgd": (lambda: optim.sgd(1e-3), lambda: optax.sgd(1e-3)),
    "sgd_nesterov": (lambda: optim.sgd(1e-3, 0.9, nesterov=True),
                     lambda: optax.sgd(1e-3, 0.9, nesterov=True)),
    "momentum_ema": (lambda: optim.momentum(1e-3, 0.9),
                     lambda: optax.chain(optax.ema(0.9, debias=False), optax.scale(-1e-3))),
    "adagrad": (lambda: optim.adagrad(1e-3), lambda: optax.adagrad(1e-3)),
    "rmsprop": (lambda: optim.rmsprop(1e-3), lambda: optax.rmsprop(1e-3)),
    "rmsprop_centered_mom": (lambda: optim.rmsprop(1e-3, centered=True, momentum=0.9),
                             lambda: optax.rmsprop(1e-3, centered=True, momentum=0.9)),
    "adam": (lambda: optim.adam(1e-3), lambda: optax.adam(1e-3)),
    "adam_cosine": (lambda: optim.adam(optim.cosine_decay(1e-3, 1000)),
                    lambda: optax.adam(optax.cosine_decay_schedule(1e-3, 1000))),
    "nadam": (lambda: optim.nadam(1e-3), lambda: optax.nadam(1e-3)),
    "adamw_masked": (lambda: optim.adamw(1e-3, weight_decay=1e-2, mask=optim.weights_only_mask),
                     lambda: optax.adamw(1e-3, weight_decay=1e-2,
                                         mask=lambda p: jax.tree.map(lambda x: x.ndim >= 2, p))),
    "amsgrad": (lambda: optim.amsgrad(1e-3), lambda: optax.amsgrad(1e-3)),
    "lion": (lambda: optim.lion(1e-4), lambda: optax.lion(1e-4)),
}

LAYER_SIZES = (784, 1024, 256, 10)  # 1,068,810 parameters


def mlp_shaped_params(key: jax.Array) -> list[dict[str, jax.Array]]:
    params = []
    for fan_in, fan_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]):
        key, k_w, k_b = jax.random.split(key, 3)
        params.append({"W": jax.random.normal(k_w, (fan_in, fan_out)) / np.sqrt(fan_in),
                       "b": 0.1 * jax.random.normal(k_b, (fan_out,))})
    return params


def compiled_loop(opt: optax.GradientTransformation, apply_updates, steps: int):
    """A jitted ``(params, state, target) -> (params, state)`` running ``steps`` updates."""
    def run(params, state, target):
        def body(_, carry):
            p, s = carry
            grads = jax.tree.map(jnp.subtract, p, target)  # grad of 1/2 ||p - target||^2
            updates, s = opt.update(grads, s, p)
            return apply_updates(p, updates), s
        return jax.lax.fori_loop(0, steps, body, (params, state))
    return jax.jit(run)


def time_ms(fn, args) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one call.  CPU time (all threads) is far less
    disturbed than wall time when other processes share the cores."""
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    return 1e3 * (time.perf_counter() - wall), 1e3 * (time.process_time() - cpu)


class SpeedRow(NamedTuple):
    name: str
    jaxnn_ms: float
    optax_ms: float
    jaxnn_cpu_ms: float
    optax_cpu_ms: float
    flops_ratio: float
    bytes_ratio: float


def speed_table(names: list[str], steps: int, repeats: int) -> list[SpeedRow]:
    params = mlp_shaped_params(jax.random.key(0))
    target = mlp_shaped_params(jax.random.key(1))
    rows = []
    for name in names:
        make_ours, make_theirs = SPEED_CASES[name]
        ours, theirs = make_ours(), make_theirs()
        run = {"jaxnn": compiled_loop(ours, optim.apply_updates, steps),
               "optax": compiled_loop(theirs, optax.apply_updates, steps)}
        args = {"jaxnn": (params, ours.init(params), target),
                "optax": (params, theirs.init(params), target)}
        cost = {k: xla_cost(run[k], *args[k]) for k in run}
        jax.block_until_ready([run[k](*args[k]) for k in run])  # compile and warm up
        # interleaved in alternating order, so load changes hit both alike; best of the rounds
        times = interleaved_rounds({k: lambda k=k: time_ms(run[k], args[k]) for k in run}, repeats)
        wall = {k: min(w for w, _ in times[k]) for k in run}
        cpu = {k: min(c for _, c in times[k]) for k in run}
        row = SpeedRow(name, wall["jaxnn"], wall["optax"], cpu["jaxnn"], cpu["optax"],
                       cost["jaxnn"]["flops"] / cost["optax"]["flops"],
                       cost["jaxnn"]["bytes accessed"] / cost["optax"]["bytes accessed"])
        rows.append(row)
        print(f"{name:22s} {row.jaxnn_ms:9.1f} {row.optax_ms:9.1f}"
              f" {row.jaxnn_ms / row.optax_ms:6.3f}"
              f" {row.jaxnn_cpu_ms / row.optax_cpu_ms:9.3f} {row.flops_ratio:7.4f}"
              f" {row.bytes_ratio:7.4f}", flush=True)
    return rows


# ---------------------------------------------------------------- agreement (float64)

# name -> (jaxnn optimizer, optax twin or None, PyTorch factory or None).
# The PyTorch column runs jaxnn in PyTorch's form where it differs (eps outside sqrt...).
AGREEMENT_CASES = {
    "sgd": (lambda: optim.sgd(0.01), lambda: optax.sgd(0.01),
            (lambda: optim.sgd(0.01), lambda t, ps: t.optim.SGD(ps, lr=0.01))),
    "sgd_momentum": (lambda: optim.sgd(0.01, 0.9), lambda: optax.sgd(0.01, 0.9),
                     (lambda: optim.sgd(0.01, 0.9),
                      lambda t, ps: t.optim.SGD(ps, lr=0.01, momentum=0.9))),
    "sgd_nesterov": (lambda: optim.sgd(0.01, 0.9, True), lambda: optax.sgd(0.01, 0.9, True),
                     (lambda: optim.sgd(0.01, 0.9, True),
                      lambda t, ps: t.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True))),
    "momentum_ema": (lambda: optim.momentum(0.01, 0.9),
                     lambda: optax.chain(optax.ema(0.9, debias=False), optax.scale(-0.01)), None),
    "adagrad": (lambda: optim.adagrad(0.1), lambda: optax.adagrad(0.1),
                (lambda: optim.adagrad(0.1, 0.0, 1e-10, eps_in_sqrt=False),
                 lambda t, ps: t.optim.Adagrad(ps, lr=0.1, eps=1e-10))),
    "rmsprop": (lambda: optim.rmsprop(0.01), lambda: optax.rmsprop(0.01),
                (lambda: optim.rmsprop(0.01, 0.99, eps_in_sqrt=False),
                 lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8))),
    "rmsprop_centered": (lambda: optim.rmsprop(0.01, centered=True),
                         lambda: optax.rmsprop(0.01, centered=True),
                         (lambda: optim.rmsprop(0.01, centered=True, eps_in_sqrt=False),
                          lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, centered=True))),
    "rmsprop_momentum": (lambda: optim.rmsprop(0.01, momentum=0.9),
                         lambda: optax.rmsprop(0.01, momentum=0.9),
                         (lambda: optim.rmsprop(0.01, momentum=0.9, eps_in_sqrt=False),
                          lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.9))),
    "adam": (lambda: optim.adam(0.01), lambda: optax.adam(0.01),
             (lambda: optim.adam(0.01), lambda t, ps: t.optim.Adam(ps, lr=0.01))),
    "adam_eps_root": (lambda: optim.adam(0.01, eps_root=1e-8),
                      lambda: optax.adam(0.01, eps_root=1e-8), None),
    "nadam": (lambda: optim.nadam(0.01), lambda: optax.nadam(0.01), None),
    "adamw": (lambda: optim.adamw(0.01, weight_decay=0.05),
              lambda: optax.adamw(0.01, weight_decay=0.05),
              (lambda: optim.adamw(0.01, weight_decay=0.05),
               lambda t, ps: t.optim.AdamW(ps, lr=0.01, weight_decay=0.05))),
    "adamw_masked": (lambda: optim.adamw(0.01, weight_decay=0.05, mask=optim.weights_only_mask),
                     lambda: optax.adamw(0.01, weight_decay=0.05,
                                         mask=lambda p: jax.tree.map(lambda x: x.ndim >= 2, p)),
                     None),
    "amsgrad": (lambda: optim.amsgrad(0.01), lambda: optax.amsgrad(0.01), None),
    "lion": (lambda: optim.lion(0.001), lambda: optax.lion(0.001), None),
}


def _agreement_problem(steps: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = {"dense": {"W": (3, 4), "b": (5,)}, "pair": ((2, 3), ())}
    is_shape = lambda x: isinstance(x, tuple) and all(isinstance(d, int) for d in x)  # noqa: E731
    params = jax.tree.map(lambda s: rng.normal(size=s), shapes, is_leaf=is_shape)

    def stream(p):
        g = rng.normal(size=(steps,) + p.shape) * 10.0 ** rng.uniform(-4, 4, (steps,) + p.shape)
        g[rng.uniform(size=g.shape) < 0.2] = 0.0
        return g
    return params, jax.tree.map(stream, params)


def _flat(leaves) -> np.ndarray:
    """A trajectory's leaves, each ``(steps, *shape)``, side by side: ``(steps, n_params)``."""
    return np.concatenate([np.reshape(leaf, (leaf.shape[0], -1)) for leaf in leaves], axis=1)


def _jax_trajectory(opt, params, grads) -> np.ndarray:
    """The params after each step, ``(steps, n_params)``."""
    def step(carry, g):
        p, state = carry
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p
    out = jax.jit(lambda p, g: jax.lax.scan(step, (p, opt.init(p)), g)[1])(params, grads)
    return _flat([np.asarray(x) for x in jax.tree.leaves(out)])


def _torch_trajectory(make_torch, params, grads) -> np.ndarray:
    """The same for a PyTorch optimizer.  The updates compared act elementwise, so the whole
    pytree can be a single flat float64 tensor (leaves in the order of `_flat`)."""
    import torch
    flat = torch.tensor(np.concatenate([np.ravel(p) for p in jax.tree.leaves(params)]),
                        dtype=torch.float64, requires_grad=True)
    opt = make_torch(torch, [flat])
    trajectory = []
    for g in _flat(jax.tree.leaves(grads)):
        flat.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        trajectory.append(flat.detach().numpy().copy())
    return np.stack(trajectory)


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max over steps and elements of |a - e| / |e| (params here are never near 0 at
    round-off scale, so no floor is needed; a floor of 1e-300 guards exact zeros)."""
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))


def agreement_table() -> list[tuple[str, float, float | None]]:
    """(name, max rel. error vs optax, vs PyTorch or None) for every AGREEMENT_CASES entry."""
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rows = []
    with jax.enable_x64(True):
        params, grads = _agreement_problem()
        params, grads = jax.tree.map(jnp.asarray, (params, grads))
        for name, (make_ours, make_optax, torch_pair) in AGREEMENT_CASES.items():
            vs_optax = max_relative_error(_jax_trajectory(make_ours(), params, grads),
                                          _jax_trajectory(make_optax(), params, grads))
            vs_torch = None
            if torch_pair is not None and have_torch:
                make_ours_torch_form, make_torch = torch_pair
                vs_torch = max_relative_error(
                    _jax_trajectory(make_ours_torch_form(), params, grads),
                    _torch_trajectory(make_torch, jax.tree.map(np.asarray, params),
                                      jax.tree.map(np.asarray, grads)))
            rows.append((name, vs_optax, vs_torch))
    return rows


def geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated speed cases")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args()

    print(f"jax {jax.__version__}, optax {optax.__version__}, backend {jax.default_backend()}, "
          f"{sum(a.size for a in jax.tree.leaves(mlp_shaped_params(jax.random.key(0)))):,} params")
    if not args.skip_speed:
        names = args.only.split(",") if args.only else list(SPEED_CASES)
        print(f"\n{args.steps} updates in one jit, float32, best of {args.repeats}; ratio = "
              "jaxnn / optax (wall, CPU time, XLA flops and bytes accessed)")
        print(f"{'optimizer':22s} {'jaxnn ms':>9s} {'optax ms':>9s} {'ratio':>6s} {'cpu ratio':>9s}"
              f" {'flops':>7s} {'bytes':>7s}")
        rows = speed_table(names, args.steps, args.repeats)
        print(f"{'geometric mean':22s} {'':9s} {'':9s} "
              f"{geomean([r.jaxnn_ms / r.optax_ms for r in rows]):6.3f} "
              f"{geomean([r.jaxnn_cpu_ms / r.optax_cpu_ms for r in rows]):9.3f}")
    if not args.skip_agreement:
        print("\nmax relative error of params over 100 steps, float64")
        print(f"{'optimizer':22s} {'vs optax':>10s} {'vs PyTorch':>11s}")
        for name, vs_optax, vs_torch in agreement_table():
            torch_cell = "-" if vs_torch is None else f"{vs_torch:.1e}"
            print(f"{name:22s} {vs_optax:10.1e} {torch_cell:>11s}")


if __name__ == "__main__":
    main()
