"""KAUST Academy, Neural Networks, "Architectures" (RNN and variants); Hochreiter & Schmidhuber 1997: on a long-lag task the LSTM learns and the tanh RNN does not.

Setup: the adding problem (Hochreiter & Schmidhuber 1997, experiment 4; in the form of Le,
Jaitly & Hinton 2015): each input is a sequence of ``T`` pairs ``(value, marker)``, values
uniform in [0, 1], exactly two markers equal to 1 (one in each half of the sequence); the
target is the sum of the two marked values.  Predicting the mean, 1, has MSE
``Var = 2/12 ≈ 0.167`` (the trivial baseline): a model must carry a value across up to
``T - 1`` steps to beat it.

Run: ``models.rnn_regressor(32, 1, cell=...)`` with a tanh and with an LSTM cell, trained by
``train.fit`` with the same data, keys and budget (Adam 1e-2, batch 32, 6 epochs of 10,000
sequences, T = 100).

Measurement: the test MSE after every epoch (``test_mse.png``), and how much gradient
reaches the first step.  Through a tanh RNN the gradient of the loss with respect to an
early input is a product of ``T`` Jacobians ``W_h^T diag(1 - h_t^2)`` and shrinks
geometrically with the lag (Bengio, Simard & Frasconi 1994; Pascanu et al. 2013); the LSTM's
additive cell state ``c_t = f c_{t-1} + i g`` passes it on multiplied only by the forget
gates, which training can open (``f -> 1``).  The script prints that reach,
``||dL/dx_1|| / ||dL/dx_T||``, computed by the hand-derived BPTT of ``model.backward``,
before and after training: at init both vanish (the LSTM's forget gate starts at
sigmoid(1) = 0.73, and 0.73^99 is tiny), after training the LSTM's is of order 1 and the
tanh RNN's smaller still.

Verdict: reproduced when the LSTM's test MSE is below ``LSTM_SUCCESS_MSE`` and the tanh
RNN's stays above ``TANH_FAILURE_FRACTION`` of the baseline.

    python experiments/lstm_vs_rnn.py [--quick] [--seed 0] [--out runs/lstm_vs_rnn]
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from common import figure, finish, save_figure, start, timed

from jaxnn import losses, models, optim, train

# The LSTM has learned the task when its test MSE is below 0.01, 6% of the baseline's
# (Hochreiter & Schmidhuber's criterion, every absolute error below 0.04, is stricter).
LSTM_SUCCESS_MSE = 0.01
# The tanh RNN has failed when it removes less than half of the baseline's error.
TANH_FAILURE_FRACTION = 0.5
HIDDEN = 32
LENGTH, EPOCHS, N_TRAIN = 100, 6, 10_000           # full run
QUICK_LENGTH, QUICK_EPOCHS, QUICK_N_TRAIN = 20, 2, 2_000
N_TEST, BATCH_SIZE, LEARNING_RATE = 2_000, 32, 1e-2
REACH_EXAMPLES = 256   # test sequences the gradient reach is averaged over


# --- setup ----------------------------------------------------------------------------------

def adding_problem(key: jax.Array, n: int, length: int) -> tuple[jax.Array, jax.Array]:
    """``n`` adding-problem sequences: x (n, length, 2) = (value, marker), y (n, 1) = marked sum.

    One marker is uniform over the first half of the steps, the other over the second half.
    Same key => same data (the style of `jaxnn.datasets`' synthetic sets).
    """
    if length < 2:
        raise ValueError(f"adding_problem: length must be >= 2, got {length}")
    value_key, first_key, second_key = jax.random.split(key, 3)
    values = jax.random.uniform(value_key, (n, length))
    first = jax.random.randint(first_key, (n,), 0, length // 2)
    second = jax.random.randint(second_key, (n,), length // 2, length)
    markers = jax.nn.one_hot(first, length) + jax.nn.one_hot(second, length)
    return jnp.stack([values, markers], axis=-1), jnp.sum(values * markers, axis=1, keepdims=True)


# --- measurement ----------------------------------------------------------------------------

def gradient_reach(model, params, x, y) -> float:
    """``mean_n ||dL/dx_{n,1}|| / mean_n ||dL/dx_{n,T}||``: how much gradient reaches step 1.

    Uses the hand-derived backward (BPTT) of the model with the MSE output delta.
    """
    delta = losses.get("mse").grad(model.apply(params, x), y)
    _, dx = model.backward(params, x, delta)
    per_step = jnp.linalg.norm(dx, axis=-1).mean(axis=0)      # (T,)
    return float(per_step[0] / per_step[-1])


# --- run ------------------------------------------------------------------------------------

def train_cell(cell: str, train_data, test_data, length: int, epochs: int, seed: int) -> dict:
    """Train ``rnn_regressor`` with ``cell``; its test MSE per epoch, gradient reach and time."""
    model = models.rnn_regressor(HIDDEN, 1, cell=cell)
    _, params = model.init(jax.random.key(seed + 2), (length, 2))
    x_reach, y_reach = test_data[0][:REACH_EXAMPLES], test_data[1][:REACH_EXAMPLES]
    reach = gradient_reach(model, params, x_reach, y_reach)
    (params, history), seconds = timed(
        train.fit, model, params, "mse", optim.adam(LEARNING_RATE), *train_data, epochs=epochs,
        batch_size=BATCH_SIZE, key=jax.random.key(seed + 3), validation=test_data, progress=False)
    return {"test_mse": history["val_loss"][-1], "test_mse_per_epoch": history["val_loss"],
            "gradient_reach_at_init": reach, "gradient_reach_trained": gradient_reach(model, params, x_reach, y_reach),
            "seconds": seconds, "n_params": models.count_params(params)}


def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    length, epochs, n_train = (QUICK_LENGTH, QUICK_EPOCHS, QUICK_N_TRAIN) if run.quick else (LENGTH, EPOCHS, N_TRAIN)

    train_data = adding_problem(jax.random.key(run.seed), n_train, length)
    test_data = adding_problem(jax.random.key(run.seed + 1), N_TEST, length)
    baseline = float(jnp.mean((test_data[1] - 1.0) ** 2))
    print(f"adding problem, T = {length}: {n_train} training and {N_TEST} test sequences; "
          f"baseline (predict 1) test MSE = {baseline:.4f} (theory 1/6 = 0.1667)\n")

    cells = {}
    for cell in ("tanh", "lstm"):
        cells[cell] = r = train_cell(cell, train_data, test_data, length, epochs, run.seed)
        print(f"{cell:>4} RNN: test MSE per epoch {' '.join(f'{v:.4f}' for v in r['test_mse_per_epoch'])}")
        print(f"      final test MSE {r['test_mse']:.4f} = {r['test_mse'] / baseline:.3f} x baseline; "
              f"||dL/dx_1|| / ||dL/dx_T|| = {r['gradient_reach_at_init']:.1e} at init, "
              f"{r['gradient_reach_trained']:.1e} trained; {r['n_params']} params; {r['seconds']:.1f} s")
    results = {"length": length, "epochs": epochs, "baseline_mse": baseline, "cells": cells}

    fig, ax = figure(f"Adding problem, T = {length}: test MSE per epoch", "epoch", "test MSE (log scale)",
                     yscale="log")
    for cell, label in (("tanh", "tanh RNN"), ("lstm", "LSTM")):
        ax.plot(range(1, epochs + 1), cells[cell]["test_mse_per_epoch"], marker="o", label=label)
    ax.axhline(baseline, color="k", linestyle="--", linewidth=0.8, label="baseline: predict 1")
    ax.axhline(LSTM_SUCCESS_MSE, color="k", linestyle=":", linewidth=0.8, label="LSTM success threshold")
    ax.set_xticks(range(1, epochs + 1))
    save_figure(fig, run.out / "test_mse.png")

    tanh_mse, lstm_mse = cells["tanh"]["test_mse"], cells["lstm"]["test_mse"]
    reproduced = lstm_mse < LSTM_SUCCESS_MSE and tanh_mse > TANH_FAILURE_FRACTION * baseline
    return finish(run, results, f"T={length} test MSE tanh {tanh_mse:.4f}, LSTM {lstm_mse:.4f}, baseline "
                  f"{baseline:.4f} (claim: LSTM < {LSTM_SUCCESS_MSE}, tanh > {TANH_FAILURE_FRACTION} x baseline); "
                  f"training {cells['tanh']['seconds']:.1f} s + {cells['lstm']['seconds']:.1f} s", reproduced)


if __name__ == "__main__":
    raise SystemExit(main())
