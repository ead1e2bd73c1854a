"""Liverpool, Introduction to Neural Networks I, "Limitations of neural networks: data" (aleatoric and epistemic uncertainty); Lakshminarayanan et al. 2017, Fig. 1: a deep ensemble of mean/variance networks separates the two: epistemic uncertainty (the members' disagreement) grows where there are no data, aleatoric uncertainty (the learned noise) stays at the noise level, and follows it when the noise varies.

Setup: y = x^3 + eps with eps ~ N(0, 3^2) at 20 points drawn uniformly in [-4, 4]; five
networks (one hidden layer of 100 ReLU units, outputs [mu | log sigma^2], Gaussian negative
log-likelihood) trained as one program by ``train.fit_ensemble``, each from its own init and
batch order.  A heteroscedastic variant (100 points, noise std 1 + 1.5 |x|) is trained the same way.

Scaling: the network sees x / 4 (the training interval becomes [-1, 1]) and the targets
standardized with their training mean and std; its mu and sigma^2 are mapped back to y's
units (mu = mean + std mu', sigma^2 = std^2 sigma'^2).  The likelihood in the scaled
units differs from the one in y's units by a constant, so the fit is the same; the scales
only keep the inputs and targets near 1, where Adam's step and the default
initialization are meant to work.

Run: AdamW (learning rate 1e-2, weight decay 0.2 on every parameter), 300 epochs of
batches of 5 (25 for the 100 points: 4 steps an epoch in both).  The decay pulls every
parameter towards the zero network, whose log-variance output is 0 (sigma = the targets'
std): with 20 points a variance head left free shrinks sigma until the mean fits the
noise (the likelihood rewards that), and the decay keeps it from doing so.

Measurement: the ensemble as one Gaussian mixture (Lakshminarayanan et al., eq. for the
mixture): mean mu*(x) = mean_k mu_k(x), variance = aleatoric + epistemic, with aleatoric =
mean_k sigma_k^2(x) (the noise each member learned) and epistemic = var_k mu_k(x) (how much
the members' means disagree).  Figures: ``uncertainty.png`` (the classic band plot, and
the two variances separately along x) and ``heteroscedastic.png``.

Verdict: reproduced when the epistemic variance at |x| = 6 is at least
``EPISTEMIC_GROWTH`` times its mean over |x| <= 2; the median over [-4, 4] of the aleatoric
variance is within a factor ``ALEATORIC_FACTOR`` of the true 9; at least ``COVERAGE`` of
fresh noisy points in [-4, 4] lie within +-3 sigma of the mixture; and in the
heteroscedastic variant the predicted noise std at |x| = 3.5 is at least
``HETERO_SIGMA_RATIO`` times that at |x| = 0.5 (truth: 6.25 / 1.75 = 3.6) and correlates
with the true std over [-4, 4] by at least ``HETERO_CORRELATION``.

    python experiments/uncertainty.py [--quick] [--seed 0] [--out runs/uncertainty]
"""

# %% [markdown]
# # Aleatoric and epistemic uncertainty with a deep ensemble
#
# Liverpool, Introduction to Neural Networks I, "Limitations of neural networks: data":
# **aleatoric** uncertainty is the noise in the observations, "cannot be reduced by adding
# more data", "can be modelled using probabilistic outputs"; **epistemic** uncertainty is
# the model's, "high in regions with little or no training data", "often estimated using
# Bayesian models or ensembles".  Lakshminarayanan et al. (2017, Fig. 1) show both on
# ``y = x^3 + eps``: each network of an ensemble predicts a mean and a variance (the
# aleatoric part); where the data end, the networks' means go their own ways (the
# epistemic part).

# %%
from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
from common import check, exit_with, finish, save_figure, start, timed

from jaxnn import models, optim, train

# Away from the data the members must disagree far more than among the data: at |x| = 6,
# 2 units beyond the training interval, the variance of their means must be >= 10x its
# mean over |x| <= 2 (seeds 0-15: 10-146x, and 6.5x for seed 10, whose 20 points leave
# [-4, -2.9] empty).
EPISTEMIC_GROWTH = 10.0
# The learned noise variance is the true 9 within a factor 2: 20 points estimate a variance
# only to about +-30% (sqrt(2/20)), and the seeds' realized noise variances span 4 to 13
# (seeds 0-15 measured 0.56-1.81 x 9).
ALEATORIC_FACTOR = 2.0
# +-3 sigma of a calibrated Gaussian holds 99.7% of the points; 90% leaves room for the
# error of 20 points' estimates of both the mean and the variance (seeds 0-15: 0.93-1.00,
# and 0.88 for seed 10).
COVERAGE = 0.90
# The heteroscedastic noise std grows 3.6x from |x| = 0.5 to |x| = 3.5; a head that tracks
# it must show at least 2x (a constant variance shows 1x).  Seeds 0-15 measured 2.2-5.0x.
HETERO_SIGMA_RATIO = 2.0
# A strong correlation by the usual convention (|r| >= 0.7) between predicted and true
# noise std along [-4, 4] (seeds 0-15 measured 0.79-0.98).
HETERO_CORRELATION = 0.7

MEMBERS, HIDDEN = 5, 100
NOISE_STD = 3.0                                # the homoscedastic noise of Fig. 1
TRAIN_RANGE, PLOT_RANGE = 4.0, 6.0             # x in [-4, 4] for training, [-6, 6] for the figure
N_POINTS, N_HETERO = 20, 100
EPOCHS, STEPS_PER_EPOCH = 300, 4               # batch size = N / 4: 5 for 20 points, 25 for 100
LEARNING_RATE, WEIGHT_DECAY = 1e-2, 0.2
N_FRESH = 10_000                               # fresh points for the coverage
QUICK_EPOCHS, QUICK_FRESH = 20, 500            # --quick: both variants with 20 points, one compiled epoch
GRID = np.linspace(-PLOT_RANGE, PLOT_RANGE, 241)   # step 0.05: contains -6, -2, 2, 6 exactly


def hetero_std(x):
    """The heteroscedastic variant's noise std: 1 at x = 0, 7 at |x| = 4."""
    return 1.0 + 1.5 * np.abs(x)


# %% [markdown]
# ## Setup: the data, and the scales the network sees
#
# 20 points is little data: the cubic's steep ends are seen through a handful of points,
# and nothing at all is seen beyond |x| = 4.

# %%
def make_data(rng: np.random.Generator, n: int, noise_std, n_fresh: int) -> dict:
    """``n`` training points and ``n_fresh`` fresh ones, x uniform in [-4, 4], y = x^3 + noise."""
    x = rng.uniform(-TRAIN_RANGE, TRAIN_RANGE, n)
    y = x**3 + noise_std(x) * rng.standard_normal(n)
    x_fresh = rng.uniform(-TRAIN_RANGE, TRAIN_RANGE, n_fresh)
    y_fresh = x_fresh**3 + noise_std(x_fresh) * rng.standard_normal(n_fresh)
    return {"x": x, "y": y, "x_fresh": x_fresh, "y_fresh": y_fresh, "y_mean": y.mean(), "y_std": y.std()}


def scaled_x(x: np.ndarray) -> np.ndarray:
    """The network's input: x / 4, one column (the training interval is [-1, 1])."""
    return (x / TRAIN_RANGE)[:, None].astype(np.float32)


# %% [markdown]
# ## Run: five mean/variance networks as one compiled program
#
# `train.init_ensemble` stacks five inits (member k from ``fold_in(key, k)``);
# `train.fit_ensemble` trains all five in one ``jax.vmap``-ed epoch, member k with its
# own shuffling key, exactly as five `train.fit` runs would.

# %%
def train_ensemble(model, optimizer, data: dict, epochs: int, seed: int):
    """The trained params stack; targets standardized with the training mean and std."""
    y_scaled = ((data["y"] - data["y_mean"]) / data["y_std"])[:, None].astype(np.float32)
    params = train.init_ensemble(model, jax.random.key(seed), (1,), MEMBERS)
    params, history = train.fit_ensemble(model, params, "gaussian_nll", optimizer, scaled_x(data["x"]), y_scaled,
                                         epochs=epochs, batch_size=len(data["x"]) // STEPS_PER_EPOCH, key=seed + 1)
    return params, history


def mixture(model, params, data: dict, x: np.ndarray) -> dict:
    """Per x: each member's mu and sigma^2 in y's units, the mixture's mean, aleatoric,
    epistemic and total variance."""
    out = np.asarray(train.predict_ensemble(model, params, scaled_x(x)), np.float64)   # (K, N, 2)
    mu = data["y_mean"] + data["y_std"] * out[..., 0]
    var = data["y_std"] ** 2 * np.exp(out[..., 1])
    aleatoric, epistemic = var.mean(axis=0), mu.var(axis=0)
    return {"mu": mu, "mean": mu.mean(axis=0), "aleatoric": aleatoric, "epistemic": epistemic,
            "total": aleatoric + epistemic}


def predict_all(model, params, data: dict) -> tuple[dict, dict]:
    """The mixture on the plotting grid and at the fresh points, in one predict call."""
    both = mixture(model, params, data, np.concatenate([GRID, data["x_fresh"]]))
    split = lambda sl: {name: value[..., sl] for name, value in both.items()}  # noqa: E731
    return split(slice(None, len(GRID))), split(slice(len(GRID), None))


# %% [markdown]
# ## Measurement
#
# Epistemic: the members' disagreement at |x| = 6 against among the data (|x| <= 2).
# Aleatoric: the median along [-4, 4] (beyond the outermost training points, and in gaps
# between them, the variance head extrapolates too: the median is the typical value).
# Coverage: the fraction of fresh noisy points within +-3 sigma of the mixture.

# %%
def measure(grid: dict, fresh: dict, data: dict, noise_var) -> dict:
    inner, edge, inside = np.abs(GRID) <= 2, np.isclose(np.abs(GRID), PLOT_RANGE), np.abs(GRID) <= TRAIN_RANGE
    aleatoric_ratio = grid["aleatoric"][inside] / noise_var(GRID[inside])
    within = np.abs(data["y_fresh"] - fresh["mean"]) <= 3 * np.sqrt(fresh["total"])
    return {"epistemic_at_6": float(grid["epistemic"][edge].mean()),
            "epistemic_inner_mean": float(grid["epistemic"][inner].mean()),
            "epistemic_growth": float(grid["epistemic"][edge].mean() / grid["epistemic"][inner].mean()),
            "aleatoric_median_ratio": float(np.median(aleatoric_ratio)),
            "aleatoric_mean_ratio": float(aleatoric_ratio.mean()),
            "aleatoric_median_variance": float(np.median(grid["aleatoric"][inside])),
            "realized_noise_variance": float(np.mean((data["y"] - data["x"] ** 3) ** 2)),
            "coverage_3sigma": float(within.mean()),
            "coverage_2sigma": float((np.abs(data["y_fresh"] - fresh["mean"]) <= 2 * np.sqrt(fresh["total"])).mean())}


def measure_hetero(grid: dict) -> dict:
    sigma = np.sqrt(grid["aleatoric"])
    at = lambda a: float(np.interp([-a, a], GRID, sigma).mean())  # noqa: E731  (mean of -a and a)
    inside = np.abs(GRID) <= TRAIN_RANGE
    return {"sigma_at_0.5": at(0.5), "sigma_at_3.5": at(3.5), "sigma_ratio": at(3.5) / at(0.5),
            "true_sigma_ratio": float(hetero_std(3.5) / hetero_std(0.5)),
            "sigma_correlation": float(np.corrcoef(sigma[inside], hetero_std(GRID[inside]))[0, 1])}


# %% [markdown]
# ## Figures: the band plot, and the two variances separately

# %%
def band_panel(ax, grid: dict, data: dict, title: str, truth_label: str) -> None:
    ax.axvspan(-TRAIN_RANGE, TRAIN_RANGE, color="0.93", zorder=0, label="training interval [-4, 4]")
    sd_total, sd_aleatoric = np.sqrt(grid["total"]), np.sqrt(grid["aleatoric"])
    ax.fill_between(GRID, grid["mean"] - 3 * sd_total, grid["mean"] + 3 * sd_total, color="tab:blue", alpha=0.18,
                    linewidth=0, label="+-3 sigma, total (aleatoric + epistemic; dotted edges)")
    for sign in (-1, 1):
        ax.plot(GRID, grid["mean"] + sign * 3 * sd_total, color="tab:blue", linestyle=":", linewidth=1)
    ax.fill_between(GRID, grid["mean"] - 3 * sd_aleatoric, grid["mean"] + 3 * sd_aleatoric, color="tab:orange",
                    alpha=0.35, linewidth=0, label="+-3 sigma, aleatoric only")
    for k, mu in enumerate(grid["mu"]):
        ax.plot(GRID, mu, color="tab:blue", linewidth=0.7, alpha=0.6, label="each member's mean" if k == 0 else None)
    ax.plot(GRID, grid["mean"], color="tab:blue", linewidth=2, label="ensemble mean")
    ax.plot(GRID, GRID**3, color="k", linestyle="--", linewidth=1.2, label=truth_label)
    ax.plot(data["x"], data["y"], "o", color="tab:red", markersize=4, label=f"training points ({len(data['x'])})")
    ax.set(title=title, xlabel="x", ylabel="y", xlim=(-PLOT_RANGE, PLOT_RANGE), ylim=(-250, 250))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def plot_homoscedastic(grid: dict, data: dict, m: dict, path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    band_panel(left, grid, data, f"Deep ensemble of {MEMBERS} on y = x^3 + eps, eps ~ N(0, 3^2)",
               "truth x^3")
    right.axvspan(-TRAIN_RANGE, TRAIN_RANGE, color="0.93", zorder=0, label="training interval [-4, 4]")
    right.plot(GRID, grid["epistemic"], color="tab:blue", linewidth=2,
               label=f"epistemic: variance of the members' means (x{m['epistemic_growth']:.0f} at |x| = 6 "
                     "vs |x| <= 2)")
    right.plot(GRID, grid["aleatoric"], color="tab:orange", linewidth=2,
               label=f"aleatoric: mean of the members' sigma^2 (median in [-4, 4]: "
                     f"{m['aleatoric_median_variance']:.1f})")
    right.axhline(NOISE_STD**2, color="k", linestyle="--", linewidth=1.2, label="true noise variance 9")
    right.set(title="The two uncertainties, separately", xlabel="x", ylabel="variance (y units^2, log scale)",
              yscale="log", xlim=(-PLOT_RANGE, PLOT_RANGE))
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="upper center")
    save_figure(fig, path)


def plot_heteroscedastic(grid: dict, data: dict, h: dict, path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    band_panel(left, grid, data, "Heteroscedastic noise: std 1 + 1.5 |x|", "truth x^3")
    right.axvspan(-TRAIN_RANGE, TRAIN_RANGE, color="0.93", zorder=0, label="training interval [-4, 4]")
    right.plot(GRID, hetero_std(GRID), color="k", linestyle="--", linewidth=1.2, label="true noise std 1 + 1.5 |x|")
    right.plot(GRID, np.sqrt(grid["aleatoric"]), color="tab:orange", linewidth=2,
               label=f"aleatoric std, predicted (x{h['sigma_ratio']:.1f} from |x| = 0.5 to 3.5; truth "
                     f"x{h['true_sigma_ratio']:.1f})")
    right.plot(GRID, np.sqrt(grid["epistemic"]), color="tab:blue", linewidth=2, label="epistemic std, predicted")
    right.set(title="The aleatoric head follows the noise", xlabel="x", ylabel="standard deviation (y units)",
              xlim=(-PLOT_RANGE, PLOT_RANGE), ylim=(0, 25))
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="upper center")
    save_figure(fig, path)


# %% [markdown]
# ## Verdict
#
# What to look for in ``uncertainty.png``: inside [-4, 4] the orange (aleatoric) curve sits
# near the true noise variance 9 and the blue (epistemic) one is far below it: there the
# uncertainty is the noise, and more data would not shrink it.  Beyond the data the blue
# curve climbs by more than an order of magnitude: the members disagree.  How far they
# disagree is only as much as five ReLU networks, each extrapolating with a straight
# line, happen to differ: at |x| = 6 the truth (216) is far outside the band.  An
# ensemble's epistemic uncertainty is an estimate, and where the data end it is often too
# small; the *growth* is the signal to trust, not the size.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    epochs = QUICK_EPOCHS if run.quick else EPOCHS
    n_fresh = QUICK_FRESH if run.quick else N_FRESH
    model = models.mlp([HIDDEN, 2], activation="relu")   # outputs [mu | log sigma^2]
    optimizer = optim.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY)  # one object: one compiled epoch

    data = make_data(np.random.default_rng(run.seed), N_POINTS, lambda x: NOISE_STD + 0 * x, n_fresh)
    (params, history), seconds = timed(train_ensemble, model, optimizer, data, epochs, run.seed)
    grid, fresh = predict_all(model, params, data)
    m = measure(grid, fresh, data, lambda x: NOISE_STD**2 + 0 * x)
    print(f"homoscedastic: {epochs} epochs of {MEMBERS} members in {seconds:.1f} s (compiling included); final "
          f"losses {np.round(history['loss'][-1], 3).tolist()}")
    print(f"  epistemic variance at |x| = 6: {m['epistemic_at_6']:.1f}, mean over |x| <= 2: "
          f"{m['epistemic_inner_mean']:.2f} (x{m['epistemic_growth']:.1f})")
    print(f"  aleatoric variance in [-4, 4]: median {m['aleatoric_median_variance']:.2f} (true 9; these 20 points' "
          f"noise: {m['realized_noise_variance']:.2f}); coverage of fresh points: +-3 sigma "
          f"{m['coverage_3sigma']:.3f}, +-2 sigma {m['coverage_2sigma']:.3f}")

    n_hetero = N_POINTS if run.quick else N_HETERO   # --quick: the same shapes, nothing recompiles
    hetero_data = make_data(np.random.default_rng(run.seed), n_hetero, hetero_std, n_fresh)
    (hetero_params, _), hetero_seconds = timed(train_ensemble, model, optimizer, hetero_data, epochs, run.seed)
    hetero_grid, hetero_fresh = predict_all(model, hetero_params, hetero_data)
    h = measure_hetero(hetero_grid)
    hetero_noise_var = lambda x: hetero_std(x) ** 2  # noqa: E731
    h["coverage_3sigma"] = measure(hetero_grid, hetero_fresh, hetero_data, hetero_noise_var)["coverage_3sigma"]
    print(f"heteroscedastic ({n_hetero} points, {hetero_seconds:.1f} s): predicted noise std {h['sigma_at_0.5']:.2f} "
          f"at |x| = 0.5, {h['sigma_at_3.5']:.2f} at |x| = 3.5 (x{h['sigma_ratio']:.2f}; truth "
          f"x{h['true_sigma_ratio']:.2f}); correlation with the true std {h['sigma_correlation']:.3f}\n")

    plot_homoscedastic(grid, data, m, run.out / "uncertainty.png")
    plot_heteroscedastic(hetero_grid, hetero_data, h, run.out / "heteroscedastic.png")
    results = {**m, "heteroscedastic": h, "epochs": epochs, "members": MEMBERS, "train_seconds": seconds,
               "hetero_train_seconds": hetero_seconds, "final_losses": history["loss"][-1]}
    checks = [check("epistemic variance at |x| = 6 / its mean over |x| <= 2 (ratio)", m["epistemic_growth"], ">=",
                    EPISTEMIC_GROWTH),
              check("aleatoric variance in [-4, 4], median / true 9 (ratio)", m["aleatoric_median_ratio"], ">=",
                    1 / ALEATORIC_FACTOR),
              check("aleatoric variance in [-4, 4], median / true 9 (ratio)", m["aleatoric_median_ratio"], "<=",
                    ALEATORIC_FACTOR),
              check("fresh points in [-4, 4] within +-3 sigma of the mixture (fraction)", m["coverage_3sigma"], ">=",
                    COVERAGE),
              check("heteroscedastic: predicted noise std at |x| = 3.5 / at 0.5 (ratio)", h["sigma_ratio"], ">=",
                    HETERO_SIGMA_RATIO),
              check("heteroscedastic: correlation of predicted and true noise std in [-4, 4]",
                    h["sigma_correlation"], ">=", HETERO_CORRELATION)]
    return finish(run, results, f"epistemic variance x{m['epistemic_growth']:.0f} at |x| = 6 vs |x| <= 2; aleatoric "
                  f"{m['aleatoric_median_variance']:.1f} (true 9); {100 * m['coverage_3sigma']:.1f}% of fresh points "
                  f"within +-3 sigma; heteroscedastic std x{h['sigma_ratio']:.1f} (truth x{h['true_sigma_ratio']:.1f})",
                  checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
