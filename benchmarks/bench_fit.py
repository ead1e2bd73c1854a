"""`fit` throughput against a hand-written plain JAX + optax reference, back to back.

The reference (`reference.py`) is what a careful JAX user writes by hand: params as a
tuple of dicts, one ``jax.jit`` of a ``lax.scan`` over an epoch of on-device shuffled
batches, optax Adam, one host sync per epoch; here its loss is a plain-JAX ReLU MLP with
softmax cross-entropy.  jaxnn runs ``train.fit`` (which adds the non-finite guard, the
epoch bookkeeping and the history) on the same random data, params and batch size.

The floor: the same hand-written scan over the batches in their stored order, without
any shuffle; ``fit`` still draws a fresh permutation every epoch (`jaxnn.shuffle`).  The
goals (issue 13): the small MLPs' ``fit`` at >= 0.9x the floor's speed, the large one's at
>= 1.0x.  The middle config is the case the goal was set on: 64,000 examples, where the
shuffled reference's sort-based ``jax.random.permutation`` costs as much as the training.

Each round times every contender back to back, in alternating order
(`timing.interleaved_rounds`); a speed is the median over rounds of each round's reference
(or floor) time / jaxnn time (1.0 = same speed, > 1 = jaxnn faster), with the quartiles.
Also times ``grad="backprop"`` against ``grad="autodiff"`` and the bare hand-derived
``backprop.value_and_grad`` against ``jax.value_and_grad``.

    python benchmarks/bench_fit.py [--rounds 15] [--quick]
"""
from __future__ import annotations

import jax
import optax
from reference import fit_against_reference, random_data, speed_table
from timing import call_timer, header, interleaved_rounds, median_ratio, rounds_cli, speed_cell, xla_cost

from jaxnn import backprop, models

CONFIGS = [  # (name, layer widths, batch size, examples, epochs per timing)
    ("784-512-512-10 relu, batch 128", [784, 512, 512, 10], 128, 8192, 4),
    ("64-32-10 relu, batch 32, 64,000 examples", [64, 32, 10], 32, 64000, 2),
    ("64-32-10 relu, batch 32", [64, 32, 10], 32, 8192, 8),
]
FLOOR_GOALS = {CONFIGS[0][0]: 1.0, CONFIGS[1][0]: 0.9, CONFIGS[2][0]: 0.9}  # fit speed vs the no-shuffle scan


def reference_mlp_loss(params, x, y, key):
    """Plain-JAX ReLU MLP, mean softmax cross-entropy of its logits (no dropout: ``key`` unused)."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
    logits = x @ params[-1]["W"] + params[-1]["b"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def value_and_grad_comparison(model, params, x, y, rounds: int) -> dict:
    """Hand-derived ``backprop.value_and_grad`` against ``jax.value_and_grad`` on one batch:
    median time ratio over interleaved rounds, and the ratio of XLA's flop counts."""
    hand = backprop.value_and_grad(model, "softmax_cross_entropy")
    auto = backprop.autodiff_value_and_grad(model, "softmax_cross_entropy")
    times = interleaved_rounds({"autodiff": call_timer(jax.jit(auto), params, x, y, calls=50),
                                "backprop": call_timer(jax.jit(hand), params, x, y, calls=50)}, rounds)
    return {"time_ratio": median_ratio(times["backprop"], times["autodiff"]),
            "flops_ratio": xla_cost(hand, params, x, y)["flops"] / xla_cost(auto, params, x, y)["flops"]}


def main(rounds: int = 15, quick: bool = False) -> list[dict]:
    print(header(rounds))
    rows = []
    for name, widths, batch_size, n, epochs in CONFIGS[-1:] if quick else CONFIGS:
        x, y = random_data(n, (widths[0],), n_classes=widths[-1])
        model = models.mlp(widths[1:], activation="relu")
        params = model.init(jax.random.key(0), (widths[0],))[1]
        result = fit_against_reference(model, params, "softmax_cross_entropy", reference_mlp_loss, x, y,
                                       batch_size=batch_size, epochs=epochs, rounds=rounds, no_shuffle=True)
        vg = value_and_grad_comparison(model, params, x[:batch_size], y[:batch_size], rounds)
        rows.append({"config": name, **result, "backprop_over_autodiff_value_and_grad": vg["time_ratio"],
                     "flops_ratio": vg["flops_ratio"]})
    print(speed_table(rows, {
        "no-shuffle scan ms/epoch": lambda r: f"{r['no_shuffle_ms']:.1f}",
        "fit speed vs no-shuffle scan (quartiles; goal)":
            lambda r: f"{speed_cell(r['floor_speeds'])}; >= {FLOOR_GOALS[r['config']]}",
        "fit(grad=backprop) time / autodiff": lambda r: f"{r['backprop_over_autodiff']:.3f}",
        "backprop.value_and_grad time / jax.value_and_grad":
            lambda r: f"{r['backprop_over_autodiff_value_and_grad']:.3f}",
        "same, XLA flops": lambda r: f"{r['flops_ratio']:.4f}",
    }))
    return rows


if __name__ == "__main__":
    rounds_cli(main, __doc__, quick_help="only the small model")
