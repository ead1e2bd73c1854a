"""IIT Mandi, Introduction to Neural Networks, "Activation Functions (1)"; Liverpool, Introduction to Neural Networks I, "Basis functions"; UMT Lahore, NN Training and Optimization, "Linear vs Logistic Regression"; Nelder & Wedderburn 1972; Bishop 2006, Figs. 1.4-1.5: a network with no hidden layer is a generalized linear model (least squares, logistic regression), and a linear model on basis functions goes from underfit to overfit as the basis grows.

Setup: a 0-hidden-layer network (``models.mlp([1])``) trained by ``train.fit`` against the
closed forms, in float64: least squares on the diabetes data (identity output + MSE) and
logistic regression on four breast-cancer features (sigmoid output + binary cross-entropy)
against scikit-learn's unpenalized fit.  Then polynomial and Gaussian (RBF) bases with 1
to 20 weights, fitted by least squares to 20 noisy samples of sin(2 pi x) on [0, 1].

Run: (1) least squares three ways: the closed form (``linear.fit_least_squares``, an SVD
solve, no inverse), gradient descent from zero at the step 1/L
(``linear.fit_least_squares_gd``), and the network from a random start, trained by
full-batch Adam with a cosine-decayed learning rate; (2) the same network with a sigmoid
head trained the same way, scikit-learn's ``LogisticRegression`` with no penalty, and
least squares on the 0/1 labels (the "linear regression for classification" the lectures
warn about); (3) basis-function regression: for M = 0..19 the M + 1 basis functions
(constant, then powers of u = 2x - 1; or constant, then Gaussian bumps of width 0.1 whose
centres fill the largest gap first), each fitted by least squares.

Measurement: the largest absolute difference between the weights (and between the
predicted probabilities) of each pair of fits; the fraction of test points where least
squares on 0/1 labels predicts outside [0, 1]; the train MSE and the test MSE (1000 fresh
noisy points) of every basis fit.  Figures: ``agreement.png`` (the differences against
the tolerance), ``linear_vs_logistic.png``, ``basis_fits.png`` (one panel per size) and
``train_test_error.png`` (MSE against M, log scale).

Verdict: reproduced when every pair of fits agrees to ``AGREEMENT_TOLERANCE``, least
squares on labels leaves [0, 1] on at least ``MIN_OUT_OF_RANGE`` of the test points, the
train error never rises as M grows (both bases), and the polynomial test error is
U-shaped: its best degree is interior and the highest degree's test error is at least
``OVERFIT_RATIO`` times the best.

    python experiments/linear_models_as_networks.py [--quick] [--seed 0] [--out runs/linear_models_as_networks]
"""
# %% [markdown]
# # Linear models are networks without a hidden layer
#
# A dense layer computes ``z = x W + b``; with no hidden layer that *is* the whole network,
# and its output activation plays the part of a generalized linear model's link function
# (IIT Mandi, "Activation Functions (1)": "a single-layer neural network (no hidden
# layers) is mathematically equivalent to a generalized linear model").  Identity output +
# mean squared error is least squares; sigmoid output + binary cross-entropy is logistic
# regression (Nelder & Wedderburn 1972 named the family).  We check it with numbers: the
# network, trained like any network, lands on the same weights as the textbook solvers.
#
# Then the other half of the story (Liverpool, "Basis functions"): a model can be
# *nonlinear in x* and still *linear in the weights*, by feeding the linear layer basis
# functions ``phi(x)`` instead of ``x``.  It is still solved by least squares, and the
# number of basis functions is a dial from underfitting to overfitting (Bishop 2006,
# Figs. 1.4-1.5, with sin(2 pi x) as here).

# %%
from __future__ import annotations

import functools

import jax

jax.config.update("jax_enable_x64", True)  # agreement is claimed to 1e-6: float64

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from common import check, exit_with, figure, finish, save_figure, start, timed  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from jaxnn import datasets, linear, losses, models, optim, train  # noqa: E402

# Two fits of one convex problem, each run to its optimum in float64, agree to 1e-16 .. 1e-7
# in the weights (seeds 0-2); 1e-6 leaves a margin and still fails any real difference (a
# wrong loss, a penalty or a missed bias moves the weights by 1e-2 or more).
AGREEMENT_TOLERANCE = 1e-6
# UMT Lahore: least squares on 0/1 labels "can exceed" [0, 1]; on these four breast-cancer
# features it does for ~18% of the test points. 2% asks for a visible share, not an accident.
MIN_OUT_OF_RANGE = 0.02
# Nested bases (each one contains the previous one) cannot raise the least-squares train
# error; 1e-10 allows float64 round-off (the errors are ~1e-1 .. 1e-30).
MONOTONE_TOLERANCE = 1e-10
# Degree 19 interpolates the 20 noisy points and swings between them: its test MSE is
# 5e3 .. 5e5 times the best over seeds 0-5; "much larger" = at least 10 times.
OVERFIT_RATIO = 10.0

LOGISTIC_FEATURES = ("mean radius", "mean texture", "mean smoothness", "mean concavity")
NETWORK_EPOCHS, QUICK_NETWORK_EPOCHS = 3000, 100   # full-batch Adam steps (one per epoch)
OLS_PEAK_LR, LOGISTIC_PEAK_LR = 0.1, 0.1            # cosine decay to 0 over the epochs
GD_TOL, GD_MAX_ITER, QUICK_GD_MAX_ITER = 1e-10, 50_000, 500
SKLEARN_TOL, SKLEARN_MAX_ITER = 1e-12, 100_000      # its defaults (1e-4) stop far from the optimum

N_POINTS, NOISE_STD, N_TEST_POINTS = 20, 0.25, 1000  # sin(2 pi x) + noise on [0, 1]
MAX_M = 19                                           # M + 1 = 20 weights: interpolation
QUICK_MS = (0, 3, 19)
RBF_WIDTH = 0.1
PANEL_MS = (0, 1, 3, 9, 19)                          # the sizes drawn in basis_fits.png


# %% [markdown]
# ## 1. Least squares: closed form = gradient descent = a 0-hidden-layer network
#
# Diabetes progression from 10 standardized features (the training split, 264 patients);
# we standardize the target too, so the weights are of order 1.  The network's ``W`` is the
# closed form's ``W`` (batch-first, the lectures' matrix transposed).

# %%
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """The training split of diabetes in float64: x standardized (by the loader), y (N, 1) too."""
    x, y = (np.asarray(a, np.float64) for a in datasets.load("diabetes").train)
    return x, (y - y.mean()) / y.std()


def network_weights(params) -> tuple[np.ndarray, np.ndarray]:
    """``(W (D,), b ())`` of a ``models.mlp([1])``: its one dense layer."""
    layer = params[0]
    return np.asarray(layer["W"])[:, 0], np.asarray(layer["b"])[0]


def fit_network(loss, x, y, peak_lr: float, epochs: int, seed: int):
    """A fresh ``models.mlp([1])`` (random init) trained by full-batch Adam; ``(W, b), seconds``."""
    model = models.mlp([1])
    _, params = model.init(jax.random.key(seed), (x.shape[1],))
    optimizer = optim.adam(optim.cosine_decay(peak_lr, epochs))
    (params, _), seconds = timed(train.fit, model, params, loss, optimizer, x, y, epochs=epochs,
                                 batch_size=len(x), key=jax.random.key(seed), progress=False)
    return network_weights(params), seconds


def max_difference(a: tuple, b: tuple) -> float:
    """Largest absolute difference between two ``(W, b)`` pairs, over every entry."""
    return float(max(np.max(np.abs(np.ravel(u) - np.ravel(v))) for u, v in zip(a, b)))


def least_squares_three_ways(epochs: int, gd_max_iter: int, seed: int) -> dict:
    x, y = diabetes()
    closed = linear.fit_least_squares(x, y)
    closed = (np.asarray(closed.W)[:, 0], np.asarray(closed.b)[0])
    (gd, result), gd_seconds = timed(linear.fit_least_squares_gd, x, y, tol=GD_TOL, max_iter=gd_max_iter)
    gd = (np.asarray(gd.W)[:, 0], np.asarray(gd.b)[0])
    network, network_seconds = fit_network("mse", x, y, OLS_PEAK_LR, epochs, seed)
    out = {"closed_form_W": closed[0], "closed_form_b": float(closed[1]),
           "gd_iterations": int(result.n_iter), "gd_converged": bool(result.converged), "gd_seconds": gd_seconds,
           "network_W": network[0], "network_b": float(network[1]), "network_seconds": network_seconds,
           "gd_vs_closed_form": max_difference(gd, closed),
           "network_vs_closed_form": max_difference(network, closed)}
    print(f"least squares on diabetes (264 x 10): closed-form weights {np.round(closed[0], 3)}\n"
          f"  gradient descent ({out['gd_iterations']} steps of 1/L): max |difference| {out['gd_vs_closed_form']:.1e}\n"
          f"  network mlp([1]) + mse, Adam {epochs} epochs ({network_seconds:.1f} s): "
          f"max |difference| {out['network_vs_closed_form']:.1e}")
    return out


# %% [markdown]
# ## 2. Logistic regression: a single sigmoid layer = scikit-learn's fit
#
# The same network with the binary head: one logit, the sigmoid fused into the binary
# cross-entropy (``losses.head("binary")``).  Four breast-cancer features keep the classes
# overlapping, so the maximum-likelihood weights are finite (on all 30 features the classes
# are separable and the unpenalized weights grow without bound).  scikit-learn spells "no
# penalty" ``C=np.inf`` from version 1.8 and ``penalty=None`` before.
#
# The lectures' warning (UMT Lahore, "Linear vs Logistic Regression"): least squares on the
# 0/1 labels is also a linear model, but its "probabilities" are not confined to [0, 1].

# %%
def unpenalized_logistic_regression() -> LogisticRegression:
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    no_penalty = {"C": np.inf} if (major, minor) >= (1, 8) else {"penalty": None}
    return LogisticRegression(**no_penalty, tol=SKLEARN_TOL, max_iter=SKLEARN_MAX_ITER)


def breast_cancer_features() -> tuple:
    """Train and test splits of the four ``LOGISTIC_FEATURES`` (standardized), float64."""
    ds = datasets.load("breast_cancer")
    columns = [ds.feature_names.index(name) for name in LOGISTIC_FEATURES]
    (x_train, y_train), (x_test, y_test) = ds.train, ds.test
    return (np.asarray(x_train[:, columns], np.float64), y_train,
            np.asarray(x_test[:, columns], np.float64), y_test)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logistic_two_ways(epochs: int, seed: int) -> dict:
    x_train, y_train, x_test, y_test = breast_cancer_features()
    binary = losses.head("binary")
    network, network_seconds = fit_network(binary.loss, x_train, binary.targets(y_train), LOGISTIC_PEAK_LR,
                                           epochs, seed)
    reference = unpenalized_logistic_regression().fit(x_train, y_train)
    sk = (reference.coef_[0], reference.intercept_[0])
    p_network, p_sk = sigmoid(x_test @ network[0] + network[1]), reference.predict_proba(x_test)[:, 1]
    ols = linear.fit_least_squares(x_train, y_train.astype(np.float64))
    p_ols = np.asarray(ols.predict(x_test))
    out = {"features": list(LOGISTIC_FEATURES), "network_W": network[0], "network_b": float(network[1]),
           "sklearn_W": sk[0], "sklearn_b": float(sk[1]), "sklearn_version": sklearn.__version__,
           "network_seconds": network_seconds,
           "network_vs_sklearn_weights": max_difference(network, sk),
           "network_vs_sklearn_test_probabilities": float(np.max(np.abs(p_network - p_sk))),
           "network_test_accuracy": float(np.mean((p_network > 0.5) == y_test)),
           "sklearn_test_accuracy": float(np.mean(reference.predict(x_test) == y_test)),
           "least_squares_on_labels_out_of_range": float(np.mean((p_ols < 0) | (p_ols > 1))),
           "least_squares_on_labels_range": [float(p_ols.min()), float(p_ols.max())],
           "logistic_range": [float(p_network.min()), float(p_network.max())]}
    print(f"logistic regression on breast cancer ({', '.join(LOGISTIC_FEATURES)}):\n"
          f"  network mlp([1]) + sigmoid BCE, Adam {epochs} epochs ({network_seconds:.1f} s) vs scikit-learn "
          f"{sklearn.__version__} (no penalty): max |weight difference| {out['network_vs_sklearn_weights']:.1e}, "
          f"max |probability difference| {out['network_vs_sklearn_test_probabilities']:.1e}; test accuracy "
          f"{out['network_test_accuracy']:.3f} vs {out['sklearn_test_accuracy']:.3f}\n"
          f"  least squares on the 0/1 labels: test predictions in [{p_ols.min():.2f}, {p_ols.max():.2f}], "
          f"{out['least_squares_on_labels_out_of_range']:.1%} outside [0, 1]")
    return out


def linear_vs_logistic_figure(path) -> None:
    """One feature (mean concavity): least squares on the labels vs the logistic curve."""
    x_train, y_train, _, _ = breast_cancer_features()
    column = LOGISTIC_FEATURES.index("mean concavity")
    x = x_train[:, [column]]
    line = linear.fit_least_squares(x, y_train.astype(np.float64))
    curve = unpenalized_logistic_regression().fit(x, y_train)
    grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 300)[:, None]
    fig, ax = figure("Linear vs logistic regression on 0/1 labels (breast cancer)",
                     "mean concavity (standardized)", "predicted P(benign)")
    jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(x))
    ax.scatter(x[:, 0], y_train + jitter, s=8, alpha=0.4, color="gray", label="training labels (jittered)")
    ax.plot(grid[:, 0], np.asarray(line.predict(grid)), color="tab:red", label="least squares: identity output + MSE")
    ax.plot(grid[:, 0], curve.predict_proba(grid)[:, 1], color="tab:blue",
            label="logistic: sigmoid output + cross-entropy")
    ax.axhspan(0, 1, color="tab:green", alpha=0.07, label="[0, 1]: valid probabilities")
    ax.set_ylim(-0.6, 1.6)
    save_figure(fig, path)


# %% [markdown]
# ## 3. Basis functions: linear in the weights, nonlinear in x
#
# ``h(x) = w_0 + sum_k w_k phi_k(x)`` (Liverpool, "Basis functions") is a 0-hidden-layer
# network on the features ``phi(x)``: least squares fits it in one solve.  Two families,
# each *nested* (the basis with M functions contains the one with M - 1), so the train
# error can only fall as M grows; the test error tells another story.
#
# * polynomial: ``phi_k(x) = u^k`` with ``u = 2x - 1`` in [-1, 1] (the same polynomials as
#   powers of x, but far better conditioned);
# * RBF: ``phi_k(x) = exp(-(x - c_k)^2 / (2 s^2))``, s = 0.1, centres 0, 1/2, 1/4, 3/4, 1/8,
#   ... (each new centre in the largest gap).
#
# What to expect: with 20 weights both fits pass through all 20 points.  The polynomial
# then swings wildly between them (high powers grow fast towards the ends of the interval:
# Runge's phenomenon), so its test error explodes; the RBF fit is a sum of bounded bumps
# and overfits more mildly (its test error rises by a few times, not thousands), which is
# why the verdict judges the U-shape on the polynomial.

# %%
def noisy_sine(seed: int) -> tuple:
    """20 evenly spaced training points and 1000 uniform test points of sin(2 pi x) + noise."""
    rng = np.random.default_rng(seed)
    x_train = np.linspace(0.0, 1.0, N_POINTS)
    y_train = np.sin(2 * np.pi * x_train) + NOISE_STD * rng.normal(size=N_POINTS)
    x_test = rng.uniform(0.0, 1.0, N_TEST_POINTS)
    y_test = np.sin(2 * np.pi * x_test) + NOISE_STD * rng.normal(size=N_TEST_POINTS)
    return x_train, y_train, x_test, y_test


def gap_filling_centres(m: int) -> np.ndarray:
    """The first ``m`` points of the van der Corput sequence: 0, 1/2, 1/4, 3/4, 1/8, 5/8, ..."""
    centres = []
    for i in range(m):
        value, scale = 0.0, 0.5
        while i:
            value, i, scale = value + scale * (i & 1), i >> 1, scale / 2
        centres.append(value)
    return np.array(centres)


def polynomial_basis(x: np.ndarray, m: int) -> np.ndarray:
    """(N, m + 1): 1, u, u^2, ..., u^m with u = 2x - 1."""
    return (2 * x[:, None] - 1) ** np.arange(m + 1)


def rbf_basis(x: np.ndarray, m: int) -> np.ndarray:
    """(N, m + 1): 1, then ``m`` Gaussian bumps of width ``RBF_WIDTH``."""
    bumps = np.exp(-((x[:, None] - gap_filling_centres(m)[None, :]) ** 2) / (2 * RBF_WIDTH**2))
    return np.concatenate([np.ones((len(x), 1)), bumps], axis=1)


BASES = {"polynomial": polynomial_basis, "RBF": rbf_basis}
# The constant is one of the basis functions (the lectures' x^0 = 1), so no separate intercept.
solve = jax.jit(functools.partial(linear.fit_least_squares, fit_intercept=False))


def basis_regression(ms, seed: int) -> dict:
    x_train, y_train, x_test, y_test = noisy_sine(seed)
    grid = np.linspace(0.0, 1.0, 400)
    out = {"_data": (x_train, y_train), "_grid": grid, "ms": list(ms)}
    for name, basis in BASES.items():
        train_mse, test_mse, curves = [], [], {}
        for m in ms:
            w = np.asarray(solve(basis(x_train, m), y_train).W)
            train_mse.append(float(np.mean((basis(x_train, m) @ w - y_train) ** 2)))
            test_mse.append(float(np.mean((basis(x_test, m) @ w - y_test) ** 2)))
            curves[m] = basis(grid, m) @ w
        best = int(np.argmin(test_mse))
        out[name] = {"train_mse": train_mse, "test_mse": test_mse, "_curves": curves,
                     "best_m": ms[best], "best_test_mse": test_mse[best],
                     "largest_train_mse_rise": float(max(np.diff(train_mse), default=0.0)),
                     "highest_over_best_test_mse": test_mse[-1] / test_mse[best]}
        print(f"{name} basis, M = {ms[0]}..{ms[-1]}: train MSE {train_mse[0]:.3f} -> {train_mse[-1]:.1e} "
              f"(largest rise {out[name]['largest_train_mse_rise']:.1e}); best test MSE {test_mse[best]:.3f} at "
              f"M = {ms[best]}, M = {ms[-1]} gives {test_mse[-1]:.3g} ({out[name]['highest_over_best_test_mse']:.3g}x)")
    return out


# %% [markdown]
# ## Figures

# %%
def agreement_figure(ols: dict, logistic: dict, path) -> None:
    bars = {"GD vs closed form\n(least squares W, b)": ols["gd_vs_closed_form"],
            "network vs closed form\n(least squares W, b)": ols["network_vs_closed_form"],
            "sigmoid network vs\nscikit-learn (W, b)": logistic["network_vs_sklearn_weights"],
            "sigmoid network vs\nscikit-learn (test P)": logistic["network_vs_sklearn_test_probabilities"]}
    fig, ax = figure("No hidden layer = a linear model: the same solution (float64)", "pair of fits",
                     "max |difference| (log scale)", yscale="log", size=(7.5, 4.4))
    values = [max(v, 1e-17) for v in bars.values()]  # an exact 0 cannot sit on a log axis
    ax.bar([0, 1], values[:2], color="tab:blue", label="least squares (identity output + MSE)")
    ax.bar([2, 3], values[2:], color="tab:orange", label="logistic regression (sigmoid output + BCE)")
    for i, v in enumerate(bars.values()):
        ax.annotate(f"{v:.1e}", (i, max(v, 1e-17)), ha="center", va="bottom", fontsize=8)
    ax.axhline(AGREEMENT_TOLERANCE, color="k", linestyle="--", linewidth=1,
               label=f"tolerance {AGREEMENT_TOLERANCE:g}")
    ax.set_xticks(range(len(bars)), list(bars), fontsize=8)
    ax.set_ylim(min(values) / 100, max(1e-2, 100 * max(values)))
    save_figure(fig, path)


def basis_fits_figure(basis: dict, path) -> None:
    x_train, y_train = basis["_data"]
    grid, ms = basis["_grid"], [m for m in PANEL_MS if m in basis["ms"]]
    fig, axes = plt.subplots(len(BASES), len(ms), figsize=(2.9 * len(ms), 5.8), squeeze=False)
    for row, name in enumerate(BASES):
        r = basis[name]
        for col, m in enumerate(ms):
            ax, i = axes[row, col], basis["ms"].index(m)
            first = row == 0 and col == 0  # one legend for the grid (save_figure adds one where labels are)
            ax.plot(grid, np.sin(2 * np.pi * grid), color="tab:green", linewidth=1,
                    label="sin(2 pi x)" if first else None)
            ax.plot(grid, r["_curves"][m], color="tab:red", label="least-squares fit" if first else None)
            ax.scatter(x_train, y_train, s=12, color="k", zorder=3, label="20 training points" if first else None)
            what = f"degree {m}" if name == "polynomial" else f"{m} RBF bump{'' if m == 1 else 's'}"
            ax.set_title(f"{what} ({m + 1} weight{'s' if m else ''})\n"
                         f"train {r['train_mse'][i]:.2g}, test {r['test_mse'][i]:.2g} MSE", fontsize=9)
            ax.set(ylim=(-1.9, 1.9), xlabel="x", ylabel="y" if col == 0 else None)
            if first:
                ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Basis-function regression: linear in the weights, from underfit to overfit")
    save_figure(fig, path)


def train_test_figure(basis: dict, path) -> None:
    fig, ax = figure("Train error falls, test error is U-shaped", "M: polynomial degree / number of RBF bumps",
                     "MSE (log scale)", yscale="log", size=(7, 4.4))
    ms = basis["ms"]
    for name, color in zip(BASES, ("tab:red", "tab:blue")):
        r = basis[name]
        ax.plot(ms, r["train_mse"], marker="o", color=color, linestyle="--", label=f"{name}: train")
        ax.plot(ms, r["test_mse"], marker="s", color=color, label=f"{name}: test (1000 points)")
        ax.plot([r["best_m"]], [r["best_test_mse"]], marker="*", markersize=14, color=color, linestyle="none",
                label=f"{name}: best test, M = {r['best_m']}")
    ax.axhline(NOISE_STD**2, color="k", linestyle=":", linewidth=1, label=f"noise variance {NOISE_STD**2:g}")
    top = max(max(basis[name]["test_mse"]) for name in BASES)
    ax.set_ylim(1e-4, top * 3)
    ax.set_xticks(ms)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax.text(0.02, 0.03, f"at M = {ms[-1]} ({ms[-1] + 1} weights, {N_POINTS} points) both fits interpolate:\n"
            f"train MSE ~1e-20, below the axis", transform=ax.transAxes, fontsize=7)
    save_figure(fig, path)


def public(results: dict) -> dict:
    """The results without the arrays kept for the figures (keys starting with ``_``)."""
    return {k: public(v) if isinstance(v, dict) else v for k, v in results.items() if not k.startswith("_")}


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    epochs = QUICK_NETWORK_EPOCHS if run.quick else NETWORK_EPOCHS
    ms = QUICK_MS if run.quick else tuple(range(MAX_M + 1))

    ols = least_squares_three_ways(epochs, QUICK_GD_MAX_ITER if run.quick else GD_MAX_ITER, run.seed)
    logistic = logistic_two_ways(epochs, run.seed)
    basis = basis_regression(ms, run.seed)

    agreement_figure(ols, logistic, run.out / "agreement.png")
    linear_vs_logistic_figure(run.out / "linear_vs_logistic.png")
    basis_fits_figure(basis, run.out / "basis_fits.png")
    train_test_figure(basis, run.out / "train_test_error.png")

    poly = basis["polynomial"]
    best_is_interior = float(ms[0] < poly["best_m"] < ms[-1])
    checks = [
        check("least squares: gradient descent vs closed form, max |weight difference|",
              ols["gd_vs_closed_form"], "<=", AGREEMENT_TOLERANCE),
        check("least squares: network mlp([1]) + mse vs closed form, max |weight difference|",
              ols["network_vs_closed_form"], "<=", AGREEMENT_TOLERANCE),
        check("logistic: sigmoid network vs scikit-learn, max |weight difference|",
              logistic["network_vs_sklearn_weights"], "<=", AGREEMENT_TOLERANCE),
        check("logistic: sigmoid network vs scikit-learn, max |test probability difference|",
              logistic["network_vs_sklearn_test_probabilities"], "<=", AGREEMENT_TOLERANCE),
        check("least squares on 0/1 labels: test points predicted outside [0, 1] (fraction)",
              logistic["least_squares_on_labels_out_of_range"], ">=", MIN_OUT_OF_RANGE),
        check("polynomial basis: largest rise of the train MSE from M to M + 1 (< 0: it always falls)",
              poly["largest_train_mse_rise"], "<=", MONOTONE_TOLERANCE),
        check("RBF basis: largest rise of the train MSE from M to M + 1 (< 0: it always falls)",
              basis["RBF"]["largest_train_mse_rise"], "<=", MONOTONE_TOLERANCE),
        check(f"polynomial basis: best test degree is interior, {ms[0]} < M < {ms[-1]} (1 = yes)",
              best_is_interior, "==", 1),
        check(f"polynomial basis: test MSE at degree {ms[-1]} / best test MSE", poly["highest_over_best_test_mse"],
              ">=", OVERFIT_RATIO),
    ]
    results = {"least_squares": ols, "logistic": logistic, "basis_regression": public(basis),
               "network_epochs": epochs}
    summary = (f"least squares: GD {ols['gd_vs_closed_form']:.1e}, network {ols['network_vs_closed_form']:.1e} "
               f"from the closed form; logistic network vs scikit-learn {logistic['network_vs_sklearn_weights']:.1e} "
               f"(weights), {logistic['network_vs_sklearn_test_probabilities']:.1e} (probabilities); least squares "
               f"on labels leaves [0, 1] on {logistic['least_squares_on_labels_out_of_range']:.1%} of test points; "
               f"polynomial best test degree {poly['best_m']}, degree {ms[-1]} "
               f"{poly['highest_over_best_test_mse']:.3g}x "
               f"worse (RBF best M = {basis['RBF']['best_m']}, "
               f"{basis['RBF']['highest_over_best_test_mse']:.3g}x)")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
