"""HSE, Neural Networks, "SGD on mini-batches"; IIT Mandi, Introduction to Neural Networks, "Mini-batch and averaging" and "Practical notes & numerical stability" (use GPUs + batching); Bottou, Curtis & Nocedal 2018: a mini-batch gradient is an unbiased estimate of the full gradient whose variance falls like 1/B, larger batches process more examples per second, and for a fixed budget of examples smaller batches (more steps) learn more.

Setup: a 64-32-10 ReLU MLP on the bundled 8x8 digits (1077 training images, standardized
pixels): at its initial weights, 1000 mini-batches drawn without replacement for each B in
1, 2, 4, ..., 256 are compared with the full gradient.  The same MLP is then trained by
plain SGD (one learning rate) for 5 epochs at each of those batch sizes and at full batch
(B = 1077, gradient descent), timing the compiled epoch of ``train.fit``.

Run: (1) the per-example gradients ``g_i`` of all N training images (``jax.vmap`` of
``jax.grad``), their mean (the full gradient ``g``) and their spread ``sigma^2 = 1/N sum_i
||g_i - g||^2``; for each B, the average of B of them over 1000 random mini-batches.
(2) ``train.fit`` for 5 epochs at every batch size from the same start, recording the
validation accuracy after every epoch; then the same compiled epochs
(``train.train_epoch``) timed in rounds, the batch sizes taking turns.

Measurement: for each B, the trace of the covariance of ``g_B`` (the sum of the variances
of its coordinates) against the exact value for sampling without replacement,
``sigma^2 / B * (N - B) / (N - 1)``, in standard errors of the measured trace (the spread of
the draws' squared deviations / sqrt(1000)), and the log-log slope of the trace corrected by
``(N - 1) / (N - B)``; the relative error of the average of the 1000 draws against the
full gradient, and against the error that their noise alone explains,
``sqrt(trace / 1000) / ||g||`` (``gradient_variance.png``); examples per second of the
compiled epoch, best of several rounds (``throughput.png``); validation accuracy per
epoch and per second of training (``validation_curves.png``).

Verdict: reproduced when the average of the draws is within ``BIAS_RATIO`` of its noise
level at every B (unbiased), the measured trace is within ``TRACE_Z`` standard errors of
the formula at every B, the corrected slope is within ``SLOPE_TOLERANCE`` of -1, B = 256
processes at least ``SPEEDUP`` times as many examples per second as B = 1, and after 5
epochs the best small batch (B <= 16) is at least ``ACCURACY_GAP_POINTS`` points more
accurate than B = 256.

    python experiments/batch_size.py [--quick] [--seed 0] [--out runs/batch_size]
"""

# %% [markdown]
# # Batch size: SGD, mini-batches, full batch
#
# HSE, "SGD on mini-batches": SGD updates on the gradient of one random example;
# mini-batch SGD shuffles the training set and updates on the averaged gradient of each
# chunk of B examples (IIT Mandi, "Mini-batch and averaging"); gradient descent uses all N.
# "In deep learning we usually use mini batch gradient descent" (KAUST Academy, Neural
# Networks, gradient descent).  Why the middle way?  Three facts decide the batch size
# (Bottou, Curtis & Nocedal 2018, sections 3-4):
#
# 1. the mini-batch gradient ``g_B`` is an *unbiased* estimate of the full gradient, and its
#    noise (variance) falls like ``1/B``: four times the batch halves the noise;
# 2. a batch is computed as one matrix product, which the hardware runs more efficiently
#    than B matrix-vector products (IIT Mandi, "Practical notes": use GPUs + batching);
# 3. but for the same number of examples a larger batch takes fewer steps.

# %%
from __future__ import annotations

import math
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from common import check, exit_with, figure, finish, save_figure, start

from jaxnn import datasets, losses, models, optim, train

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
QUICK_BATCH_SIZES = (1, 256)       # --quick: two compiled epochs (each batch size compiles one)
N_DRAWS, QUICK_DRAWS = 1000, 200   # mini-batches per B for the gradient statistics
# Unbiased: the error of the average of the draws is at most 2x the error their noise alone
# explains (for an unbiased estimate the ratio is ~1; a bias as large as the noise makes it
# ~1.4, and the noise of 1000 draws is 1-18% of ||g|| here).
BIAS_RATIO = 2.0
# The measured trace is itself an estimate from the draws, with a standard error (the spread
# of the draws' squared deviations / sqrt(draws)): ~0.6% of it at B = 256, ~11% at B = 1,
# where a few examples with large gradients dominate.  It must match the formula within 4
# standard errors at every B (9 batch sizes: a chance miss ~1e-4 for a normal estimate).
# Sharp enough to see the finite-population correction: sigma^2 / B without it misses the
# measurement at B = 256 by ~50 standard errors (it is 31% too large there).
TRACE_Z = 4.0
SLOPE_TOLERANCE = 0.1              # |slope + 1| <= 0.1, the task's tolerance
# Throughput on 2 shared CPU cores: B = 256 measured 3.2-3.5x the examples/s of B = 1 in five
# full runs (load 8-12 on 2 cores); 2x leaves room for a busier machine.  A CPU runs a 64x32
# matrix-vector product almost as efficiently per multiply-add as a matrix product, so the
# gain is small here; a GPU, whose thousands of lanes one example leaves idle, gains far
# more (not measured here).
SPEEDUP = 2.0
# Best of 15 rounds of >= 4096 examples (1-6 ms each): short rounds, some of which run while
# the other programs on the machine are not scheduled.
TIMING_ROUNDS, TIMING_EXAMPLES = 15, 4096
LEARNING_RATE = 0.05               # one plain-SGD rate for every batch size
EPOCHS, QUICK_EPOCHS = 5, 1
# After 5 epochs at one learning rate, B = 256 has taken 20 steps against >= 335 for
# B <= 16; we ask for a gap of 10 accuracy points (measured: ~45).
ACCURACY_GAP_POINTS = 10.0
HIDDEN = 32


# %% [markdown]
# ## Part 1: the mini-batch gradient, unbiased, with variance ~ 1/B
#
# Stack the N per-example gradients as the rows of a matrix ``G`` (N x P).  The full
# gradient is their mean; a mini-batch of B distinct examples averages B rows.  Drawing a
# batch is a row of a matrix ``S`` (K x N) holding ``1/B`` at the B chosen examples and 0
# elsewhere, so ``S @ G`` is K mini-batch gradients at once.
#
# Sampling *without* replacement (as an epoch's shuffle does) makes the batches a little
# less noisy than ``sigma^2 / B``: the finite-population correction ``(N - B) / (N - 1)``
# (0.76 at B = 256 of 1077; exactly 0 at B = N, where every "batch" is the full set).

# %%
def per_example_gradients(model, params, x, y) -> np.ndarray:
    """(N, P): the gradient of each example's loss, flattened, in float64."""
    def gradient(xi, yi):
        one = jax.grad(lambda p: losses.softmax_cross_entropy(model.apply(p, xi[None]), yi[None]))(params)
        return jax.flatten_util.ravel_pytree(one)[0]

    return np.asarray(jax.jit(jax.vmap(gradient))(x, y), np.float64)


def minibatch_gradients(gradients: np.ndarray, batch: int, draws: int, rng) -> np.ndarray:
    """(draws, P): the average gradient of ``draws`` mini-batches of ``batch`` distinct examples."""
    n = len(gradients)
    chosen = np.argsort(rng.random((draws, n)), axis=1)[:, :batch]   # B distinct examples per row
    selector = np.zeros((draws, n), np.float32)
    np.put_along_axis(selector, chosen, 1.0 / batch, axis=1)
    return (selector @ gradients.astype(np.float32)).astype(np.float64)


def gradient_statistics(gradients: np.ndarray, batch_sizes, draws: int, rng) -> dict:
    n = len(gradients)
    full = gradients.mean(axis=0)
    sigma2 = float(np.mean(np.sum((gradients - full) ** 2, axis=1)))
    rows = []
    for b in batch_sizes:
        g_b = minibatch_gradients(gradients, b, draws, rng)
        average = g_b.mean(axis=0)
        squared_deviations = np.sum((g_b - average) ** 2, axis=1) * draws / (draws - 1)
        trace = float(squared_deviations.mean())               # sum of the coordinates' variances
        standard_error = float(squared_deviations.std(ddof=1) / math.sqrt(draws))
        formula = sigma2 / b * (n - b) / (n - 1)
        relative_error = float(np.linalg.norm(average - full) / np.linalg.norm(full))
        noise_level = math.sqrt(trace / draws) / float(np.linalg.norm(full))
        rows.append({"batch_size": b, "trace": trace, "trace_standard_error": standard_error, "formula": formula,
                     "trace_over_formula": trace / formula, "z": (trace - formula) / standard_error,
                     "z_without_correction": (trace - sigma2 / b) / standard_error,
                     "corrected_trace": trace * (n - 1) / (n - b), "relative_error": relative_error,
                     "noise_level": noise_level, "bias_ratio": relative_error / noise_level})
        print(f"  B = {b:3d}: trace of Cov(g_B) {trace:8.4f} +- {standard_error:.4f} (formula {formula:8.4f}, "
              f"{(trace - formula) / standard_error:+5.1f} s.e.); average of {draws} draws off by "
              f"{100 * relative_error:5.2f}% of ||g|| (noise alone: {100 * noise_level:5.2f}%)")
    log_b = np.log([r["batch_size"] for r in rows])
    corrected = np.polyfit(log_b, np.log([r["corrected_trace"] for r in rows]), 1)[0]
    raw = np.polyfit(log_b, np.log([r["trace"] for r in rows]), 1)[0]
    return {"n": n, "n_params": gradients.shape[1], "sigma2": sigma2, "full_gradient_norm": float(np.linalg.norm(full)),
            "draws": draws, "rows": rows, "slope_corrected": float(corrected), "slope_raw": float(raw)}


# %% [markdown]
# ## Part 2: training at every batch size, and timing the compiled epoch
#
# `train.fit` compiles one epoch per batch size (a ``lax.scan`` over the batches).  After
# all the fits, the *same* compiled epochs (``train.train_epoch``, cached by model, loss,
# optimizer and batch size: nothing recompiles) are timed in rounds of a few epochs, the
# batch sizes taking turns so that other work on the machine slows them all alike; the
# fastest round of each gives its examples per second.  An epoch uses ``(N // B) * B``
# examples (the remainder is dropped).

# %%
def train_per_batch_size(model, optimizer, params, ds, batch_sizes, epochs: int, seed: int) -> list[dict]:
    x, y = jnp.asarray(ds.train[0]), jnp.asarray(ds.train[1])
    runs = []
    for b in batch_sizes:
        _, history = train.fit(model, params, "softmax_cross_entropy", optimizer, x, y, epochs=epochs,
                               batch_size=b, key=jax.random.key(seed + 1), validation=ds.val, progress=False)
        runs.append({"batch_size": b, "steps_per_epoch": len(x) // b, "val_accuracy": history["val_accuracy"]})
        print(f"  B = {b:4d}: {len(x) // b:4d} steps an epoch; validation accuracy per epoch "
              f"{np.round(history['val_accuracy'], 3).tolist()}")
    return runs


def examples_per_second(model, optimizer, params, x, y, batch_sizes, seed: int) -> dict[int, float]:
    """The best of ``TIMING_ROUNDS`` rounds (each >= ``TIMING_EXAMPLES`` examples) per batch size."""
    goal = train.objective(model, "softmax_cross_entropy")
    x, y = jnp.asarray(x), jnp.asarray(y)
    states = {b: train.init_state(jax.tree.map(jnp.copy, params), optimizer, jax.random.key(seed))
              for b in batch_sizes}
    best = {b: math.inf for b in batch_sizes}
    for round_ in range(TIMING_ROUNDS):
        for b in batch_sizes:
            epochs = math.ceil(TIMING_EXAMPLES / ((len(x) // b) * b))
            begin = time.perf_counter()
            for e in range(epochs):
                states[b], result = train.train_epoch(goal, optimizer, states[b], x, y, batch_size=b,
                                                      epoch=round_ * epochs + e)
            result.loss.block_until_ready()
            best[b] = min(best[b], (time.perf_counter() - begin) / epochs)
    return {b: (len(x) // b) * b / best[b] for b in batch_sizes}


# %% [markdown]
# What to expect on a CPU: B = 1 is a matrix-vector product, which XLA runs nearly as well
# per multiply-add as a matrix product, so batches of 2-4 are no faster (often a little
# slower); from B ~ 8 the matrix products pay off, and past B ~ 64-128 the throughput
# levels off: the processor is busy multiplying, and a bigger batch only means fewer steps.
#
# ## Figures: the noise against B, the speed against B, the learning curves

# %%
def plot_variance(stats: dict, path) -> None:
    rows = stats["rows"]
    b = np.array([r["batch_size"] for r in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.errorbar(b, [r["trace"] for r in rows], yerr=[2 * r["trace_standard_error"] for r in rows], fmt="o",
                  color="C0", markersize=5, label="measured trace of Cov(g_B), +- 2 s.e.")
    left.set(xscale="log", yscale="log")
    left.loglog(b, [r["corrected_trace"] for r in rows], "s", color="C2", markerfacecolor="none",
                label="measured x (N-1)/(N-B)")
    dense = np.geomspace(b.min(), b.max(), 100)
    n, sigma2 = stats["n"], stats["sigma2"]
    left.loglog(dense, sigma2 / dense, "k--", linewidth=1, label="sigma^2 / B (slope -1)")
    left.loglog(dense, sigma2 / dense * (n - dense) / (n - 1), "C0:", linewidth=1,
                label="sigma^2 / B (N-B)/(N-1), without replacement")
    left.set(title=f"Gradient noise falls like 1/B (slope {stats['slope_corrected']:.3f} corrected, "
                   f"{stats['slope_raw']:.3f} raw)",
             xlabel="batch size B (log scale)", ylabel="trace of Cov(g_B) (squared gradient units, log)")
    right.loglog(b, [100 * r["relative_error"] for r in rows], "o", color="C1",
                 label=f"||average of {stats['draws']} draws - g|| / ||g||")
    right.loglog(b, [100 * r["noise_level"] for r in rows], "k--", linewidth=1,
                 label=f"noise alone: sqrt(trace / {stats['draws']}) / ||g||")
    right.set(title="Unbiased: the average of many g_B tends to g",
              xlabel="batch size B (log scale)", ylabel="relative error (% of ||g||, log scale)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Digits MLP at its initial weights: {stats['draws']} mini-batches per B, N = {n} "
                 f"examples, {stats['n_params']} weights", fontsize=10)
    save_figure(fig, path)


def plot_throughput(runs: list[dict], largest: int, speedup: float, path) -> None:
    fig, ax = figure(f"Throughput on 2 CPU cores: B = {largest} runs {speedup:.1f}x B = 1", "batch size B (log scale)",
                     "training examples per second (log scale)", xscale="log", yscale="log")
    b = [r["batch_size"] for r in runs]
    speed = [r["examples_per_second"] for r in runs]
    ax.plot(b, speed, "o-", color="C0", label=f"compiled train.fit epoch, best of {TIMING_ROUNDS} rounds")
    ax.plot(b, speed[0] * np.array(b, float), "k:", linewidth=1,
            label="if a step cost the same at any B (examples/s ~ B)")
    ax.set_ylim(0.5 * min(speed), 5 * max(speed))
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def plot_validation(runs: list[dict], n_train: int, path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    for r, color in zip(runs, colors):
        epochs = np.arange(1, len(r["val_accuracy"]) + 1)
        accuracy = 100 * np.array(r["val_accuracy"])
        label = f"B = {r['batch_size']}" + (" (full batch)" if r["batch_size"] == n_train else "")
        left.plot(epochs, accuracy, "o-", color=color, markersize=3)
        seconds = epochs * r["steps_per_epoch"] * r["batch_size"] / r["examples_per_second"]
        right.semilogx(1000 * seconds, accuracy, "o-", color=color, markersize=3, label=label)
    left.set(title=f"Per example seen, small batches learn more (SGD, lr {LEARNING_RATE})",
             xlabel=f"epoch (one pass over the {n_train} training images)", ylabel="validation accuracy (%)")
    left.set_xticks(np.arange(1, len(runs[0]["val_accuracy"]) + 1))
    right.set(title="The same runs against compute time",
              xlabel="training time (ms, log scale; epochs x examples / examples per s)",
              ylabel="validation accuracy (%)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 100)
    right.legend(fontsize=7, loc="lower right", ncol=2, title="colours of both panels", title_fontsize=7)
    save_figure(fig, path)


# %% [markdown]
# ## Verdict
#
# Unbiased and 1/B for the noise; more examples per second for larger batches; more
# progress per example for smaller ones.  The batch size trades the one against the other.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    ds = datasets.load("digits")
    x, y = ds.train
    model = models.mlp([HIDDEN, 10])
    _, params = model.init(jax.random.key(run.seed), (x.shape[1],))
    batch_sizes = QUICK_BATCH_SIZES if run.quick else BATCH_SIZES

    print(f"Part 1: gradient statistics at the initial weights ({len(x)} examples)")
    gradients = per_example_gradients(model, params, jnp.asarray(x), jnp.asarray(y))
    stats = gradient_statistics(gradients, batch_sizes, QUICK_DRAWS if run.quick else N_DRAWS,
                                np.random.default_rng(run.seed))
    print(f"  log-log slope of the trace against B: {stats['slope_corrected']:.4f} after the correction "
          f"(N-1)/(N-B), {stats['slope_raw']:.4f} without it\n")
    plot_variance(stats, run.out / "gradient_variance.png")

    epochs = QUICK_EPOCHS if run.quick else EPOCHS
    print(f"\nPart 2: plain SGD (lr {LEARNING_RATE}) for {epochs} epochs at each batch size, and its speed")
    optimizer = optim.sgd(LEARNING_RATE)   # one object: each batch size compiles its epoch once
    trained = batch_sizes if run.quick else (*batch_sizes, len(x))
    runs = train_per_batch_size(model, optimizer, params, ds, trained, epochs, run.seed)
    speeds = examples_per_second(model, optimizer, params, x, y, trained, run.seed + 2)
    for r in runs:
        r["examples_per_second"] = speeds[r["batch_size"]]
    print("  examples/s: " + ", ".join(f"B = {b}: {v:.3g}" for b, v in speeds.items()))
    by_b = {r["batch_size"]: r for r in runs}
    speedup = by_b[max(batch_sizes)]["examples_per_second"] / by_b[1]["examples_per_second"]
    plot_throughput(runs, max(batch_sizes), speedup, run.out / "throughput.png")
    plot_validation(runs, len(x), run.out / "validation_curves.png")

    small = max(r["val_accuracy"][-1] for r in runs if r["batch_size"] <= 16)   # B = 1 alone in --quick
    gap = 100 * (small - by_b[max(batch_sizes)]["val_accuracy"][-1])
    bias = max(r["bias_ratio"] for r in stats["rows"])
    trace_error = max(abs(r["trace_over_formula"] - 1) for r in stats["rows"])
    worst_z = max(abs(r["z"]) for r in stats["rows"])
    results = {"gradient_statistics": stats, "runs": runs, "speedup": speedup, "accuracy_gap_points": gap,
               "trace_largest_relative_error": trace_error, "trace_largest_z": worst_z,
               "best_small_batch_val_accuracy": small, "learning_rate": LEARNING_RATE, "epochs": epochs}
    checks = [
        check("largest relative error of the average of the draws / its noise level (ratio)", bias, "<=", BIAS_RATIO),
        check("largest |measured trace - formula| over B (standard errors of the measured trace)", worst_z, "<=",
              TRACE_Z),
        check("|log-log slope of the corrected trace against B + 1|", abs(stats["slope_corrected"] + 1), "<=",
              SLOPE_TOLERANCE),
        check(f"examples/s at B = {max(batch_sizes)} / at B = 1 (ratio)", speedup, ">=", SPEEDUP),
        check(f"validation accuracy after {epochs} epochs: best B <= 16 minus B = {max(batch_sizes)} (points)", gap,
              ">=", ACCURACY_GAP_POINTS),
    ]
    return finish(run, results,
                  f"trace of Cov(g_B) slope {stats['slope_corrected']:.3f} against B (corrected; raw "
                  f"{stats['slope_raw']:.3f}), within {100 * trace_error:.1f}% ({worst_z:.1f} s.e.) of "
                  f"sigma^2/B (N-B)/(N-1), "
                  f"average of draws within {bias:.2f}x its noise; B = {max(batch_sizes)} runs {speedup:.1f}x the "
                  f"examples/s of B = 1; after {epochs} epochs B <= 16 reaches {100 * small:.1f}% validation "
                  f"accuracy, {gap:.1f} points above B = {max(batch_sizes)}", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
