"""HSE, Neural Networks, "Deep Double Descent"; Belkin et al. 2019, "Reconciling modern machine-learning practice and the classical bias-variance trade-off", Fig. 2 (random Fourier features, Rahimi & Recht 2007): the test error of a least-squares fit against the number of features N peaks at the interpolation threshold N = n and falls again beyond it, below the classical optimum; a small ridge removes the peak.

Setup: n = 300 training digits (8x8, pixel / 16) are mapped to N random Fourier features
cos(x w_j + b_j) of a Gaussian kernel, and a linear map to the one-hot targets is fitted
by minimum-norm least squares (and by ridge, lambda = 1e-3) in float64, for 22 values of
N from 0.05 n to 20 n, each averaged over 4 random feature draws.  Both are scored on the
fixed 360-digit test split: squared loss to the one-hot target and classification error
of the argmax.

Data: ``datasets.load("digits", scale=None)``; the n = 300 training digits are drawn from
its 1077-digit training split with ``--seed``, the test split is the fixed one.  Features
(Rahimi & Recht 2007): ``z_j(x) = sqrt(2 / N) cos(x . w_j + b_j)``, ``w_j ~ N(0, I / s^2)``
with bandwidth ``s = BANDWIDTH`` and ``b_j ~ U[0, 2 pi)``, so that ``z(x) . z(x')``
approximates the Gaussian kernel ``exp(-|x - x'|^2 / (2 s^2))``.  The N features are the
first N of one draw of ``max N`` (nested models, as when a network is widened).

Run: for each N and draw, the fit minimizes ``|Z W - Y|^2`` (minimum-norm solution, what
``linear.fit_least_squares(Z, Y, fit_intercept=False)`` returns) or
``|Z W - Y|^2 + lambda |W|^2``; both are computed from one thin SVD of the n x N feature
matrix Z (by a QR factorization first, cheap when N is large) and checked against
``linear.fit_least_squares`` at N = 2 n and N = n.

Measurement: train and test squared loss (sum over the 10 outputs, mean over digits) and
classification error, mean over the draws; the smallest non-zero singular value of Z and
the norm of W.  Figures: ``double_descent.png`` (loss and error against N / n, log x-axis,
with and without ridge, N = n marked) and ``why_the_peak.png`` (singular value, norm).

Verdict: reproduced when the minimum-norm test loss at N = n is at least ``PEAK_FACTOR``
times the best for N <= n / 2 (and so is its test error); for every N >= 10 n the test
loss and the test error are below the classical optimum (the best for N <= n); the ridge
test loss (and error) at N = n is at most ``RIDGE_BUMP_MAX`` times the geometric mean of
its values at the neighbours N = n / 2 and N = 2 n; the minimum-norm fit interpolates for N >= n (train loss
<= ``INTERPOLATION_LOSS``); and the SVD fits agree with ``linear.fit_least_squares`` to
``AGREEMENT_TOLERANCE``.

    python experiments/double_descent.py [--quick] [--seed 0] [--out runs/double_descent]
"""

# %% [markdown]
# # Double descent: more parameters than examples, and the test error falls again
#
# HSE, Neural Networks, "Deep Double Descent": the classical picture says that a model
# with more parameters than training examples overfits, yet large networks generalize.
# The notes say that the test error against the model size "is more complicated": it first
# falls, then rises to a peak where the model has just enough parameters to fit the
# training set exactly (the *interpolation threshold*), then falls again, often below
# the best "classical" model.  The notes add that this "happens in simpler models, like
# linear regression".
#
# Belkin et al. 2019 (Fig. 2) showed it with the simplest such model: a linear fit on N
# random features (Rahimi & Recht 2007), i.e. a one-hidden-layer network whose hidden
# layer is random and frozen and whose output layer is solved by least squares.  With
# N < n features the fit is ordinary least squares; with N >= n there are infinitely many
# exact fits and we take the one of minimum norm (what the pseudo-inverse gives, and what
# gradient descent from zero converges to).  Here: 300 handwritten digits.
#
# The MLP version of the same curve (Nakkiran et al. 2019: networks of growing width
# trained to convergence on data with 15% noisy labels) needs thousands of epochs for
# every width; it does not fit in this experiment's 90 seconds on 2 CPU cores, so it is
# left out.

# %%
from __future__ import annotations

import functools

import jax

jax.config.update("jax_enable_x64", True)  # the solves at N = n are near-singular: float64

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, finish, save_figure, start  # noqa: E402

from jaxnn import datasets, linear  # noqa: E402

N_TRAIN = 300                       # n: the interpolation threshold is at N = n features
QUICK_N_TRAIN = 100                 # --quick: smaller solves
N_CLASSES = 10
# The grid of N / n, log-spaced from 0.05 to 20 and dense around the threshold N = n
# (11 points from 0.63 to 1.58, 1.0 in the middle); 22 values of N.  The largest N cost
# the most (a QR factorization of the N x n matrix Z^T): 5 points from 2 to 20.
RATIOS = np.unique(np.round(np.concatenate([
    np.geomspace(0.05, 0.5, 6), 10 ** np.linspace(-0.2, 0.2, 11), np.geomspace(2.0, 20.0, 5)]), 4))
QUICK_RATIOS = np.array([0.5, 1.0, 2.0])   # --quick: the threshold and its two neighbours
DRAWS, QUICK_DRAWS = 4, 1           # random feature draws averaged per N
# Kernel bandwidth (pixel / 16 units): the median distance between two training digits
# is ~3; s = 5 gives a smooth kernel whose limit N -> infinity classifies these digits
# well (3-5% test error).  The peak sits at N = n whatever s (there Z is square); s sets
# how low the curve gets.
BANDWIDTH = 5.0
# A small ridge: |Z W - Y|^2 + lambda |W|^2 (sums, as linear.fit_least_squares penalizes).
# lambda = 1e-3 is tiny next to the largest squared singular value of Z (~250) but far
# above the smallest ones at N = n (~1e-8 .. 1e-11): it only damps the peak's directions.
RIDGE = 1e-3

# "Peaks": the test loss (and error) at N = n at least 3x the best with N <= n / 2;
# measured (seeds 0-2): 880-3900x for the loss, 8-11x for the error.
PEAK_FACTOR = 3.0
# "Falls again, below the classical optimum": the worst N >= 10 n below the best N <= n,
# i.e. the ratio < 1 (measured 0.42-0.56 for the loss and the error, seeds 0-2).
SECOND_DESCENT_MAX = 1.0
SECOND_DESCENT_FROM = 10.0          # ... for every N >= 10 n
# "The ridge removes the peak": its test loss (and error) at N = n at most 1.5x the
# geometric mean of its values at N = n/2 and 2n; measured (seeds 0-2) 1.01-1.02 for the
# loss and 0.93-1.07 for the error: no bump; the minimum-norm fit's: 900-4000 and 8-13.
RIDGE_BUMP_MAX = 1.5
# "Interpolates": the train loss of the minimum-norm fit for N >= n is float64 round-off
# (at most 2e-26 .. 4e-25, seeds 0-2, at N = n); 1e-12 says "exactly zero".
INTERPOLATION_LOSS = 1e-12
# Two solvers of one least-squares problem agree to round-off: the weights (norm ~1e2)
# to 1.8-2.9e-13 (seeds 0-2); 1e-8 still fails any real difference (a missed penalty, a
# different solution of the underdetermined system).
AGREEMENT_TOLERANCE = 1e-8


# %% [markdown]
# ## Setup: 300 digits and their random Fourier features
#
# Each feature is a random cosine wave across pixel space.  The dot product of two
# feature vectors approximates a Gaussian kernel, so as N grows the model approaches a
# kernel machine; at every N it is a linear model in the features, fitted in closed form.

# %%
def load_digits(seed: int, n: int):
    """n training digits drawn from the training split with ``seed``, the fixed test split,
    in float64; labels and one-hot targets."""
    ds = datasets.load("digits", scale=None)
    x_all, y_all = ds.train
    keep = np.random.default_rng(seed).permutation(len(x_all))[:n]
    x_train, y_train = jnp.asarray(x_all[keep], jnp.float64), jnp.asarray(y_all[keep])
    x_test, y_test = jnp.asarray(ds.test[0], jnp.float64), jnp.asarray(ds.test[1])
    one_hot = lambda y: jax.nn.one_hot(y, N_CLASSES, dtype=jnp.float64)  # noqa: E731
    return (x_train, y_train, one_hot(y_train)), (x_test, y_test, one_hot(y_test))


def draw_features(seed: int, n_inputs: int, n_max: int):
    """Frequencies w: (n_inputs, n_max) ~ N(0, 1 / s^2) and phases b: (n_max,) ~ U[0, 2 pi)
    of ``n_max`` random Fourier features; a model with N features uses the first N (so
    that a larger N keeps the smaller N's features)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / BANDWIDTH, (n_inputs, n_max))
    b = rng.uniform(0.0, 2 * np.pi, n_max)
    return jnp.asarray(w), jnp.asarray(b)


def features(x, w, b):
    """The random Fourier features ``sqrt(2 / N) cos(x w + b)`` of x: (M, D) -> (M, N)."""
    return jnp.sqrt(2.0 / w.shape[1]) * jnp.cos(x @ w + b)


# %% [markdown]
# ## Run: the minimum-norm and the ridge fit, from the singular values of Z
#
# Write the n x N feature matrix as ``Z = U diag(s) V^T`` (its thin SVD, ``min(n, N)``
# singular values ``s_k``).  Both fits are ``W = V diag(f(s)) U^T Y``: the minimum-norm
# least-squares fit divides by the singular values (``f = 1 / s``, zero where ``s_k`` is
# round-off: the pseudo-inverse), the ridge fit multiplies by ``s / (s^2 + lambda)``.
# At N = n the matrix Z is square and random, and its smallest singular value is close to
# 0: dividing by it blows the weights up, and with them the test predictions.  Away from
# N = n it is bounded away from 0.  The ridge's ``+ lambda`` caps the division whatever N.
#
# The SVD is taken the cheap way: a QR factorization of the tall orientation (Z^T when
# N > n, Z otherwise), then the SVD of the small square factor R.

# %%
def thin_svd(z):
    """``z = U diag(s) V^T`` (n x N, r = min(n, N) singular values s, descending).  U and V
    stay products of two factors (multiplying them out would cost N n^2): returns s and the
    maps ``c -> U^T c`` and ``c -> V c``."""
    if z.shape[1] >= z.shape[0]:                       # wide: z^T = q r, r^T = a s b^T,
        q, r = jnp.linalg.qr(z.T)                      # so z = a s (q b)^T
        a, s, bt = jnp.linalg.svd(r.T)
        return s, lambda c: a.T @ c, lambda c: q @ (bt.T @ c)
    q, r = jnp.linalg.qr(z)                            # tall: z = q r, r = a s b^T,
    a, s, bt = jnp.linalg.svd(r)                       # so z = (q a) s b^T
    return s, lambda c: a.T @ (q.T @ c), lambda c: bt.T @ c


def fit_both(z, t):
    """Minimum-norm and ridge least-squares weights W: (N, 10) of ``z W ~ t``, and the
    smallest non-zero singular value of z."""
    s, u_transpose, v = thin_svd(z)
    kept = s > max(z.shape) * np.finfo(np.float64).eps * s[0]   # jnp.linalg.lstsq's cut
    inverse = jnp.where(kept, 1.0 / jnp.where(kept, s, 1.0), 0.0)
    projected = u_transpose(t)                                  # U^T Y
    weights = {"min_norm": v(inverse[:, None] * projected),     # V diag(1/s) U^T Y
               "ridge": v((s / (s**2 + RIDGE))[:, None] * projected)}
    return weights, jnp.min(jnp.where(kept, s, jnp.inf))


@functools.partial(jax.jit, static_argnames="n_features")
def fit(w, b, x, x_test, t, n_features: int):
    """Both fits on the first ``n_features`` random features of (w, b): their weights W
    (N, 10); and, for `score`, their predictions on the training and the test digits, the
    norms of W and the smallest non-zero singular value of Z.  Compiled once per N."""
    w, b = w[:, :n_features], b[:n_features]
    z, z_test = features(x, w, b), features(x_test, w, b)
    weights, smallest = fit_both(z, t)
    outcome = {"smallest_singular_value": smallest}
    for name, weight in weights.items():
        outcome[name] = {"train": z @ weight, "test": z_test @ weight, "weight_norm": jnp.sqrt(jnp.sum(weight**2))}
    return weights, outcome


@jax.jit
def score(outcome: dict, train, test) -> dict:
    """Train and test loss (squared, summed over the outputs, mean over digits) and error
    (argmax) of each fit, and its weight norm; the smallest singular value.  The shapes do
    not depend on N: compiled once."""
    (_, y, t), (_, y_test, t_test) = train, test
    out = {"smallest_singular_value": outcome["smallest_singular_value"]}
    for name in ("min_norm", "ridge"):
        for split, target, labels in (("train", t, y), ("test", t_test, y_test)):
            prediction = outcome[name][split]
            out[f"{name}_{split}_loss"] = jnp.mean(jnp.sum((prediction - target) ** 2, axis=1))
            out[f"{name}_{split}_error"] = jnp.mean(jnp.argmax(prediction, axis=1) != labels)
        out[f"{name}_weight_norm"] = outcome[name]["weight_norm"]
    return out


def sweep(ratios: np.ndarray, draws: int, train, test, seed: int) -> dict:
    """Every number of `score` for every N = ratio * n: mean and standard deviation over the
    draws, as lists along ``ratios``."""
    n = train[0].shape[0]
    n_max = int(round(ratios[-1] * n))
    draws_wb = [draw_features(1000 * seed + d, train[0].shape[1], n_max) for d in range(draws)]
    per_n = []
    for ratio in ratios:
        n_features = int(round(ratio * n))
        scores = [jax.device_get(score(fit(w, b, train[0], test[0], train[2], n_features)[1], train, test))
                  for w, b in draws_wb]
        per_n.append({k: np.array([s[k] for s in scores], dtype=float) for k in scores[0]})
        m = {k: v.mean() for k, v in per_n[-1].items()}
        print(f"N = {n_features:5d} ({ratio:6.3f} n): min-norm test loss {m['min_norm_test_loss']:9.4f}, "
              f"error {100 * m['min_norm_test_error']:5.1f}%, train loss {m['min_norm_train_loss']:.1e} | "
              f"ridge test loss {m['ridge_test_loss']:.4f}, error {100 * m['ridge_test_error']:4.1f}% | "
              f"smallest singular value {m['smallest_singular_value']:.1e}")
    out = {"ratio": [float(r) for r in ratios], "n_features": [int(round(r * n)) for r in ratios]}
    for k in per_n[0]:
        out[k] = [float(p[k].mean()) for p in per_n]
        out[k + "_std"] = [float(p[k].std()) for p in per_n]
        out[k + "_min"] = [float(p[k].min()) for p in per_n]
        out[k + "_max"] = [float(p[k].max()) for p in per_n]
    return out


# %% [markdown]
# ## The same fits as the library's least squares
#
# `linear.fit_least_squares(Z, Y, fit_intercept=False)` solves ``min |Z W - Y|^2`` with
# `jnp.linalg.lstsq` (the minimum-norm solution when N > n), and with ``l2=lambda`` the
# ridge problem.  Same weights up to round-off, above the threshold and at it.

# %%
@functools.partial(jax.jit, static_argnames=("n_features", "l2"))
def library_weights(w, b, x, t, n_features: int, l2: float):
    """`linear.fit_least_squares` on the same features as `fit` (one compiled program)."""
    z = features(x, w[:, :n_features], b[:n_features])
    return linear.fit_least_squares(z, t, fit_intercept=False, l2=l2).W


def library_agreement(ratios: np.ndarray, train, test, seed: int) -> dict:
    """Largest |difference| of the weights, `fit`'s vs `linear.fit_least_squares`, for the
    first feature draw at N = 2 n (minimum norm) and N = n (ridge)."""
    x, _, t = train
    w, b = draw_features(1000 * seed, x.shape[1], int(round(ratios[-1] * x.shape[0])))
    differences = {}
    for ratio, name in ((2.0, "min_norm"), (1.0, "ridge")):
        n_features = int(round(ratio * x.shape[0]))
        ours = fit(w, b, x, test[0], t, n_features)[0][name]   # compiled by the sweep
        library = library_weights(w, b, x, t, n_features, RIDGE if name == "ridge" else 0.0)
        label = f"N = {ratio:g} n, {name.replace('_', '-')}"
        differences[label] = float(jnp.max(jnp.abs(library - ours)))
        print(f"{label}: SVD fit vs linear.fit_least_squares, max |weight difference| {differences[label]:.1e}")
    return differences


# %% [markdown]
# ## Figures: the double-descent curve, and why it peaks

# %%
RATIO_LABEL = "features per training example N / n (log scale)"


def ratio_axis(ax, ratios: np.ndarray) -> None:
    """Log x-axis of N / n with plain tick labels, a grid, and the threshold N = n marked."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ticks = [t for t in (0.1, 0.5, 1, 2, 10) if ratios.min() <= t <= ratios.max()]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.grid(alpha=0.3)
    ax.axvline(1.0, color="k", linewidth=1, linestyle=":", label="interpolation threshold N = n")


def curves_figure(res: dict, m: dict, n: int, draws: int, path) -> None:
    r = np.array(res["ratio"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    styles = (("min_norm", "minimum norm (no ridge)", "C0"), ("ridge", f"ridge, lambda = {RIDGE:g}", "C1"))
    ax = axes[0]
    for key, label, color in styles:
        ax.plot(r, res[f"{key}_test_loss"], marker="o", markersize=3, color=color, label=f"{label}: test")
        ax.fill_between(r, res[f"{key}_test_loss_min"], res[f"{key}_test_loss_max"], color=color, alpha=0.15)
        ax.plot(r, res[f"{key}_train_loss"], linestyle="--", color=color, label=f"{label}: train")
    ax.set(yscale="log", ylim=(1e-3, 3 * max(res["min_norm_test_loss"])),
           title=f"Squared loss (n = {n} digits, mean of {draws} feature draw{'s' if draws > 1 else ''})",
           xlabel=RATIO_LABEL, ylabel="squared loss to one-hot target (log scale)")
    classical = m["classical_optimum_loss"]
    ax.axhline(classical, color="C2", linewidth=1, linestyle="-.",
               label=f"classical optimum (best min-norm test loss, N <= n): {classical:.2f}")
    ax.annotate("min-norm train loss < 1e-24\n(exact fit) for N >= n: off the scale", xy=(0.98, 0.03),
                xycoords="axes fraction", ha="right", fontsize=8, color="C0")
    ratio_axis(ax, r)
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[1]
    for key, label, color in styles:
        ax.plot(r, 100 * np.array(res[f"{key}_test_error"]), marker="o", markersize=3, color=color,
                label=f"{label}: test")
        ax.fill_between(r, 100 * np.array(res[f"{key}_test_error_min"]), 100 * np.array(res[f"{key}_test_error_max"]),
                        color=color, alpha=0.15)
        ax.plot(r, 100 * np.array(res[f"{key}_train_error"]), linestyle="--", color=color, label=f"{label}: train")
    classical = 100 * m["classical_optimum_error"]
    ax.axhline(classical, color="C2", linewidth=1, linestyle="-.",
               label=f"classical optimum (best min-norm test error, N <= n): {classical:.1f}%")
    ax.set(title="Classification error (argmax of the 10 outputs)",
           xlabel=RATIO_LABEL, ylabel="classification error (%)")
    ratio_axis(ax, r)
    ax.legend(fontsize=8, loc="upper left")
    fig.text(0.5, 0.005, "lines: mean over the feature draws; shaded: their range (min to max)", ha="center",
             fontsize=8)
    save_figure(fig, path)


def why_figure(res: dict, path) -> None:
    r = np.array(res["ratio"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    ax.plot(r, res["smallest_singular_value"], marker="o", markersize=3, color="C3",
            label="smallest non-zero singular value of Z")
    ax.set(yscale="log", title="The feature matrix Z (n x N) is nearly singular at N = n",
           xlabel=RATIO_LABEL, ylabel="singular value (log scale)")
    ratio_axis(ax, r)
    ax = axes[1]
    ax.plot(r, res["min_norm_weight_norm"], marker="o", markersize=3, color="C0", label="minimum norm (no ridge)")
    ax.plot(r, res["ridge_weight_norm"], marker="o", markersize=3, color="C1", label=f"ridge, lambda = {RIDGE:g}")
    ax.set(yscale="log", title="... so the exact fit needs huge weights there",
           xlabel=RATIO_LABEL, ylabel="weight norm |W|_F (log scale)")
    ratio_axis(ax, r)
    save_figure(fig, path)


# %% [markdown]
# ## Measurement and verdict
#
# The peak: the test loss and error at N = n against the best model with at most n / 2
# features.  The second descent: every N >= 10 n against the classical optimum, the best
# model with N <= n (the bottom of the classical U).  The ridge: its loss and error at
# N = n against its neighbours N = n / 2 and 2 n.

# %%
def at(res: dict, key: str, ratio: float) -> float:
    """``res[key]`` at the grid point N / n nearest ``ratio``."""
    return res[key][int(np.argmin(np.abs(np.array(res["ratio"]) - ratio)))]


def measure(res: dict) -> dict:
    """The numbers the checks judge, from the mean curves (None where --quick's grid lacks them)."""
    r = np.array(res["ratio"])
    small, classical, large = r <= 0.5 + 1e-9, r <= 1.0 + 1e-9, r >= SECOND_DESCENT_FROM - 1e-9
    m = {}
    for kind in ("loss", "error"):
        test = np.array(res[f"min_norm_test_{kind}"])
        m[f"peak_{kind}"] = at(res, f"min_norm_test_{kind}", 1.0)
        m[f"best_{kind}_up_to_half_n"] = float(test[small].min())
        m[f"peak_{kind}_ratio"] = m[f"peak_{kind}"] / m[f"best_{kind}_up_to_half_n"]
        m[f"classical_optimum_{kind}"] = float(test[classical].min())
        m[f"classical_optimum_{kind}_at_ratio"] = float(r[classical][np.argmin(test[classical])])
        m[f"worst_{kind}_from_10n"] = float(test[large].max()) if large.any() else None
        m[f"second_descent_{kind}_ratio"] = (m[f"worst_{kind}_from_10n"] / m[f"classical_optimum_{kind}"]
                                             if large.any() else None)
        for fit_name in ("ridge", "min_norm"):         # N = n against N = n/2 and 2n
            key = f"{fit_name}_test_{kind}"
            neighbours = np.sqrt(at(res, key, 0.5) * at(res, key, 2.0))
            m[f"{fit_name}_bump_{kind}_ratio"] = at(res, key, 1.0) / neighbours
    m["ridge_test_error_at_n"] = at(res, "ridge_test_error", 1.0)
    m["max_min_norm_train_loss_from_n"] = float(np.max(np.array(res["min_norm_train_loss"])[r >= 1.0 - 1e-9]))
    return m


def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    ratios, draws, n = (QUICK_RATIOS, QUICK_DRAWS, QUICK_N_TRAIN) if run.quick else (RATIOS, DRAWS, N_TRAIN)
    train, test = load_digits(run.seed, n)
    print(f"digits: n = {n} training images (of the 1077 of the training split), {len(test[0])} test images; "
          f"N from {int(round(ratios[0] * n))} to {int(round(ratios[-1] * n))} random Fourier features "
          f"(bandwidth {BANDWIDTH:g}), {draws} draw(s) each\n")

    res = sweep(ratios, draws, train, test, run.seed)
    print()
    agreement = library_agreement(ratios, train, test, run.seed)
    m = measure(res)
    results = {**res, **m, "agreement": agreement, "n_train": n, "draws": draws, "ridge": RIDGE,
               "bandwidth": BANDWIDTH}

    curves_figure(res, m, n, draws, run.out / "double_descent.png")
    why_figure(res, run.out / "why_the_peak.png")

    checks = [
        check("peak: min-norm test loss at N = n / best for N <= n/2 (ratio)", m["peak_loss_ratio"], ">=", PEAK_FACTOR),
        check("peak: min-norm test error at N = n / best for N <= n/2 (ratio)", m["peak_error_ratio"], ">=",
              PEAK_FACTOR),
        check("second descent: worst test loss for N >= 10n / classical optimum (best N <= n) (ratio)",
              m["second_descent_loss_ratio"], "<", SECOND_DESCENT_MAX),
        check("second descent: worst test error for N >= 10n / classical optimum (best N <= n) (ratio)",
              m["second_descent_error_ratio"], "<", SECOND_DESCENT_MAX),
        check(f"ridge (lambda = {RIDGE:g}): test loss at N = n / geometric mean at n/2 and 2n (ratio)",
              m["ridge_bump_loss_ratio"], "<=", RIDGE_BUMP_MAX),
        check(f"ridge (lambda = {RIDGE:g}): test error at N = n / geometric mean at n/2 and 2n (ratio)",
              m["ridge_bump_error_ratio"], "<=", RIDGE_BUMP_MAX),
        check("min-norm train loss, worst N >= n (squared loss)", m["max_min_norm_train_loss_from_n"], "<=",
              INTERPOLATION_LOSS),
        check("SVD fit vs linear.fit_least_squares, max |weight difference|",
              max(agreement.values()), "<=", AGREEMENT_TOLERANCE),
    ]
    second = ("n/a in --quick" if m["second_descent_error_ratio"] is None else
              f"{100 * m['worst_error_from_10n']:.1f}% for N >= 10n")
    return finish(run, results, f"min-norm test loss at N = n is {m['peak_loss_ratio']:.0f}x the best for N <= n/2 "
                  f"(error {100 * m['peak_error']:.1f}% vs {100 * m['best_error_up_to_half_n']:.1f}%); test error "
                  f"{second} vs classical optimum {100 * m['classical_optimum_error']:.1f}%; ridge "
                  f"{RIDGE:g} at N = n: {m['ridge_bump_loss_ratio']:.2f}x its neighbours "
                  f"({100 * m['ridge_test_error_at_n']:.1f}% error)", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
