"""IIT Mandi, Introduction to Neural Networks, "Activation Functions" (a single-layer network is a generalized linear model); HSE, Neural Networks, "Can it be another linear model?"; Minsky & Papert 1969, CS231n "Minimal Neural Network Case Study": XOR and interleaved spirals defeat a linear classifier and fall to one hidden layer.

Setup: XOR's 4 points and 400 noisy XOR samples (`datasets.xor`, noise 0.1), fitted by a
linear classifier (`models.mlp([1])`, sigmoid cross-entropy) and by one hidden layer of 3
tanh units (`models.mlp([3, 1], "tanh")`); CS231n's spirals (3 classes of 100 points,
generated here with numpy as in the notes) fitted by a softmax classifier (`mlp([3])`) and
by a 100-unit ReLU layer (`mlp([100, 3])`), trained as CS231n trains them (full-batch
gradient descent, step 1, L2 1e-3).

Run: XOR by Adam (full batch, 300 steps, from 10 seeds for the hidden layer); noisy XOR by
Adam (batch 40, 100 epochs; a fresh 400-point test set); spirals by `optim.sgd(1.0)` on all
300 points with ``l2=1e-3`` (CS231n's ``0.5 * reg * sum(W * W)``), 200 steps for the softmax
and 10000 for the ReLU net, as in the notes.

Measurement: XOR: the linear classifier's accuracy after training and the best accuracy of
100,000 random lines on the 4 points, and how many of the hidden layer's seeds reach 100%;
noisy XOR: test accuracies; spirals: training accuracies (as CS231n reports them: ~49% and
~98%).  ``decision_regions.png`` shows each model's regions with the points.

Verdict: reproduced when no line gets more than 3 of XOR's 4 points (``LINEAR_XOR_MAX``)
while ``HIDDEN_SOLVES_FRACTION`` of the hidden-layer seeds get all 4; the linear classifier
stays at or below ``LINEAR_XOR_MAX`` on noisy XOR and the hidden layer reaches
``HIDDEN_NOISY_TARGET``; the softmax stays below ``SOFTMAX_SPIRAL_MAX`` and the ReLU net
exceeds ``RELU_SPIRAL_MIN`` on the spirals.

    python experiments/xor_and_spirals.py [--quick] [--seed 0] [--out runs/xor_and_spirals]
"""
# %% [markdown]
# # XOR and spirals need a hidden layer
#
# A network without hidden layers computes ``sigmoid(x W + b)`` or ``softmax(x W + b)``: a
# generalized linear model (IIT Mandi, "Activation Functions"), whose classes are split by
# straight lines.  Minsky and Papert (1969) made the point with XOR: no line puts (0, 1) and
# (1, 0) on one side and (0, 0) and (1, 1) on the other.  One hidden layer with a
# nonlinearity bends the boundary (HSE, "Can it be another linear model?": the fix is
# ``w^T g(W x)``).  CS231n's case study shows the same on three interleaved spirals: a
# softmax classifier reaches ~49% training accuracy, a 100-unit ReLU layer ~98%.

# %%
from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from common import check, exit_with, finish, save_figure, start, timed

from jaxnn import datasets, models, optim, train

# A line splits 4 points in general position 14 of the 16 ways; XOR's labelling is not one
# of them, so the best line gets 3 of 4.  On noisy XOR samples the same holds per quadrant.
LINEAR_XOR_MAX = 0.75
# Small XOR nets have bad local minima (a seed in ten or twenty ends at 50%); most seeds
# must solve it.
HIDDEN_SOLVES_FRACTION = 0.8
# Noise 0.1 pushes ~8% of the samples across an axis while their label stays: ~92% is the
# best possible; 3 tanh units get ~90%.
HIDDEN_NOISY_TARGET = 0.85
# CS231n: the softmax classifier gets ~49%, the 100-unit ReLU net ~98% (training accuracy).
SOFTMAX_SPIRAL_MAX = 0.60
RELU_SPIRAL_MIN = 0.95

XOR_POINTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
XOR_LABELS = np.array([0, 1, 1, 0])
HIDDEN = (3, 1)                       # 2-3-1, tanh
XOR_STEPS, XOR_SEEDS, XOR_LEARNING_RATE = 300, 10, 0.1
N_RANDOM_LINES = 100_000
NOISY_N, NOISY_NOISE = 400, 0.1
NOISY_EPOCHS, NOISY_BATCH, NOISY_LEARNING_RATE = 100, 40, 0.02
SPIRAL_POINTS_PER_CLASS, SPIRAL_CLASSES = 100, 3
SPIRAL_STEP_SIZE, SPIRAL_REG = 1.0, 1e-3        # CS231n's step_size and reg
SOFTMAX_STEPS, RELU_STEPS, RELU_WIDTH = 200, 10_000, 100   # CS231n's
QUICK_SEEDS, QUICK_STEPS, QUICK_EPOCHS = 1, 20, 3   # --quick: checks the script, not the claim
BINARY_LOSS, MULTICLASS_LOSS = "sigmoid_binary_cross_entropy", "softmax_cross_entropy"
GRID_POINTS = 200


# %% [markdown]
# ## Setup: the spirals of CS231n
#
# CS231n's generator: class ``k`` has radii ``r = linspace(0, 1, N)`` and angles
# ``t = linspace(4k, 4(k + 1), N) + 0.2 * randn(N)``, points ``(r sin t, r cos t)``.
# `jaxnn.datasets.spirals` draws a different spiral (each arm a full turn, ``2 pi r``,
# arms ``2 pi / K`` apart, Gaussian noise on the coordinates rather than on the angle),
# so the notes' data is generated here.

# %%
def cs231n_spirals(rng: np.random.Generator, n_per_class: int, n_classes: int):
    """CS231n's spiral data: ``x (N K, 2)`` float32, ``y (N K,)`` int32 labels."""
    x = np.zeros((n_per_class * n_classes, 2))
    y = np.zeros(n_per_class * n_classes, dtype=np.int32)
    for k in range(n_classes):
        rows = slice(n_per_class * k, n_per_class * (k + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + rng.standard_normal(n_per_class) * 0.2
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = k
    return x.astype(np.float32), y


# %% [markdown]
# ## Run: training
#
# One logit for the two-class problems (class 1 iff the logit is positive), one per class
# for the spirals (the largest wins).  Each optimizer is one object so that `fit` reuses a
# model's compiled epoch across seeds.

# %%
XOR_OPTIMIZER = optim.adam(XOR_LEARNING_RATE)
NOISY_OPTIMIZER = optim.adam(NOISY_LEARNING_RATE)
SPIRAL_OPTIMIZER = optim.sgd(SPIRAL_STEP_SIZE)


def fit(model, x, y, loss, optimizer, *, epochs: int, batch_size: int, seed: int, l2: float = 0.0):
    """``model`` from a fresh init with ``seed``, trained; returns ``(params, seconds)``."""
    _, params = model.init(jax.random.key(seed), (x.shape[1],))
    (params, _), seconds = timed(train.fit, model, params, loss, optimizer, x, y, epochs=epochs,
                                 batch_size=batch_size, key=jax.random.key(1000 + seed), l2=l2, progress=False)
    return params, seconds


def predicted_classes(model, params, x) -> np.ndarray:
    """Class per row: ``logit > 0`` for one output, ``argmax`` for several."""
    out = np.asarray(train.predict(model, params, jnp.asarray(x)))
    return (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)


def accuracy(model, params, x, y) -> float:
    return float(np.mean(predicted_classes(model, params, x) == np.asarray(y)))


def as_column(y) -> jnp.ndarray:
    """Binary labels as the float column ``(N, 1)`` the sigmoid cross-entropy takes."""
    return jnp.asarray(y, jnp.float32)[:, None]


# %% [markdown]
# ## Measurement 1: XOR's four points
#
# The trained linear classifier, and 100,000 random lines ``w . x + b = 0`` (``w``, ``b``
# standard normal): none should classify more than 3 of the 4 points.  The trained one
# is telling: by symmetry the best logistic fit to XOR is ``W = 0, b = 0``, probability
# 1/2 for every point, so gradient descent drives every logit to ~0 and which points land
# on which side is round-off.  Then the hidden layer from several seeds.

# %%
def best_random_line(rng: np.random.Generator, n_lines: int) -> float:
    """The best accuracy on XOR's points of ``n_lines`` random lines (either side class 1)."""
    w, b = rng.standard_normal((n_lines, 2)), rng.standard_normal(n_lines)
    predictions = (XOR_POINTS @ w.T + b) > 0                  # (4, n_lines)
    return float((predictions == XOR_LABELS[:, None]).mean(axis=0).max())


def xor_points(seed: int, steps: int, n_seeds: int) -> dict:
    linear, hidden = models.mlp([1]), models.mlp(list(HIDDEN), activation="tanh")
    x, y = XOR_POINTS, as_column(XOR_LABELS)
    linear_params, _ = fit(linear, x, y, BINARY_LOSS, XOR_OPTIMIZER, epochs=steps, batch_size=4, seed=seed)
    hidden_runs = []
    for s in range(seed, seed + n_seeds):
        params, seconds = fit(hidden, x, y, BINARY_LOSS, XOR_OPTIMIZER, epochs=steps, batch_size=4, seed=s)
        hidden_runs.append({"seed": s, "accuracy": accuracy(hidden, params, x, XOR_LABELS), "seconds": seconds,
                            "_params": params})
    shown = next((r for r in hidden_runs if r["accuracy"] == 1.0), hidden_runs[0])
    out = {
        "linear_accuracy": accuracy(linear, linear_params, x, XOR_LABELS),
        "linear_logits": np.asarray(train.predict(linear, linear_params, x)).ravel().tolist(),
        "best_random_line_accuracy": best_random_line(np.random.default_rng(seed), N_RANDOM_LINES),
        "hidden_accuracy_per_seed": [r["accuracy"] for r in hidden_runs],
        "hidden_solved_fraction": float(np.mean([r["accuracy"] == 1.0 for r in hidden_runs])),
        "shown_hidden_seed": shown["seed"], "shown_hidden_accuracy": shown["accuracy"],
        "_models": {"linear": (linear, linear_params), "hidden": (hidden, shown["_params"])},
    }
    print(f"XOR, 4 points: linear classifier {out['linear_accuracy']:.2f} (logits "
          f"{', '.join(f'{z:.2g}' for z in out['linear_logits'])}), best of {N_RANDOM_LINES:,} random lines "
          f"{out['best_random_line_accuracy']:.2f}; 2-3-1 tanh reaches 100% from "
          f"{sum(a == 1.0 for a in out['hidden_accuracy_per_seed'])} of {n_seeds} seeds")
    return out


# %% [markdown]
# ## Measurement 2: noisy XOR samples
#
# `datasets.xor` draws points in the four quadrants of ``[-1, 1]^2``, labelled by the
# quadrant (1 iff ``x1 x2 < 0``), then adds Gaussian noise.  Accuracies on fresh points.

# %%
def noisy_xor(seed: int, epochs: int) -> dict:
    train_key, test_key = jax.random.split(jax.random.key(seed))
    x_train, y_train = datasets.xor(train_key, NOISY_N, noise=NOISY_NOISE)
    x_test, y_test = datasets.xor(test_key, NOISY_N, noise=NOISY_NOISE)
    out = {"x_test": x_test, "y_test": y_test, "_models": {}}
    for name, model in (("linear", models.mlp([1])), ("hidden", models.mlp(list(HIDDEN), activation="tanh"))):
        params, seconds = fit(model, x_train, as_column(y_train), BINARY_LOSS, NOISY_OPTIMIZER, epochs=epochs,
                              batch_size=NOISY_BATCH, seed=seed)
        out[f"{name}_test_accuracy"] = accuracy(model, params, x_test, y_test)
        out[f"{name}_seconds"] = seconds
        out["_models"][name] = (model, params)
    print(f"noisy XOR ({NOISY_N} points, noise {NOISY_NOISE}): test accuracy linear "
          f"{out['linear_test_accuracy']:.3f}, 2-3-1 tanh {out['hidden_test_accuracy']:.3f}")
    return out


# %% [markdown]
# ## Measurement 3: CS231n's spirals
#
# Full-batch gradient descent with CS231n's step size and regularization; training
# accuracy, as the notes report it.

# %%
def spirals(seed: int, softmax_steps: int, relu_steps: int) -> dict:
    x, y = cs231n_spirals(np.random.default_rng(seed), SPIRAL_POINTS_PER_CLASS, SPIRAL_CLASSES)
    out = {"x": x, "y": y, "_models": {}}
    for name, model, steps in (("softmax", models.mlp([SPIRAL_CLASSES]), softmax_steps),
                               ("relu", models.mlp([RELU_WIDTH, SPIRAL_CLASSES]), relu_steps)):
        params, seconds = fit(model, x, y, MULTICLASS_LOSS, SPIRAL_OPTIMIZER, epochs=steps, batch_size=len(x),
                              seed=seed, l2=SPIRAL_REG)
        out[f"{name}_train_accuracy"] = accuracy(model, params, x, y)
        out[f"{name}_steps"], out[f"{name}_seconds"] = steps, seconds
        out["_models"][name] = (model, params)
    print(f"CS231n spirals ({len(x)} points): training accuracy softmax {out['softmax_train_accuracy']:.3f} "
          f"({softmax_steps} steps), {RELU_WIDTH}-unit ReLU {out['relu_train_accuracy']:.3f} ({relu_steps} steps, "
          f"{out['relu_seconds']:.1f} s)")
    return out


# %% [markdown]
# ## Figure: the decision regions
#
# Each panel colours the plane by the predicted class and shows the points.

# %%
CLASS_COLORS = ("tab:blue", "tab:orange", "tab:green")


def draw_panel(ax, model, params, x, y, title: str, *, limits=None, marker_size: float = 8,
               legend: bool = False):
    x, y = np.asarray(x), np.asarray(y)
    if limits is None:
        low, high = x.min(axis=0), x.max(axis=0)
        pad = 0.1 * (high - low)
        limits = (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])
    xx, yy = np.meshgrid(np.linspace(limits[0], limits[1], GRID_POINTS), np.linspace(limits[2], limits[3], GRID_POINTS))
    classes = predicted_classes(model, params, np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32))
    n_classes = int(y.max()) + 1
    ax.contourf(xx, yy, classes.reshape(xx.shape), levels=np.arange(n_classes + 1) - 0.5,
                colors=CLASS_COLORS[:n_classes], alpha=0.2)
    for k in range(n_classes):
        ax.scatter(x[y == k, 0], x[y == k, 1], s=marker_size, color=CLASS_COLORS[k], edgecolors="k",
                   linewidths=0.3, label=f"class {k}" if legend else None)
    ax.set(title=title, xlabel="x1", ylabel="x2", xlim=limits[:2], ylim=limits[2:])


def regions_figure(xor: dict, noisy: dict, spiral: dict, path):
    fig, axes = plt.subplots(3, 2, figsize=(9.5, 13))
    for col, name in enumerate(("linear", "hidden")):
        label = "linear classifier (mlp([1]))" if name == "linear" else "one hidden layer, 3 tanh units"
        model, params = xor["_models"][name]
        if name == "linear":
            largest = max(abs(z) for z in xor["linear_logits"])
            detail = f"accuracy {xor['linear_accuracy']:.0%} (logits <= {largest:.0e}: p = 0.5 everywhere)"
        else:
            detail = f"accuracy {xor['shown_hidden_accuracy']:.0%} (seed {xor['shown_hidden_seed']})"
        draw_panel(axes[0, col], model, params, XOR_POINTS, XOR_LABELS,
                   f"XOR, 4 points: {label}\n{detail}", limits=(-0.5, 1.5, -0.5, 1.5),
                   marker_size=160, legend=col == 0)
        model, params = noisy["_models"][name]
        draw_panel(axes[1, col], model, params, noisy["x_test"], noisy["y_test"],
                   f"noisy XOR: {label}\ntest accuracy {noisy[f'{name}_test_accuracy']:.1%}", legend=col == 0)
    for col, name in enumerate(("softmax", "relu")):
        model, params = spiral["_models"][name]
        label = "softmax classifier" if name == "softmax" else f"{RELU_WIDTH}-unit ReLU layer"
        draw_panel(axes[2, col], model, params, spiral["x"], spiral["y"],
                   f"CS231n spirals: {label}\ntraining accuracy {spiral[f'{name}_train_accuracy']:.1%}",
                   legend=col == 0)
    fig.suptitle("A linear classifier draws straight boundaries; one hidden layer bends them\n"
                 "(shading: predicted class; dots: the points, coloured by their true class)")
    save_figure(fig, path)


def public(results: dict) -> dict:
    """The results without fitted models and data (keys starting with ``_``, ``x``, ``y``)."""
    return {k: public(v) if isinstance(v, dict) else v for k, v in results.items()
            if not k.startswith("_") and k not in ("x", "y", "x_test", "y_test")}


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    if run.quick:
        xor_steps, n_seeds, noisy_epochs, softmax_steps, relu_steps = QUICK_STEPS, QUICK_SEEDS, QUICK_EPOCHS, \
            QUICK_STEPS, QUICK_STEPS
    else:
        xor_steps, n_seeds, noisy_epochs, softmax_steps, relu_steps = XOR_STEPS, XOR_SEEDS, NOISY_EPOCHS, \
            SOFTMAX_STEPS, RELU_STEPS

    xor = xor_points(run.seed, xor_steps, n_seeds)
    noisy = noisy_xor(run.seed, noisy_epochs)
    spiral = spirals(run.seed, softmax_steps, relu_steps)
    regions_figure(xor, noisy, spiral, run.out / "decision_regions.png")

    best_line = max(xor["linear_accuracy"], xor["best_random_line_accuracy"])
    checks = [
        check("XOR 4 points: best linear accuracy, trained or 100,000 random lines (fraction)", best_line, "<=",
              LINEAR_XOR_MAX),
        check(f"XOR 4 points: seeds whose 2-3-1 tanh net gets all 4 right (fraction of {n_seeds})",
              xor["hidden_solved_fraction"], ">=", HIDDEN_SOLVES_FRACTION),
        check("noisy XOR: linear classifier test accuracy (fraction)", noisy["linear_test_accuracy"], "<=",
              LINEAR_XOR_MAX),
        check("noisy XOR: 2-3-1 tanh test accuracy (fraction)", noisy["hidden_test_accuracy"], ">=",
              HIDDEN_NOISY_TARGET),
        check("CS231n spirals: softmax training accuracy (fraction)", spiral["softmax_train_accuracy"], "<",
              SOFTMAX_SPIRAL_MAX),
        check("CS231n spirals: 100-unit ReLU training accuracy (fraction)", spiral["relu_train_accuracy"], ">",
              RELU_SPIRAL_MIN),
    ]
    results = {"xor_points": public(xor), "noisy_xor": public(noisy), "spirals": public(spiral)}
    summary = (f"XOR: best line {best_line:.2f}, 2-3-1 tanh solves {xor['hidden_solved_fraction']:.0%} of seeds; "
               f"noisy XOR test linear {noisy['linear_test_accuracy']:.3f} vs hidden "
               f"{noisy['hidden_test_accuracy']:.3f}; spirals training softmax {spiral['softmax_train_accuracy']:.3f} "
               f"vs ReLU {spiral['relu_train_accuracy']:.3f} (CS231n: ~0.49, ~0.98)")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
