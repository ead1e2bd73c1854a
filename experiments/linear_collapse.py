"""UMT Lahore, NN Training and Optimization, "Linear Score Functions?"; HSE, Neural Networks, "Can it be another linear model?"; Liverpool, Introduction to Neural Networks I, "What are neural networks, mathematically?"; Saxe et al. 2014: stacked linear layers are one linear map, and without biases every decision boundary passes through the origin.

Setup: a 5-layer MLP with identity activations (2-16-16-16-16-1), logistic regression
(`linear.fit_logistic_regression`) and a one-hidden-layer ReLU MLP (2-32-1) are trained with
the sigmoid cross-entropy on 500 points of two moons and of two circles (jaxnn's synthetic
generators, tested on 500 fresh points, float64).  Then two Gaussian blobs centred at
(2, 2) and (4, 4), whose separating line misses the origin, are fitted by a linear model
and by the ReLU MLP, each with and without biases (`dense(use_bias=False)`).

Run: Adam (1e-2, batch 50, 60 epochs) on each network; Newton's method (IRLS) for
logistic regression.

Measurement: (1) the deep linear net's output against ``x @ (W1 W2 W3 W4 W5) + b`` with the
folded bias ``b = (((b1 W2 + b2) W3 + b3) W4 + b4) W5 + b5``, largest difference over the
test points and the plotting grid; (2) test accuracies of the three models on moons and
circles, and the training losses of the two linear ones; (3) on the shifted blobs, test
accuracies with and without biases, and each bias-free model's logit at ``x = 0``.
Figures: ``decision_boundaries.png`` (moons and circles, three models) and
``bias_origin.png`` (the blobs, with and without biases, the origin marked).

Verdict: reproduced when the collapse holds to ``COLLAPSE_TOLERANCE``; the deep linear net
is within ``SAME_AS_LOGISTIC_MARGIN`` of logistic regression on moons, no better than chance
on circles (``CIRCLES_CHANCE_CEILING``), and never below its training loss; both linear models are at
least ``NONLINEAR_GAP`` below the ReLU net, which reaches ``RELU_TARGET_ACCURACY``; and the
bias-free models stay at or below ``NO_BIAS_MAX_ACCURACY`` with a logit of exactly 0 at the
origin while the models with biases reach ``WITH_BIAS_TARGET_ACCURACY``.  On circles the
two linear models are not compared with each other: every line cuts both rings about in
half, the optimum is close to ``W = 0``, and which near-useless line a fit ends on is
arbitrary (accuracy ~50% +- 10%); the training loss says they are the same model.

    python experiments/linear_collapse.py [--quick] [--seed 0] [--out runs/linear_collapse]
"""
# %% [markdown]
# # Stacked linear layers are one linear map
#
# The lectures' argument in one line: ``W5 (W4 (W3 (W2 (W1 x))))`` is ``(W5 W4 W3 W2 W1) x``,
# one matrix, so depth without a nonlinearity adds nothing (UMT Lahore, "Linear Score
# Functions?"; HSE, "Can it be another linear model?").  With biases the composition is
# still one *affine* map.  We check the algebra to float64 round-off, then see what it
# means for classification: a deep linear net draws the same straight boundary as
# logistic regression (it cannot even reach a lower training loss: logistic regression is
# already the best linear map), while a single ReLU layer bends it.  Last, the bias: without ``b``
# every layer maps 0 to 0, so the network's logit at the origin is 0 and the decision
# boundary must pass through it (Liverpool, "What are neural networks, mathematically?").

# %%
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)  # the collapse is checked to 1e-10: float64

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, finish, save_figure, start, timed  # noqa: E402

from jaxnn import datasets, layers, linear, losses, models, optim, train  # noqa: E402

# The folded matrix reproduces the deep net up to float64 round-off (~1e-15 relative);
# 1e-10 leaves room for the logits' size and still fails any real difference.
COLLAPSE_TOLERANCE = 1e-10
# On two moons the best line is well defined, and the deep linear net, a linear classifier
# trained by Adam, finds it as logistic regression does: test accuracies agree to a few
# points.
SAME_AS_LOGISTIC_MARGIN = 0.03
# On circles every line cuts both rings about in half: which near-useless line a fit ends
# on is arbitrary (test accuracy 50% +- 10% across seeds and shuffle orders), so the claim
# judged there is that no linear model, deep or not, gets past chance by more than that.
CIRCLES_CHANCE_CEILING = 0.60
# No linear map fits the training points better than logistic regression's optimum
# (Newton to a gradient norm of 1e-10): the deep linear net's training loss may undercut
# it by float64 round-off at most.
LOSS_ROUND_OFF = 1e-9
# "Well below": a straight line misclassifies the tips of the moons (~12% of points) and
# half of the circles; 5 points of accuracy is far more than the runs' spread.
NONLINEAR_GAP = 0.05
# One ReLU hidden layer bends the boundary around both shapes (the brief's target).
RELU_TARGET_ACCURACY = 0.97
# Both blobs lie along the ray x1 = x2 from the origin, so no boundary through the origin
# separates them: well short of the ~99.8% the blobs' spacing allows a line with a bias.
NO_BIAS_MAX_ACCURACY = 0.80
# The best line with a bias misclassifies ~0.2% (centres 2.8 std apart); 60 epochs of Adam
# get within a point or two of it.
WITH_BIAS_TARGET_ACCURACY = 0.97

N_TRAIN = N_TEST = 500                      # one shape: each generator compiles once
MOONS_NOISE, CIRCLES_NOISE = 0.15, 0.1
BLOB_CENTERS, BLOB_STD = ((2.0, 2.0), (4.0, 4.0)), 0.5
DEEP_LINEAR_SIZES = (16, 16, 16, 16, 1)     # 5 dense layers, identity activations
RELU_SIZES = (32, 1)                        # one hidden layer
EPOCHS, QUICK_EPOCHS = 60, 3
QUICK_N_TRAIN = QUICK_N_TEST = 100
BATCH_SIZE, LEARNING_RATE = 50, 1e-2
LOSS = "sigmoid_binary_cross_entropy"       # one logit per point: class 1 iff logit > 0
GRID_POINTS = 200                           # per axis, for the decision regions


# %% [markdown]
# ## Setup: the data and the models
#
# Two moons and two circles are the classic "not linearly separable" pictures; the shifted
# blobs are linearly separable, but only by a line that misses the origin.

# %%
def make_data(n_train: int, n_test: int, seed: int) -> dict:
    """``{name: (x_train, y_train, x_test, y_test)}``, labels as ints (N,)."""
    key = jax.random.key(seed)
    k_moons, k_circles, k_blobs = jax.random.split(key, 3)
    generators = {
        "two moons": lambda k, n: datasets.two_moons(k, n, noise=MOONS_NOISE),
        "circles": lambda k, n: datasets.circles(k, n, noise=CIRCLES_NOISE),
        "shifted blobs": lambda k, n: datasets.blobs(k, n, centers=jnp.array(BLOB_CENTERS), std=BLOB_STD),
    }
    data = {}
    for (name, generate), k in zip(generators.items(), (k_moons, k_circles, k_blobs)):
        k_train, k_test = jax.random.split(k)
        data[name] = (*generate(k_train, n_train), *generate(k_test, n_test))
    return data


def bias_free_mlp(sizes, activation: str) -> layers.Layer:
    """``models.mlp(sizes, activation)`` with ``use_bias=False`` in every dense layer."""
    stack = []
    for width in sizes[:-1]:
        stack += [layers.dense(width, use_bias=False, kernel_init=models.default_kernel_init(activation)),
                  layers.activation(activation)]
    return layers.serial(*stack, layers.dense(sizes[-1], use_bias=False))


# %% [markdown]
# ## Run: training
#
# Every network outputs one logit and is trained on the sigmoid cross-entropy; labels
# become a float column ``(N, 1)``.  Logistic regression is fitted exactly (Newton / IRLS).

# %%
OPTIMIZER = optim.adam(LEARNING_RATE)   # one object: `fit` reuses a model's compiled epoch across calls


def fit_network(model, x, y, epochs: int, seed: int):
    """Adam on the sigmoid cross-entropy; returns ``(params, seconds)``."""
    _, params = model.init(jax.random.key(seed), (x.shape[1],))
    (params, _), seconds = timed(
        train.fit, model, params, LOSS, OPTIMIZER, x, y[:, None].astype(x.dtype),
        epochs=epochs, batch_size=BATCH_SIZE, key=jax.random.key(1000 + seed), progress=False)
    return params, seconds


def accuracy(logits, y) -> float:
    """Fraction of points whose logit has the sign of their class (class 1 iff logit > 0)."""
    return float(np.mean((np.ravel(logits) > 0) == (np.asarray(y) == 1)))


# %% [markdown]
# ## Measurement 1: the collapse
#
# With batch-first rows a dense layer is ``z = x W + b`` (``W`` is the lectures' matrix
# transposed), so five of them fold into ``x (W1 W2 W3 W4 W5) + b``, the bias carried
# through the later matrices.

# %%
def collapse(params) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The one affine map ``(W, b)`` equal to the identity-activation MLP with ``params``."""
    dense_params = [p for p in params if isinstance(p, dict) and "W" in p]
    weight, bias = dense_params[0]["W"], dense_params[0]["b"]
    for p in dense_params[1:]:
        weight, bias = weight @ p["W"], bias @ p["W"] + p["b"]
    return weight, bias


def plotting_grid(x, include_origin: bool = False, points: int = GRID_POINTS):
    """A ``points x points`` grid around ``x`` (and the origin): ``(xx, yy, grid (P, 2))``."""
    x = np.asarray(x)
    low, high = x.min(axis=0), x.max(axis=0)
    if include_origin:
        low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
    pad = 0.15 * (high - low)
    xx, yy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], points),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], points))
    return xx, yy, jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1))


def compare_models(data: dict, deep, relu, epochs: int, seed: int) -> dict:
    """Deep linear vs logistic regression vs ReLU on moons and circles; the collapse check."""
    out = {}
    for name in ("two moons", "circles"):
        x_train, y_train, x_test, y_test = data[name]
        deep_params, deep_seconds = fit_network(deep, x_train, y_train, epochs, seed)
        relu_params, relu_seconds = fit_network(relu, x_train, y_train, epochs, seed)
        logistic, _ = linear.fit_logistic_regression(x_train, y_train)

        weight, bias = collapse(deep_params)
        _, _, grid = plotting_grid(x_test)
        probe = jnp.concatenate([x_test, grid])
        deep_out = train.predict(deep, deep_params, probe)
        target = y_train[:, None].astype(x_train.dtype)
        folded_out = probe @ weight + bias
        difference = float(jnp.max(jnp.abs(deep_out - folded_out)))

        out[name] = {
            "deep_linear_test_accuracy": accuracy(train.predict(deep, deep_params, x_test), y_test),
            "logistic_test_accuracy": accuracy(logistic.logits(x_test), y_test),
            "relu_test_accuracy": accuracy(train.predict(relu, relu_params, x_test), y_test),
            "deep_linear_train_loss": float(losses.sigmoid_binary_cross_entropy(
                train.predict(deep, deep_params, x_train), target)),
            "logistic_train_loss": float(losses.sigmoid_binary_cross_entropy(
                logistic.logits(x_train)[:, None], target)),
            "collapse_max_abs_difference": difference,
            "largest_logit": float(jnp.max(jnp.abs(deep_out))),
            "folded_W": np.asarray(weight).ravel().tolist(), "folded_b": float(bias[0]),
            "logistic_W": np.asarray(logistic.W).tolist(), "logistic_b": float(logistic.b),
            "seconds": deep_seconds + relu_seconds,
            "_models": {"deep": (deep, deep_params), "relu": (relu, relu_params), "logistic": logistic},
        }
        r = out[name]
        print(f"{name}: test accuracy deep linear {r['deep_linear_test_accuracy']:.3f}, logistic regression "
              f"{r['logistic_test_accuracy']:.3f}, ReLU {r['relu_test_accuracy']:.3f}; "
              f"|deep(x) - (x W + b)| <= {difference:.1e} (logits up to {r['largest_logit']:.1f})")
    return out


# %% [markdown]
# ## Measurement 2: the bias moves the boundary off the origin
#
# The blobs sit at (2, 2) and (4, 4), on one ray from the origin.  Without biases a linear
# model's boundary is a line through 0; a ReLU network without biases is positively
# homogeneous, ``f(a x) = a f(x)`` for ``a > 0``, so its regions are cones from the origin
# and points along one ray get one class.  Both should fail; with biases both succeed.

# %%
def bias_study(data: dict, relu, epochs: int, seed: int) -> dict:
    """``relu``: the ReLU MLP with biases of `compare_models` (one model object, compiled once)."""
    x_train, y_train, x_test, y_test = data["shifted blobs"]
    variants = {
        "linear, no bias": bias_free_mlp((1,), "identity"),
        "linear, with bias": models.mlp([1]),
        "ReLU 2-32-1, no bias": bias_free_mlp(RELU_SIZES, "relu"),
        "ReLU 2-32-1, with bias": relu,
    }
    out = {}
    for name, model in variants.items():
        params, seconds = fit_network(model, x_train, y_train, epochs, seed)
        logit_at_origin = float(model.apply(params, jnp.zeros((1, 2)))[0, 0])
        out[name] = {"test_accuracy": accuracy(train.predict(model, params, x_test), y_test),
                     "logit_at_origin": logit_at_origin, "seconds": seconds, "_model": (model, params)}
        print(f"shifted blobs, {name}: test accuracy {out[name]['test_accuracy']:.3f}, "
              f"logit at x = 0: {logit_at_origin:.3g}")
    return out


# %% [markdown]
# ## Figures: the decision regions
#
# Each panel colours the plane by the predicted class, draws the boundary (logit = 0) and
# the test points.

# %%
CLASS_COLORS = ("tab:blue", "tab:orange")


def draw_panel(ax, logits_fn, x, y, title: str, *, include_origin: bool = False, legend: bool = False):
    xx, yy, grid = plotting_grid(x, include_origin)
    logits = np.asarray(logits_fn(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, (logits > 0).astype(float), levels=[-0.5, 0.5, 1.5], colors=CLASS_COLORS, alpha=0.18)
    ax.contour(xx, yy, logits, levels=[0.0], colors="k", linewidths=1.2)
    x, y = np.asarray(x), np.asarray(y)
    for k, color in enumerate(CLASS_COLORS):
        ax.scatter(x[y == k, 0], x[y == k, 1], s=6, color=color, label=f"class {k} (test points)" if legend else None)
    if legend:
        ax.plot([], [], color="k", linewidth=1.2, label="decision boundary")
    ax.set(title=title, xlabel="x1", ylabel="x2")


def boundaries_figure(data: dict, compared: dict, path):
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.6))
    for row, name in enumerate(("two moons", "circles")):
        _, _, x_test, y_test = data[name]
        r = compared[name]
        deep, deep_params = r["_models"]["deep"]
        relu, relu_params = r["_models"]["relu"]
        panels = [
            (lambda g: train.predict(deep, deep_params, g), "5 dense layers, identity activation",
             r["deep_linear_test_accuracy"]),
            (r["_models"]["logistic"].logits, "logistic regression", r["logistic_test_accuracy"]),
            (lambda g: train.predict(relu, relu_params, g), "one ReLU layer (32)", r["relu_test_accuracy"]),
        ]
        for col, (fn, model_name, test_accuracy) in enumerate(panels):
            draw_panel(axes[row, col], fn, x_test, y_test, f"{name}: {model_name}\ntest accuracy {test_accuracy:.1%}",
                       legend=(row == 0 and col == 0))
    fig.suptitle("Depth without a nonlinearity draws one straight line, as logistic regression does\n"
                 "(shading: predicted class; black line: logit = 0)")
    save_figure(fig, path)


def bias_figure(data: dict, studied: dict, path):
    _, _, x_test, y_test = data["shifted blobs"]
    fig, axes = plt.subplots(2, 2, figsize=(9, 8.2))
    for ax, (name, r) in zip(axes.ravel(), studied.items()):
        model, params = r["_model"]
        draw_panel(ax, lambda g: train.predict(model, params, g), x_test, y_test,
                   f"{name}\ntest accuracy {r['test_accuracy']:.1%}", include_origin=True, legend=ax is axes[0, 0])
        ax.plot([0], [0], marker="+", color="k", markersize=12, linestyle="none",
                label="origin (0, 0)" if ax is axes[0, 0] else None)
    fig.suptitle("Without biases every decision boundary passes through the origin (0, 0)\n"
                 "(two Gaussian blobs; shading: predicted class; black line: logit = 0)")
    save_figure(fig, path)


def public(results: dict) -> dict:
    """The results without the fitted models (keys starting with ``_``)."""
    return {k: public(v) if isinstance(v, dict) else v for k, v in results.items() if not k.startswith("_")}


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    epochs = QUICK_EPOCHS if run.quick else EPOCHS
    n_train, n_test = (QUICK_N_TRAIN, QUICK_N_TEST) if run.quick else (N_TRAIN, N_TEST)
    data = make_data(n_train, n_test, run.seed)

    deep = models.mlp(list(DEEP_LINEAR_SIZES), activation="identity")
    relu = models.mlp(list(RELU_SIZES), activation="relu")
    print(models.summary(deep, (2,)), "\n")
    compared = compare_models(data, deep, relu, epochs, run.seed)
    studied = bias_study(data, relu, epochs, run.seed)
    boundaries_figure(data, compared, run.out / "decision_boundaries.png")
    bias_figure(data, studied, run.out / "bias_origin.png")

    shapes = ("two moons", "circles")
    moons = compared["two moons"]
    worst_collapse = max(compared[s]["collapse_max_abs_difference"] for s in shapes)
    moons_margin = abs(moons["deep_linear_test_accuracy"] - moons["logistic_test_accuracy"])
    circles_best_linear = max(compared["circles"]["deep_linear_test_accuracy"],
                              compared["circles"]["logistic_test_accuracy"])
    loss_advantage = min(compared[s]["deep_linear_train_loss"] - compared[s]["logistic_train_loss"] for s in shapes)
    smallest_gap = min(compared[s]["relu_test_accuracy"] - max(compared[s]["deep_linear_test_accuracy"],
                                                               compared[s]["logistic_test_accuracy"])
                       for s in shapes)
    worst_relu = min(compared[s]["relu_test_accuracy"] for s in shapes)
    no_bias = [r for name, r in studied.items() if "no bias" in name]
    with_bias = [r for name, r in studied.items() if "with bias" in name]
    best_no_bias = max(r["test_accuracy"] for r in no_bias)
    largest_origin_logit = max(abs(r["logit_at_origin"]) for r in no_bias)
    worst_with_bias = min(r["test_accuracy"] for r in with_bias)

    checks = [
        check("deep linear vs folded map x W + b, max |difference| (logit units)", worst_collapse, "<=",
              COLLAPSE_TOLERANCE),
        check("two moons: |deep linear - logistic regression| test accuracy (fraction)", moons_margin, "<=",
              SAME_AS_LOGISTIC_MARGIN),
        check("circles: best linear test accuracy, deep linear or logistic regression (fraction)",
              circles_best_linear, "<=", CIRCLES_CHANCE_CEILING),
        check("deep linear minus logistic regression training loss, smaller of moons and circles (nats)",
              loss_advantage, ">=", -LOSS_ROUND_OFF),
        check("ReLU minus best linear test accuracy (fraction)", smallest_gap, ">=", NONLINEAR_GAP),
        check("ReLU one-hidden-layer test accuracy, worst of moons and circles (fraction)", worst_relu, ">=",
              RELU_TARGET_ACCURACY),
        check("shifted blobs, best test accuracy without biases (fraction)", best_no_bias, "<=",
              NO_BIAS_MAX_ACCURACY),
        check("shifted blobs, |logit at x = 0| without biases (logit units)", largest_origin_logit, "==", 0),
        check("shifted blobs, worst test accuracy with biases (fraction)", worst_with_bias, ">=",
              WITH_BIAS_TARGET_ACCURACY),
    ]
    results = {"moons_and_circles": public(compared), "shifted_blobs": public(studied), "epochs": epochs,
               "n_train": n_train, "n_test": n_test}
    circles = compared["circles"]
    summary = (f"deep linear = x W + b to {worst_collapse:.1e}; test accuracy deep linear / logistic / ReLU: "
               f"moons {moons['deep_linear_test_accuracy']:.3f} / {moons['logistic_test_accuracy']:.3f} / "
               f"{moons['relu_test_accuracy']:.3f}, circles {circles['deep_linear_test_accuracy']:.3f} / "
               f"{circles['logistic_test_accuracy']:.3f} / {circles['relu_test_accuracy']:.3f}; "
               f"shifted blobs without biases <= {best_no_bias:.3f} (logit at 0 = {largest_origin_logit:g}), "
               f"with >= {worst_with_bias:.3f}")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
