"""`fit` on a CNN and an LSTM against hand-written plain JAX + optax references, back to back.

Each reference is what a careful JAX user writes by hand for the same architecture: the
layers written directly with ``lax.conv_general_dilated`` / ``lax.reduce_window`` (CNN) or
a ``lax.scan`` over time of the LSTM equations (LSTM), ``jax.value_and_grad``, optax Adam,
one ``jax.jit`` of a ``lax.scan`` over an epoch of on-device shuffled batches, one host sync
per epoch.  Both start from the same params and see the same data and batch size.

* digits CNN (as ``experiments/cnn_digits.py``): flat 8x8 digits, conv 5x5x32 "SAME",
  ReLU, 2x2 max-pool, dense 128, ReLU, dropout 0.3, dense 10; softmax cross-entropy;
  the 5385 shift-augmented training images, batch 64.
* LSTM on the adding problem (as ``experiments/lstm_vs_rnn.py``): T = 100, D = 2, H = 32,
  dense 1, MSE; 4000 sequences, batch 32.

Each round times the reference, ``fit`` (autodiff) and ``fit(grad="backprop")``
interleaved (in alternating order, ABCD DCBA ...), so machine load hits all alike.
Speed = reference time / fit time of the same round (1.0 = same speed, > 1 = jaxnn
faster); reported is the median of these paired ratios over rounds, with their quartiles:
on a shared 2-core machine single epochs move by +-10%, and pairing cancels most of it.
The step-loop column times the reference's step jitted alone and called once per batch
from Python: on CPU it shows what running the epoch inside one ``lax.scan`` costs or saves.
The last column compares inference: ``model.apply`` against the reference's forward.

    python benchmarks/bench_architectures.py [--rounds 15] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxnn import datasets, models, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from cnn_digits import augment_with_shifts, build_cnn  # noqa: E402  (the example's data and model)
from lstm_vs_rnn import adding_problem  # noqa: E402
from timing import interleaved_rounds, median_ratio, paired_ratios, quartiles  # noqa: E402

DROPOUT = 0.3  # build_cnn's dropout rate


# --- the hand-written references -------------------------------------------------------------

def reference_cnn_forward(params, x, key):
    """conv 5x5 SAME + ReLU, 2x2 max-pool, dense + ReLU, inverted dropout (none when
    ``key`` is None), dense: logits."""
    conv, hidden, out = params
    images = x.reshape(-1, 8, 8, 1)
    h = lax.conv_general_dilated(images, conv["W"], (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC")) + conv["b"]
    h = jax.nn.relu(h)
    h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ hidden["W"] + hidden["b"])
    if key is not None:
        h = h * jax.random.bernoulli(key, 1.0 - DROPOUT, h.shape) / (1.0 - DROPOUT)
    return h @ out["W"] + out["b"]


def reference_cnn_loss(params, x, y, key):
    return optax.softmax_cross_entropy_with_integer_labels(reference_cnn_forward(params, x, key), y).mean()


def reference_lstm_forward(params, x, key):
    """LSTM (gates i, f, g, o) over time by ``lax.scan``, then a dense readout of h_T."""
    cell, out = params
    hidden = cell["W_h"].shape[0]
    xw = jnp.einsum("ntd,dg->tng", x, cell["W_x"]) + cell["b"]

    def step(state, xw_t):
        h, c = state
        i, f, g, o = jnp.split(xw_t + h @ cell["W_h"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
    (h, _), _ = lax.scan(step, (zeros, zeros), xw)
    return h @ out["W"] + out["b"]


def reference_lstm_loss(params, x, y, key):
    return jnp.mean((reference_lstm_forward(params, x, key) - y) ** 2)


def reference_epoch_fn(loss_fn: Callable, optimizer, batch_size: int):
    """One ``jax.jit`` of a ``lax.scan`` over the epoch's shuffled mini-batches."""

    def epoch(params, opt_state, x, y, key):
        n_batches = x.shape[0] // batch_size
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        xs = x[order].reshape(n_batches, batch_size, *x.shape[1:])
        ys = y[order].reshape(n_batches, batch_size, *y.shape[1:])

        def step(carry, batch):
            params, opt_state, i = carry
            value, grads = jax.value_and_grad(loss_fn)(params, *batch, jax.random.fold_in(key, i))
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, i + 1), value

        (params, opt_state, _), values = lax.scan(step, (params, opt_state, 0), (xs, ys))
        return params, opt_state, values.mean()

    return jax.jit(epoch, donate_argnums=(0, 1))


def reference_step_fn(loss_fn: Callable, optimizer):
    """The same step jitted alone, for a Python loop over batches (one dispatch per step).

    Not the design jaxnn follows (DESIGN.md: the epoch is the unit of compilation); timed
    beside it because XLA:CPU runs some convolutions far slower inside a loop body
    (jax-ml/jax#12868), which this loop avoids.
    """

    def step(params, opt_state, x, y, key):
        value, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return jax.jit(step, donate_argnums=(0, 1))


# --- the configurations ---------------------------------------------------------------------

class Config(NamedTuple):
    name: str
    model: object
    loss: str
    reference_loss: Callable
    x: jax.Array
    y: jax.Array
    in_shape: tuple
    batch_size: int
    epochs: int          # epochs per timing


def digits_cnn_config(quick: bool) -> Config:
    x, y = augment_with_shifts(*datasets.load("digits", scale=None).train)
    return Config("digits CNN conv5x5x32-pool-128-10, batch 64", build_cnn(), "softmax_cross_entropy",
                  reference_cnn_loss, jnp.asarray(x), jnp.asarray(y), (64,), 64, 1 if quick else 2)


def adding_lstm_config(quick: bool) -> Config:
    n = 1024 if quick else 4000
    x, y = adding_problem(jax.random.key(0), n, 100)
    return Config("LSTM H=32 on the adding problem T=100, batch 32", models.rnn_regressor(32, 1, cell="lstm"),
                  "mse", reference_lstm_loss, x, y, (100, 2), 32, 1 if quick else 3)


def reference_params(params):
    """jaxnn's params without the parameter-free layers' ``()``: a tuple of dicts."""
    return tuple(jax.tree_util.tree_map(jnp.array, p) for p in params if p != ())


# --- timing ---------------------------------------------------------------------------------

def time_reference(epoch_fn, params, optimizer, x, y, epochs: int) -> float:
    params = reference_params(params)
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    for e in range(epochs):
        params, opt_state, loss = epoch_fn(params, opt_state, x, y, jax.random.fold_in(jax.random.key(0), e))
        float(loss)  # one host sync per epoch, as fit does
    return time.perf_counter() - start


def time_reference_steps(step_fn, params, optimizer, x, y, batch_size: int, epochs: int) -> float:
    """Epochs of `reference_step_fn` over device-shuffled batches, one host sync per epoch."""
    params = reference_params(params)
    opt_state = optimizer.init(params)
    n_batches = x.shape[0] // batch_size
    start = time.perf_counter()
    for e in range(epochs):
        key = jax.random.fold_in(jax.random.key(0), e)
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        xs = x[order].reshape(n_batches, batch_size, *x.shape[1:])
        ys = y[order].reshape(n_batches, batch_size, *y.shape[1:])
        for i in range(n_batches):
            params, opt_state, loss = step_fn(params, opt_state, xs[i], ys[i], jax.random.fold_in(key, i))
        float(loss)
    return time.perf_counter() - start


def time_fit(config: Config, params, optimizer, epochs: int, grad: str = "autodiff") -> float:
    start = time.perf_counter()
    train.fit(config.model, params, config.loss, optimizer, config.x, config.y, epochs=epochs,
              batch_size=config.batch_size, key=jax.random.key(0), grad=grad, progress=False)
    return time.perf_counter() - start


def forward_speed(config: Config, params, rounds: int, batch: int = 256, calls: int = 20) -> float:
    """Inference: median over rounds of (reference forward time / ``model.apply`` time),
    each jitted, on one batch of ``batch`` examples."""
    forward = reference_cnn_forward if config.reference_loss is reference_cnn_loss else reference_lstm_forward
    ours = jax.jit(lambda p, x: config.model.apply(p, x))
    theirs = jax.jit(lambda p, x: forward(p, x, None))
    x, ref_params = config.x[:batch], reference_params(params)

    def seconds(fn, p):
        start = time.perf_counter()
        for _ in range(calls):
            out = fn(p, x)
        jax.block_until_ready(out)
        return time.perf_counter() - start

    seconds(ours, params), seconds(theirs, ref_params)  # compile
    return statistics.median(seconds(theirs, ref_params) / seconds(ours, params) for _ in range(rounds))


def measure(config: Config, rounds: int) -> dict:
    _, params = config.model.init(jax.random.key(0), config.in_shape)
    optimizer = optax.adam(1e-3)
    reference = reference_epoch_fn(config.reference_loss, optimizer, config.batch_size)
    step = reference_step_fn(config.reference_loss, optimizer)
    # warm-up: compile all four once
    time_reference(reference, params, optimizer, config.x, config.y, 1)
    time_reference_steps(step, params, optimizer, config.x, config.y, config.batch_size, 1)
    time_fit(config, params, optimizer, 1)
    time_fit(config, params, optimizer, 1, grad="backprop")
    runs = {
        "reference": lambda: time_reference(reference, params, optimizer, config.x, config.y, config.epochs),
        "step_loop": lambda: time_reference_steps(step, params, optimizer, config.x, config.y,
                                                  config.batch_size, config.epochs),
        "fit": lambda: time_fit(config, params, optimizer, config.epochs),
        "backprop": lambda: time_fit(config, params, optimizer, config.epochs, grad="backprop"),
    }
    times = {name: [t / config.epochs for t in ts] for name, ts in interleaved_rounds(runs, rounds).items()}
    speeds = paired_ratios(times["reference"], times["fit"])
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"config": config.name, "reference_ms": 1e3 * median["reference"], "fit_ms": 1e3 * median["fit"],
            "speed": statistics.median(speeds), "speed_quartiles": quartiles(speeds),
            "backprop_ms": 1e3 * median["backprop"],
            "backprop_speed": median_ratio(times["reference"], times["backprop"]),
            "backprop_over_autodiff": median_ratio(times["backprop"], times["fit"]),
            "step_loop_ms": 1e3 * median["step_loop"], "apply_speed": forward_speed(config, params, rounds)}


def check_references_agree(config: Config) -> float:
    """Max |jaxnn logits - reference logits| in inference mode (dropout off in both)."""
    _, params = config.model.init(jax.random.key(0), config.in_shape)
    ours = config.model.apply(params, config.x[:64])
    forward = reference_cnn_forward if config.reference_loss is reference_cnn_loss else reference_lstm_forward
    theirs = forward(reference_params(params), config.x[:64], None)
    return float(jnp.max(jnp.abs(ours - theirs)))


def main(rounds: int = 15, quick: bool = False) -> list[dict]:
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {rounds} interleaved rounds, median times\n")
    rows = []
    for config in (digits_cnn_config(quick), adding_lstm_config(quick)):
        gap = check_references_agree(config)
        if gap > 1e-4:
            raise AssertionError(f"{config.name}: the reference computes something else (max gap {gap:.2e})")
        rows.append(measure(config, rounds))
    print("| model | reference ms/epoch | fit ms/epoch | fit speed vs reference (quartiles) "
          "| fit(grad=backprop) speed vs reference | backprop time / autodiff "
          "| reference step-per-dispatch loop ms/epoch | apply speed vs reference forward, batch 256 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        q1, q3 = r["speed_quartiles"]
        print(f"| {r['config']} | {r['reference_ms']:.0f} | {r['fit_ms']:.0f} | {r['speed']:.3f}x ({q1:.2f}-{q3:.2f}) "
              f"| {r['backprop_speed']:.3f}x | {r['backprop_over_autodiff']:.3f} | {r['step_loop_ms']:.0f} "
              f"| {r['apply_speed']:.2f}x |")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and sequences")
    args = parser.parse_args()
    main(args.rounds, args.quick)
