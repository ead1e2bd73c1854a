"""Liverpool, Introduction to Neural Networks I, "Gradient descent: remarks" (Feature scaling: min-max, standardization): scaling reduces anisotropy in the loss landscape, so gradient descent converges in far fewer steps; LeCun et al. 1998, "Efficient BackProp", Sec. 4.3.

Setup: least squares predicting a wine's alcohol content from its 12 other chemical
measurements (the wine training split, 106 wines), with the features as they come (from
~0.1 to ~1700), min-max scaled to [0, 1], and standardized; every fit has a bias.  Full-batch
gradient descent from zero runs on each, in float64, at the best of a grid of learning rates
around 1 / lambda_max, against the closed-form least-squares loss.

Run: the loss is ``J(w) = ||A w - y||^2 / (2 n)`` with ``A = [x, 1]`` (the notes' ``J`` per
example), whose Hessian is ``H = A^T A / n``, the same everywhere.  For each scaling: the
eigenvalues of ``H``, the closed-form minimum ``J*`` (``linear.fit_least_squares``) and
gradient descent at each learning rate ``lr = f / lambda_max`` for ``f`` in ``LR_FACTORS``
(``lr >= 2 / lambda_max`` diverges), for at most ``BUDGET`` steps.  A two-feature version
(magnesium and colour intensity, centred) draws the landscape itself.

Measurement: the condition number ``kappa = lambda_max / lambda_min`` of ``H`` per scaling
(``condition_numbers.png``); the steps gradient descent needs to come within ``TOLERANCE``
of ``J*`` (relative) at its best learning rate, or "did not converge in BUDGET steps"
(``loss_vs_step.png``); the contours and gradient-descent paths of the two-feature problem
before and after standardization (``contours.png``).

Verdict: reproduced when standardization lowers the condition number by at least
``MIN_KAPPA_REDUCTION`` and gradient descent on the raw features needs at least
``MIN_SPEEDUP`` times the steps it needs on the standardized ones (a raw run that does not
converge counts as ``BUDGET`` steps, so the check is then steps(raw) >= BUDGET >=
MIN_SPEEDUP x steps(standardized)).

    python experiments/feature_scaling.py [--quick] [--seed 0] [--out runs/feature_scaling]
"""
# %% [markdown]
# # Feature scaling makes the loss landscape round
#
# Liverpool, "Gradient descent: remarks": "gradient-based optimizers converge faster when
# features have similar scale"; "scaling reduces anisotropy in the loss landscape".  For
# least squares the landscape is a quadratic bowl whose shape is the Hessian
# ``H = A^T A / n``: its eigenvalues are the curvatures along its axes.  Gradient descent
# must take a step below ``2 / lambda_max`` (or it diverges along the steepest axis), and
# then it crawls along the flattest axis at a rate set by ``lambda_min / lambda_max``: the
# number of steps grows like the condition number ``kappa = lambda_max / lambda_min``
# (LeCun et al. 1998, "Efficient BackProp", Sec. 4.3 and 5.1).  A feature measured in
# hundreds (proline, mg/L) next to one measured in tenths (hue) makes ``kappa`` enormous;
# rescaling the features changes the coordinates, not the best fit, and rounds the bowl.

# %%
from __future__ import annotations

import functools

import jax

jax.config.update("jax_enable_x64", True)  # kappa ~ 1e8 and J* to 0.1%: float64

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, figure, finish, save_figure, start, timed  # noqa: E402

from jaxnn import datasets, linear  # noqa: E402

# "Converged": within 0.1% of the closed-form loss, J - J* <= 1e-3 J*.  Loose enough to be
# what "trained" means in practice, tight enough that a run stuck in the long valley of the
# raw landscape (still 10-100x above J*) does not count.
TOLERANCE = 1e-3
# Learning rates f / lambda_max: gradient descent on a quadratic diverges for f >= 2; the
# best fixed rate is 2 / (lambda_max + lambda_min), just below f = 2 when kappa is large.
LR_FACTORS = (0.5, 1.0, 1.5, 1.8, 1.9, 1.95)
# The raw run's step budget; 100,000 full-batch steps take a few seconds.  Its kappa ~ 1.6e8
# would need ~1e9 steps: it is not expected to converge, and is reported as such.
BUDGET, QUICK_BUDGET = 100_000, 2_000
# "Far fewer steps": at least 10x (LeCun et al.: the steps grow like kappa; standardizing
# divides kappa by ~4e6 here).
MIN_SPEEDUP = 10.0
# "Reduces anisotropy": standardizing must divide kappa by at least 1000 (measured: ~4e6).
MIN_KAPPA_REDUCTION = 1e3
TARGET = "alcohol"
SCALINGS = {"raw": None, "min-max": "minmax", "standardized": "standard"}   # name -> load(scale=)
PAIR = ("magnesium", "color_intensity")   # the two-feature landscape: scales ~14 vs ~2.3
PAIR_STEPS = 40                           # gradient-descent steps drawn on its contours


# %% [markdown]
# ## Setup: the same regression under three scalings
#
# The loader fits each scaler on the training split (``jaxnn.datasets.preprocessing``:
# min-max ``x' = (x - min) / (max - min)``, standardization ``x' = (x - mu) / sigma``).  The
# target, alcohol (% vol), is the raw first column in all three; the other 12 columns are
# the features.  With a bias in the model, an affine rescaling of each feature spans the
# same predictions: the three problems share one minimum ``J*``, only its shape differs.

# %%
def problems(seed: int) -> dict:
    """name -> (A = [features, 1] (n, 13), y (n,)) in float64, features scaled per SCALINGS."""
    raw = datasets.load("wine", scale=None, seed=seed)
    column = raw.feature_names.index(TARGET)
    y = np.asarray(raw.train[0][:, column], np.float64)
    out = {}
    for name, scale in SCALINGS.items():
        x = np.asarray(datasets.load("wine", scale=scale, seed=seed).train[0], np.float64)
        features = np.delete(x, column, axis=1)
        out[name] = (np.c_[features, np.ones(len(features))], y)
    return out


def hessian_eigenvalues(design: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of ``H = A^T A / n``, the Hessian of J everywhere."""
    return np.linalg.eigvalsh(design.T @ design / len(design))


def closed_form_loss(design: np.ndarray, y: np.ndarray) -> float:
    """``J*``: the least-squares minimum from ``linear.fit_least_squares`` (an SVD solve)."""
    fit = linear.fit_least_squares(design[:, :-1], y)   # it adds the bias itself
    residual = np.asarray(fit.predict(design[:, :-1])) - y
    return float(residual @ residual / (2 * len(y)))


# %% [markdown]
# ## Run: gradient descent at every learning rate of the grid
#
# ``w <- w - lr grad J(w)`` with ``grad J = A^T (A w - y) / n``, from ``w = 0``.  One
# compiled ``lax.scan`` over the steps, ``vmap``-ed over the learning rates, records the loss
# after every step.

# %%
def loss(w, design, y):
    residual = design @ w - y
    return residual @ residual / (2 * y.shape[0])


def descend(design, y, learning_rate, steps: int, w0):
    """The weights after each of ``steps`` gradient steps from ``w0``: (steps + 1, d)."""
    def step(w, _):
        w = w - learning_rate * design.T @ (design @ w - y) / y.shape[0]
        return w, w

    return jnp.concatenate([w0[None], jax.lax.scan(step, w0, None, length=steps)[1]])


@functools.partial(jax.jit, static_argnames="steps")
def loss_curves(design, y, learning_rates, steps: int):
    """J after 0..steps gradient steps from w = 0, one row per learning rate: (n_lr, steps + 1)."""
    def curve(learning_rate):
        def step(w, _):
            w = w - learning_rate * design.T @ (design @ w - y) / y.shape[0]
            return w, loss(w, design, y)

        w0 = jnp.zeros(design.shape[1])
        return jnp.concatenate([loss(w0, design, y)[None], jax.lax.scan(step, w0, None, length=steps)[1]])

    return jax.vmap(curve)(learning_rates)


def steps_to_converge(curve: np.ndarray, target: float) -> int | None:
    """The first step whose loss is <= target, or None if none is within the budget."""
    below = np.flatnonzero(curve <= target)
    return int(below[0]) if below.size else None


def run_scaling(name: str, design: np.ndarray, y: np.ndarray, budget: int) -> dict:
    eigenvalues = hessian_eigenvalues(design)
    j_star = closed_form_loss(design, y)
    learning_rates = np.array(LR_FACTORS) / eigenvalues[-1]
    curves, seconds = timed(lambda: np.asarray(loss_curves(design, y, learning_rates, budget)))
    target = j_star * (1 + TOLERANCE)
    steps = [steps_to_converge(c, target) for c in curves]
    converged = [k for k, s in enumerate(steps) if s is not None]
    best = min(converged, key=lambda k: steps[k]) if converged else int(np.argmin(curves[:, -1]))
    out = {"lambda_max": float(eigenvalues[-1]), "lambda_min": float(eigenvalues[0]),
           "condition_number": float(eigenvalues[-1] / eigenvalues[0]), "closed_form_loss": j_star,
           "learning_rates": learning_rates, "steps_per_learning_rate": steps,
           "best_learning_rate": float(learning_rates[best]), "best_lr_factor": LR_FACTORS[best],
           "steps": steps[best], "converged": steps[best] is not None,
           "final_relative_excess_loss": float((curves[best, -1] - j_star) / j_star), "seconds": seconds,
           "curve": curves[best]}
    verdict = (f"{steps[best]} steps" if out["converged"] else
               f"did not converge in {budget} steps (J - J* = {out['final_relative_excess_loss']:.2g} J* at the end)")
    print(f"{name:>13}: kappa {out['condition_number']:.3g} (lambda {eigenvalues[0]:.3g} .. {eigenvalues[-1]:.3g}); "
          f"J* {j_star:.5f}; best lr {LR_FACTORS[best]} / lambda_max: {verdict}  [{seconds:.1f} s]")
    return out


# %% [markdown]
# ## The landscape itself: two features, before and after standardization
#
# Alcohol from magnesium (mg/L, spread ~14) and colour intensity (spread ~2.3), both
# centred, as is the target, so no bias is needed and the weight plane ``(w1, w2)`` is the
# whole problem.  In the raw units the bowl is a long, thin valley: a step that is safe
# across it is tiny along it.  Standardized, it is nearly round, and gradient descent walks
# almost straight to the minimum.

# %%
def pair_problem(seed: int, scale: str | None) -> tuple[np.ndarray, np.ndarray]:
    ds = datasets.load("wine", scale=scale, seed=seed)
    raw = datasets.load("wine", scale=None, seed=seed)
    x = np.asarray(ds.train[0][:, [ds.feature_names.index(f) for f in PAIR]], np.float64)
    y = np.asarray(raw.train[0][:, raw.feature_names.index(TARGET)], np.float64)
    return x - x.mean(0), y - y.mean()


def pair_landscape(seed: int) -> dict:
    """For raw and standardized: the closed-form w* and the gradient-descent path at the best fixed
    learning rate of a quadratic, 2 / (lambda_max + lambda_min)."""
    out = {}
    for name, scale in (("raw", None), ("standardized", "standard")):
        x, y = pair_problem(seed, scale)
        eigenvalues = hessian_eigenvalues(x)
        w_star = np.linalg.lstsq(x, y, rcond=None)[0]
        path = np.asarray(descend(x, y, 2 / (eigenvalues[-1] + eigenvalues[0]), PAIR_STEPS, jnp.zeros(2)))
        out[name] = {"x": x, "y": y, "w_star": w_star, "path": path,
                     "condition_number": float(eigenvalues[-1] / eigenvalues[0]),
                     "distance_left": float(np.linalg.norm(path[-1] - w_star) / np.linalg.norm(w_star))}
        print(f"two features, {name}: kappa {out[name]['condition_number']:.3g}; after {PAIR_STEPS} steps "
              f"the distance to w* is {out[name]['distance_left']:.2g} of |w*|")
    return out


# %% [markdown]
# ## Figures: the two-feature landscapes, the condition numbers, the loss curves

# %%
def plot_contours(pair: dict, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))
    for ax, (name, p) in zip(axes, pair.items()):
        path_w, w_star = p["path"], p["w_star"]
        margin = 0.3 * np.abs(w_star).max()
        low, high = np.minimum(path_w.min(0), w_star) - margin, np.maximum(path_w.max(0), w_star) + margin
        w1, w2 = np.meshgrid(np.linspace(low[0], high[0], 201), np.linspace(low[1], high[1], 201))
        grid = np.stack([w1.ravel(), w2.ravel()], 1)
        values = ((p["x"] @ grid.T - p["y"][:, None]) ** 2).mean(0).reshape(w1.shape) / 2
        j_star = loss(w_star, p["x"], p["y"])
        levels = j_star + (values.max() - j_star) * np.geomspace(1e-3, 1, 12)
        contour = ax.contour(w1, w2, values, levels=levels, cmap="viridis", linewidths=0.8)
        ax.plot(path_w[:, 0], path_w[:, 1], "o-", color="C3", markersize=2.5, linewidth=1,
                label=f"GD, {PAIR_STEPS} steps")
        ax.plot(0, 0, "s", color="C3", markersize=6, label="start w = 0")
        ax.plot(*w_star, "k*", markersize=12, label="minimum w*")
        ax.set_aspect("equal")   # equal scales on both axes: the true shape of the bowl
        unit = "% alcohol per {} unit" if name == "raw" else "% alcohol per standard deviation of {}"
        ax.set(title=f"{name} features: kappa = {p['condition_number']:.2g}\n"
                     f"after {PAIR_STEPS} steps |w - w*| / |w*| = {p['distance_left']:.1g}",
               xlabel=f"w1 ({unit.format(PAIR[0])})", ylabel=f"w2 ({unit.format(PAIR[1])})")
        fig.colorbar(contour, ax=ax, shrink=0.8, label="loss J (% alcohol squared)")
        ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
    fig.suptitle("Least squares, alcohol from magnesium and colour intensity (centred): contours of J(w1, w2);\n"
                 "gradient descent (GD) at each one's best fixed learning rate 2 / (lambda_max + lambda_min)",
                 fontsize=10)
    save_figure(fig, path)


def plot_condition_numbers(runs: dict, path) -> None:
    fig, ax = figure("Hessian A^T A / n: condition number per scaling", "scaling of the 12 wine features",
                     "kappa = lambda_max / lambda_min (log scale)", yscale="log")
    names = list(runs)
    kappas = [runs[n]["condition_number"] for n in names]
    bars = ax.bar(names, kappas, color=["C3", "C1", "C2"],
                  label=["raw: features from ~0.1 to ~1700", "min-max: each feature in [0, 1]",
                         "standardized: mean 0, standard deviation 1"])
    for bar, kappa in zip(bars, kappas):
        ax.text(bar.get_x() + bar.get_width() / 2, kappa * 1.3, f"{kappa:.3g}", ha="center", fontsize=9)
    ax.set_ylim(1, max(kappas) * 20)
    save_figure(fig, path)


def plot_loss_curves(runs: dict, budget: int, path) -> None:
    fig, ax = figure("Gradient descent at each scaling's best learning rate", "step (log scale)",
                     "(J - J*) / J*, relative excess loss (log scale)", xscale="log", yscale="log",
                     size=(6.5, 5.5))
    for (name, r), color in zip(runs.items(), ("C3", "C1", "C2")):
        excess = (r["curve"] - r["closed_form_loss"]) / r["closed_form_loss"]
        steps = np.arange(len(excess))
        outcome = f"{r['steps']} steps" if r["converged"] else f"not converged in {budget} steps"
        ax.plot(steps[1:], np.maximum(excess[1:], 1e-16), color=color,
                label=f"{name} (kappa {r['condition_number']:.2g}, lr {r['best_lr_factor']} / lambda_max): {outcome}")
        if r["converged"]:
            ax.plot(r["steps"], TOLERANCE, "o", color=color)
    ax.axhline(TOLERANCE, color="k", linestyle=":", linewidth=0.8, label=f"tolerance {TOLERANCE:g} (converged below)")
    ax.set_ylim(TOLERANCE / 100, None)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.45, -0.16))
    save_figure(fig, path)


# %% [markdown]
# ## Measurement and verdict
#
# Standardizing must shrink the condition number by orders of magnitude, and gradient
# descent on the standardized features must reach 0.1% of ``J*`` in at least ten times
# fewer steps than on the raw ones, or than the raw run's whole budget if it never gets
# there.  Min-max scaling is measured too: it equalizes the ranges but does not centre the
# features, so a bias direction stays correlated with them (it lands in between).

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    budget = QUICK_BUDGET if run.quick else BUDGET
    runs = {name: run_scaling(name, design, y, budget) for name, (design, y) in problems(run.seed).items()}
    pair = pair_landscape(run.seed)

    raw, standardized = runs["raw"], runs["standardized"]
    raw_steps = raw["steps"] if raw["converged"] else budget          # at least the budget
    standardized_steps = standardized["steps"] if standardized["converged"] else budget
    speedup = raw_steps / standardized_steps
    kappa_reduction = raw["condition_number"] / standardized["condition_number"]

    plot_contours(pair, run.out / "contours.png")
    plot_condition_numbers(runs, run.out / "condition_numbers.png")
    plot_loss_curves(runs, budget, run.out / "loss_vs_step.png")

    results = {"budget": budget, "tolerance": TOLERANCE, "lr_factors": list(LR_FACTORS),
               "speedup_raw_over_standardized": speedup, "kappa_reduction": kappa_reduction,
               **{f"{name}_{key}": value for name, r in runs.items() for key, value in r.items() if key != "curve"},
               **{f"pair_{name}_{key}": p[key] for name, p in pair.items()
                  for key in ("condition_number", "distance_left", "w_star")}}
    checks = [check("condition number, raw / standardized (ratio)", kappa_reduction, ">=", MIN_KAPPA_REDUCTION),
              check(f"GD steps to {TOLERANCE:g} of J*, raw (>= budget if not converged) / standardized (ratio)",
                    speedup, ">=", MIN_SPEEDUP)]

    def steps_text(r):
        return f"{r['steps']} steps" if r["converged"] else f"did not converge in {budget} steps"

    summary = (f"kappa raw {raw['condition_number']:.3g}, min-max {runs['min-max']['condition_number']:.3g}, "
               f"standardized {standardized['condition_number']:.3g}; GD to {TOLERANCE:g} of J*: raw {steps_text(raw)}, "
               f"min-max {steps_text(runs['min-max'])}, standardized {steps_text(standardized)} "
               f"({speedup:.0f}x{'+' if not raw['converged'] else ''}, target >= {MIN_SPEEDUP:g}x)")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
