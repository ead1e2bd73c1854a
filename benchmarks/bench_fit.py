"""`fit` throughput against a hand-written plain JAX + optax reference, back to back.

The reference is what a careful JAX user writes by hand: params as a list of (W, b),
one ``jax.jit`` of a ``lax.scan`` over an epoch of on-device shuffled batches, optax
Adam, one host sync per epoch.  jaxnn runs ``train.fit`` (which adds the non-finite
guard, the epoch bookkeeping and the history) on the same data and batch size.

Each round times both back to back, in alternating order (`timing.interleaved_rounds`);
the speed is the median over rounds of each round's reference time / jaxnn time (1.0 =
same speed, > 1 = jaxnn faster), with the quartiles.  Also times ``grad="backprop"``
against ``grad="autodiff"`` and the bare hand-derived ``backprop.value_and_grad`` against
``jax.value_and_grad``.

    python benchmarks/bench_fit.py [--rounds 15] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from timing import interleaved_rounds, median_ratio, paired_ratios, quartiles

from jaxnn import backprop, models, train

CONFIGS = [  # (name, layer widths, batch size, examples, epochs per timing)
    ("784-512-512-10 relu, batch 128", [784, 512, 512, 10], 128, 8192, 4),
    ("64-32-10 relu, batch 32", [64, 32, 10], 32, 8192, 8),
]


def synthetic(widths, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, widths[0]), dtype=np.float32)
    y = rng.integers(0, widths[-1], n).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def reference_epoch_fn(optimizer, batch_size):
    """The hand-written reference: plain JAX MLP + optax, one jit of a scan per epoch."""

    def forward(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        return x @ w + b

    def loss_fn(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()

    def epoch(params, opt_state, x, y, key):
        n_batches = x.shape[0] // batch_size
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        xs = x[order].reshape(n_batches, batch_size, -1)
        ys = y[order].reshape(n_batches, batch_size)

        def step(carry, batch):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss_fn)(params, *batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), values = jax.lax.scan(step, (params, opt_state), (xs, ys))
        return params, opt_state, values.mean()

    return jax.jit(epoch, donate_argnums=(0, 1))


def time_reference(epoch_fn, params, optimizer, x, y, epochs):
    params = [(jnp.array(p["W"]), jnp.array(p["b"])) for p in params if p]
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    for e in range(epochs):
        params, opt_state, loss = epoch_fn(params, opt_state, x, y, jax.random.fold_in(jax.random.key(0), e))
        float(loss)  # one host sync per epoch, as fit does
    return time.perf_counter() - start


def time_fit(model, params, optimizer, x, y, batch_size, epochs, grad="autodiff"):
    start = time.perf_counter()
    train.fit(model, params, "softmax_cross_entropy", optimizer, x, y, epochs=epochs, batch_size=batch_size,
              key=jax.random.key(0), grad=grad, progress=False)
    return time.perf_counter() - start


def compiled_flops(fn, *args) -> float:
    """XLA's cost-analysis flop count of ``jax.jit(fn)(*args)``: independent of machine load."""
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def value_and_grad_timer(fn, params, x, y, repeats=50):
    """``() -> seconds`` per call of ``jax.jit(fn)(params, x, y)``, over ``repeats`` calls."""
    fn = jax.jit(fn)
    jax.block_until_ready(fn(params, x, y))

    def seconds():
        start = time.perf_counter()
        for _ in range(repeats):
            out = fn(params, x, y)
        jax.block_until_ready(out)
        return (time.perf_counter() - start) / repeats

    return seconds


def main(rounds: int = 15, quick: bool = False) -> list[dict]:
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {rounds} interleaved rounds, median times\n")
    rows = []
    for name, widths, batch_size, n, epochs in CONFIGS[-1:] if quick else CONFIGS:
        x, y = synthetic(widths, n)
        model = models.mlp(widths[1:], activation="relu")
        params = model.init(jax.random.key(0), (widths[0],))[1]
        optimizer = optax.adam(1e-3)
        reference = reference_epoch_fn(optimizer, batch_size)
        # warm-up: compile everything once
        time_reference(reference, params, optimizer, x, y, 1)
        time_fit(model, params, optimizer, x, y, batch_size, 1)
        time_fit(model, params, optimizer, x, y, batch_size, 1, grad="backprop")
        times = interleaved_rounds({
            "reference": lambda: time_reference(reference, params, optimizer, x, y, epochs),
            "fit": lambda: time_fit(model, params, optimizer, x, y, batch_size, epochs),
            "backprop": lambda: time_fit(model, params, optimizer, x, y, batch_size, epochs, grad="backprop"),
        }, rounds)
        ref, fit, hand = (statistics.median(times[name]) / epochs for name in ("reference", "fit", "backprop"))
        speeds = paired_ratios(times["reference"], times["fit"])
        xb, yb = x[:batch_size], y[:batch_size]
        vg_auto = backprop.autodiff_value_and_grad(model, "softmax_cross_entropy")
        vg_hand = backprop.value_and_grad(model, "softmax_cross_entropy")
        vg_times = interleaved_rounds({"autodiff": value_and_grad_timer(vg_auto, params, xb, yb),
                                       "backprop": value_and_grad_timer(vg_hand, params, xb, yb)}, rounds)
        flops_ratio = compiled_flops(vg_hand, params, xb, yb) / compiled_flops(vg_auto, params, xb, yb)
        rows.append({"config": name, "reference_ms": 1e3 * ref, "fit_ms": 1e3 * fit,
                     "speed_ratio": statistics.median(speeds),
                     "speed_quartiles": quartiles(speeds), "backprop_fit_ms": 1e3 * hand,
                     "backprop_over_autodiff_fit": median_ratio(times["backprop"], times["fit"]),
                     "backprop_over_autodiff_value_and_grad": median_ratio(vg_times["backprop"], vg_times["autodiff"]), "flops_ratio": flops_ratio})
    print("| model | reference ms/epoch | fit ms/epoch | fit speed vs reference (quartiles) "
          "| fit(grad=backprop) time / autodiff "
          "| backprop.value_and_grad time / jax.value_and_grad | same, XLA flops |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        q1, q3 = r["speed_quartiles"]
        print(f"| {r['config']} | {r['reference_ms']:.1f} | {r['fit_ms']:.1f} | {r['speed_ratio']:.3f}x ({q1:.2f}-{q3:.2f}) "
              f"| {r['backprop_over_autodiff_fit']:.3f} | {r['backprop_over_autodiff_value_and_grad']:.3f} "
              f"| {r['flops_ratio']:.4f} |")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="only the small model")
    args = parser.parse_args()
    main(args.rounds, args.quick)
