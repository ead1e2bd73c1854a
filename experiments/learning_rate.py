"""Liverpool, Introduction to Neural Networks I, "Gradient descent: remarks"; Nocedal & Wright 2006 (gradient descent on a quadratic); Smith 2017, "Cyclical learning rates" (the range test): too small a learning rate crawls, too large diverges, gradient descent on least squares converges iff lr < 2 / lambda_max(H), and the range test finds a rate that trains a network.

Setup: full-batch gradient descent from w = 0 on least squares (jaxnn's mean squared error,
the bundled diabetes data: 264 training examples, 10 standardized features and a bias) at 26
learning rates from 0.001 to 1.2 times 2 / lambda_max(H), with the Hessian H computed by
numpy.  On the 8x8 digits a 64-64-10 ReLU MLP gets the learning-rate range test (plain SGD,
batch 8, 200 steps from 1e-4 to 100), then 5 epochs of SGD at the suggested rate and at 10
times the rate where the test's loss blew up.

Run: (1) the mean squared error of a linear model ``mean((x w + b - y)^2)`` has the constant
Hessian ``H = 2 X^T X / n`` (``X`` with a column of ones for the bias); numpy gives its
largest eigenvalue and ``jax.hessian`` of the library's loss confirms it.  Gradient descent
``w <- w - lr grad J(w)`` runs ``MAX_STEPS`` steps at every rate of the grid at once (one
``jax.vmap`` over the rates of one compiled ``lax.scan``).  (2) ``optim.lr_finder`` sweeps the
rate exponentially while training, smooths the mini-batch loss and suggests the rate where
it falls fastest; ``train.fit`` then trains from the same start at that rate and at ten
times the rate where the range test stopped (its smoothed loss above 4x its minimum).

Measurement: the steps until the excess loss ``J(w_t) - J*`` (``J*`` from the closed form)
falls to ``CONVERGED_FRACTION`` of its start, per rate (``steps_vs_lr.png``); whether the
loss after ``MAX_STEPS`` steps is above its start or not finite (diverged); the loss curves
of six rates (``loss_curves.png``); the range-test curve with its suggestion, and the test
accuracy (or the NaN) of the two networks (``range_test.png``).

Verdict: reproduced when gradient descent converges at 0.9 x and 0.99 x the bound and
diverges at 1.01 x and 1.1 x, the steps are U-shaped in the rate (the fewest at an interior
rate; the smallest rate and the largest converging one each at least ``U_RATIO`` times
slower), the suggested rate reaches ``TARGET_ACCURACY`` on the validation and the test
split in 5 epochs, and
10 x the blow-up rate diverges (a NaN, or a final loss above the starting loss).

    python experiments/learning_rate.py [--quick] [--seed 0] [--out runs/learning_rate]
"""

# %% [markdown]
# # The learning rate: too small, right, too large
#
# Liverpool, "Gradient descent: remarks": gradient descent ``w := w - alpha grad J(w_k)``
# is "working correctly if the loss decreases after every iteration"; too small a step
# crawls, too large a step overshoots and the loss grows.  On a quadratic the line between
# the two is exact: with Hessian ``H``, the error along the eigenvector of eigenvalue
# ``lambda`` is multiplied by ``1 - lr lambda`` at each step, so gradient descent converges
# iff ``|1 - lr lambda| < 1`` for every eigenvalue, i.e. ``lr < 2 / lambda_max``
# (Nocedal & Wright 2006, ch. 3; Boyd & Vandenberghe 2004, ch. 9).
#
# A network's loss is not a quadratic and its Hessian changes as it trains, so in practice
# the rate is found by experiment: the learning-rate range test (Smith 2017) raises the
# rate at every step of one short run and watches the loss; the lectures' rule "the
# recommended minimum learning rate is the value where the loss decreases the fastest" is
# what it reads off.

# %%
from __future__ import annotations

import warnings

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from common import check, exit_with, figure, finish, save_figure, start

from jaxnn import datasets, losses, models, optim, train

# The bound is checked 10% and 1% on either side of it: gradient descent must converge
# below it and diverge above it (a bound that is off by a factor, e.g. forgetting the 2 in
# the Hessian of a mean squared error, fails both).
BELOW_BOUND = (0.9, 0.99)
ABOVE_BOUND = (1.01, 1.1)
# "Converged": the excess loss J(w_t) - J* is down to 0.1% of its start (Liverpool's
# convergence test, "J decreases by less than 1e-3 in one iteration", would stop a tiny
# rate at once: its loss hardly moves per step; we know J* here, so we can ask for it).
CONVERGED_FRACTION = 1e-3
MAX_STEPS, QUICK_MAX_STEPS = 10_000, 1_000      # enough for 0.001 x the bound (~7800 steps)
# U-shaped: the smallest rate and the largest rate that still converges each take at least
# 10x the fewest steps (gradient descent's rate of convergence is linear in lr at the left
# end and (1 - lr lambda_max)-limited at the right end: both blow up, by far more than 10x).
U_RATIO = 10.0
# The grid, in units of the bound 2 / lambda_max: five rates a decade from 0.001, then
# denser next to the bound, on both sides of it.
GRID = np.concatenate([10.0 ** (np.arange(-15, 0) / 5), [0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999],
                       [1.01, 1.05, 1.1, 1.2]])
CURVES = (0.01, 0.1, 0.7, 0.99, 1.01, 1.1)   # the rates of loss_curves.png (x the bound)
QUICK_GRID = np.array([0.01, 0.1, 0.7, 0.9, 0.99, 1.01, 1.1])

# The range test and the network.  5 epochs of plain SGD at the suggested rate must reach
# 95% accuracy on the validation and on the test split (360 images each, so one standard
# error is ~1.1 points at 95%): at the suggestions of seeds 0-3 it reached 95.8-97.2%.
TARGET_ACCURACY = 0.95
EPOCHS, QUICK_EPOCHS = 5, 1
# Batch 8 (134 steps an epoch): the suggestion is a cautious rate (where the loss falls
# fastest, well below where it blows up), and with batch 32 its 5 epochs (168 steps) left
# some seeds at 94-95%.
BATCH_SIZE = 8
MIN_LR, MAX_LR = 1e-4, 100.0
RANGE_STEPS, QUICK_RANGE_STEPS = 200, 60
DIVERGE_FACTOR = 4.0            # lr_finder's default: the test stops at 4x the lowest smoothed loss
UPPER_MULTIPLE = 10.0           # "too large": 10x the rate where the test's loss blew up


# %% [markdown]
# ## Part 1: least squares, where the bound is exact
#
# The mean squared error ``J(w) = mean((X w - y)^2)`` (``losses.mse``: a mean over the ``n``
# examples, no 1/2) has gradient ``2 X^T (X w - y) / n`` and the constant Hessian
# ``H = 2 X^T X / n``.  ``X`` carries a column of ones: the bias is a weight too.

# %%
def hessian_of_mse(x: np.ndarray) -> np.ndarray:
    """``2 X^T X / n`` with ``X = [x, 1]``: the Hessian of ``mean((x w + b - y)^2)``, float64."""
    design = np.c_[np.asarray(x, np.float64), np.ones(len(x))]
    return 2.0 * design.T @ design / len(x)


def lambda_max_by_autodiff(model, params, x, y) -> float:
    """The largest eigenvalue of ``jax.hessian`` of the library's loss (flattened weights)."""
    flat, unflatten = jax.flatten_util.ravel_pytree(params)
    hessian = jax.jit(jax.hessian(lambda w: losses.mse(model.apply(unflatten(w), x), y)))(flat)
    return float(np.linalg.eigvalsh(np.asarray(hessian, np.float64))[-1])


# %% [markdown]
# Gradient descent at every rate at once: one ``lax.scan`` of ``MAX_STEPS`` steps, vmapped
# over the rates, records the loss after every step (the loss at ``w_0`` is recorded too).

# %%
def gradient_descent_losses(model, x, y, rates: jnp.ndarray, n_steps: int) -> np.ndarray:
    """(len(rates), n_steps + 1): J(w_t) for t = 0..n_steps, from w_0 = 0, at each rate."""
    _, template = model.init(jax.random.key(0), (x.shape[1],))
    zero = jax.tree.map(jnp.zeros_like, template)
    loss = lambda params: losses.mse(model.apply(params, x), y)  # noqa: E731

    def run(rate):
        def step(params, _):
            value, grads = jax.value_and_grad(loss)(params)
            return jax.tree.map(lambda w, g: w - rate * g, params, grads), value

        last, values = jax.lax.scan(step, zero, None, length=n_steps)
        return jnp.append(values, loss(last))

    return np.asarray(jax.jit(jax.vmap(run))(rates), np.float64)


def steps_to_converge(curve: np.ndarray, optimum: float) -> int | None:
    """The first step t with J(w_t) - J* <= CONVERGED_FRACTION (J(w_0) - J*); None if never."""
    excess = curve - optimum
    reached = np.flatnonzero(np.isfinite(excess) & (excess <= CONVERGED_FRACTION * excess[0]))
    return int(reached[0]) if reached.size else None


def diverged(curve: np.ndarray) -> bool:
    """The loss ended above its start, or became inf/NaN."""
    return bool(not np.isfinite(curve[-1]) or curve[-1] > curve[0])


def least_squares_part(quick: bool) -> dict:
    ds = datasets.load("diabetes")
    x, y = ds.train
    model = models.mlp([1])   # no hidden layer: x w + b, a linear regression
    eigenvalues = np.linalg.eigvalsh(hessian_of_mse(x))
    lam_max, lam_min = float(eigenvalues[-1]), float(eigenvalues[0])
    bound = 2.0 / lam_max
    _, params = model.init(jax.random.key(0), (x.shape[1],))
    lam_autodiff = lambda_max_by_autodiff(model, params, x, y)
    design = np.c_[np.asarray(x, np.float64), np.ones(len(x))]
    solution = np.linalg.lstsq(design, np.asarray(y, np.float64), rcond=None)[0]
    optimum = float(np.mean((design @ solution - y) ** 2))
    print(f"diabetes: {len(x)} training examples, {x.shape[1]} features + bias; H = 2 X^T X / n has "
          f"lambda_max {lam_max:.4f} (jax.hessian: {lam_autodiff:.4f}), lambda_min {lam_min:.4f}, "
          f"condition number {lam_max / lam_min:.0f}\nthe bound 2 / lambda_max = {bound:.4f}; J* = {optimum:.1f}\n")

    fractions = QUICK_GRID if quick else GRID
    n_steps = QUICK_MAX_STEPS if quick else MAX_STEPS
    curves = gradient_descent_losses(model, x, y, jnp.asarray(fractions * bound, jnp.float32), n_steps)
    steps = [steps_to_converge(c, optimum) for c in curves]
    blown = [diverged(c) for c in curves]
    for f, s, b in zip(fractions, steps, blown):
        state = "diverged" if b else (f"{s} steps" if s is not None else f"not within {n_steps} steps")
        print(f"  lr = {f:7.4f} x bound = {f * bound:.5f}: {state}")
    return {"lambda_max": lam_max, "lambda_max_autodiff": lam_autodiff, "lambda_min": lam_min,
            "bound": bound, "optimum_mse": optimum, "initial_mse": float(curves[0, 0]),
            "fractions": fractions.tolist(), "learning_rates": (fractions * bound).tolist(),
            "steps_to_converge": steps, "diverged": blown, "max_steps": n_steps,
            "curves": {float(f): c for f, c in zip(fractions, curves)}}


# %% [markdown]
# ## Measurement: the bound, and the U
#
# Below the bound every rate converges, only more slowly the smaller it is (the slowest
# direction shrinks by ``1 - lr lambda_min`` per step).  Just below it the fastest direction
# flips sign at every step and shrinks by ``|1 - lr lambda_max|``, barely less than 1: slow
# again.  Above it, that direction grows: divergence.  The fewest steps lie in between.

# %%
def bound_and_u_measures(ls: dict) -> dict:
    fractions = np.array(ls["fractions"])
    steps = ls["steps_to_converge"]

    def at(f):
        i = int(np.argmin(np.abs(fractions - f)))
        return steps[i], ls["diverged"][i]

    converging = [i for i, s in enumerate(steps) if s is not None and not ls["diverged"][i]]
    best = min(converging, key=lambda i: steps[i])
    left, right = converging[0], converging[-1]
    cap = ls["max_steps"]
    return {
        "converges_below": all(at(f)[0] is not None and not at(f)[1] for f in BELOW_BOUND),
        "diverges_above": all(at(f)[1] for f in ABOVE_BOUND),
        "best_fraction": float(fractions[best]), "best_steps": steps[best],
        "best_is_interior": left < best < right,
        # the smallest rate of the grid: the steps it needed, or the cap when it did not get there
        "left_ratio": float((steps[0] if steps[0] is not None else cap) / steps[best]),
        "right_fraction": float(fractions[right]),
        "right_ratio": float(steps[right] / steps[best]),
    }


# %% [markdown]
# ## Figures: loss curves per rate, steps against the rate

# %%
def plot_loss_curves(ls: dict, path) -> None:
    fig, ax = figure("Least squares (diabetes): gradient descent at six rates", "step (log scale)",
                     "excess loss (J - J*) / (J_0 - J*) (log scale)", xscale="log", yscale="log")
    start_excess = ls["initial_mse"] - ls["optimum_mse"]
    for k, f in enumerate(CURVES):
        key = min(ls["curves"], key=lambda g: abs(g - f))
        curve = (np.asarray(ls["curves"][key]) - ls["optimum_mse"]) / start_excess
        curve = np.where(np.isfinite(curve), curve, np.nan)
        steps = np.arange(len(curve))
        ax.plot(steps[1:], curve[1:], color=f"C{k}", linestyle="--" if key > 1 else "-",
                label=f"lr = {key:.3g} x 2/lambda_max{' (diverges)' if key > 1 else ''}")
    ax.axhline(CONVERGED_FRACTION, color="k", linewidth=0.8, linestyle=":",
               label=f"converged: excess {CONVERGED_FRACTION:g} of its start")
    ax.set_ylim(1e-7, 1e4)
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def plot_steps(ls: dict, u: dict, path) -> None:
    fig, ax = figure("Least squares: steps to converge against the learning rate", "learning rate (log scale)",
                     f"steps until excess loss <= {CONVERGED_FRACTION:g} of start (log)", xscale="log", yscale="log")
    rates = np.array(ls["learning_rates"])
    steps = ls["steps_to_converge"]
    ok = np.array([s is not None and not d for s, d in zip(steps, ls["diverged"])])
    ax.plot(rates[ok], [s for s, k in zip(steps, ok) if k], "o-", color="C0", markersize=4, label="converged")
    slow = np.array([s is None and not d for s, d in zip(steps, ls["diverged"])])
    top = 1.5 * ls["max_steps"]
    if slow.any():
        ax.plot(rates[slow], np.full(slow.sum(), ls["max_steps"]), "^", color="C1",
                label=f"not converged in {ls['max_steps']} steps")
    blown = np.array(ls["diverged"])
    if blown.any():
        ax.plot(rates[blown], np.full(blown.sum(), top), "x", color="C3", markersize=7,
                label="diverged (loss above its start)")
    ax.axvline(ls["bound"], color="k", linestyle="--", linewidth=1,
               label=f"2 / lambda_max = {ls['bound']:.3f}")
    best_rate = u["best_fraction"] * ls["bound"]
    ax.plot([best_rate], [u["best_steps"]], "*", color="C2", markersize=12,
            label=f"fewest: {u['best_steps']} steps at {u['best_fraction']:g} x bound")
    ax.set_ylim(0.5 * min(s for s, k in zip(steps, ok) if k), 3 * top)
    ax.legend(fontsize=7, loc="upper center")
    save_figure(fig, path)


# %% [markdown]
# ## Part 2: a network, and the learning-rate range test
#
# A network's loss has no fixed Hessian to read the bound from.  The range test trains for
# ``RANGE_STEPS`` mini-batch steps while the rate grows exponentially from ``MIN_LR`` to
# ``MAX_LR``, smooths the loss, stops once it has blown up (4x its lowest value) and
# suggests the rate where the smoothed loss falls fastest against ``log lr``.

# %%
def range_test(model, params, x, y, key, n_steps: int) -> dict:
    def loss_fn(p, xb, yb):
        return losses.softmax_cross_entropy(model.apply(p, xb), yb)

    result = optim.lr_finder(loss_fn, params, jnp.asarray(x), jnp.asarray(y), optim.sgd, key=key,
                             min_lr=MIN_LR, max_lr=MAX_LR, num_steps=n_steps, batch_size=BATCH_SIZE,
                             diverge_factor=DIVERGE_FACTOR)
    rates, smoothed = np.asarray(result.learning_rates), np.asarray(result.smoothed_losses)
    recorded = np.flatnonzero(~np.isnan(smoothed))
    blew_up = recorded[-1] < n_steps - 1
    # the upper end of the useful range: where the loss blew up, or the end of the sweep
    upper = float(rates[recorded[-1]] if blew_up else rates[-1])
    return {"learning_rates": rates.tolist(), "losses": np.asarray(result.losses).tolist(),
            "smoothed_losses": smoothed.tolist(), "suggestion": float(result.suggestion),
            "upper": upper, "blew_up": bool(blew_up)}


def train_at(model, params, rate: float, ds, epochs: int, key) -> dict:
    """``fit`` with plain SGD at ``rate``; a NaN stops it with a warning, caught here.
    Diverged: that NaN, or a validation loss above the one at the start."""
    x, y = ds.train
    start_loss = train.evaluate(model, params, "softmax_cross_entropy", *ds.val)["loss"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        params, history = train.fit(model, params, "softmax_cross_entropy", optim.sgd(rate), x, y,
                                    epochs=epochs, batch_size=BATCH_SIZE, key=key, validation=ds.val,
                                    progress=False)
    nan_warning = [str(w.message) for w in caught if "NaN" in str(w.message)]
    test = train.evaluate(model, params, "softmax_cross_entropy", *ds.test)
    final_loss = history["val_loss"][-1] if history.get("val_loss") else np.nan
    blown = bool(nan_warning) or not np.isfinite(final_loss) or final_loss > start_loss
    return {"learning_rate": rate, "start_loss": start_loss, "train_loss": history["loss"],
            "val_loss": history.get("val_loss", []), "val_accuracy": history.get("val_accuracy", []),
            "test_accuracy": test["accuracy"],
            "nan_epoch": history.get("nan_epoch"), "warning": nan_warning[0] if nan_warning else "",
            "diverged": blown}


def plot_range_test(rt: dict, good: dict, bad: dict, path) -> None:
    fig, ax = figure(f"Digits MLP: learning-rate range test (SGD, batch {BATCH_SIZE})", "learning rate (log scale)",
                     "mini-batch cross-entropy (nats)", xscale="log")
    rates = np.array(rt["learning_rates"])
    ax.plot(rates, rt["losses"], color="C0", alpha=0.3, linewidth=0.8, label="mini-batch loss")
    ax.plot(rates, rt["smoothed_losses"], color="C0", label="smoothed loss")
    smoothed = np.array(rt["smoothed_losses"])
    s = int(np.argmin(np.abs(rates - rt["suggestion"])))
    ax.plot([rt["suggestion"]], [smoothed[s]], "o", color="C2", markersize=9,
            label=f"suggested lr {rt['suggestion']:.3g}: test accuracy {100 * good['test_accuracy']:.1f}% "
                  f"after {len(good['train_loss'])} epochs")
    ax.axvline(rt["upper"], color="C3", linestyle="--", linewidth=1,
               label=f"loss blew up at lr {rt['upper']:.3g}" if rt["blew_up"] else f"sweep's end {rt['upper']:.3g}")
    outcome = (f"NaN in epoch {bad['nan_epoch']}" if bad["nan_epoch"] else
               f"validation loss {bad['val_loss'][-1]:.3g} > start {bad['start_loss']:.3g}" if bad["diverged"]
               else f"did not diverge (validation loss {bad['val_loss'][-1]:.3g})")
    ax.axvline(bad["learning_rate"], color="C3", linestyle=":", linewidth=1.5,
               label=f"{UPPER_MULTIPLE:g}x that, lr {bad['learning_rate']:.3g}: {outcome}")
    finite = smoothed[np.isfinite(smoothed)]
    ax.set_ylim(0, 1.5 * finite.max())
    ax.set_xlim(rates[0], max(rates[-1], 1.5 * bad["learning_rate"]))
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


# %% [markdown]
# ## Verdict
#
# The bound holds on both sides, the steps are U-shaped in the rate, the range test's
# suggestion trains the network, and ten times its blow-up rate diverges.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    ls = least_squares_part(run.quick)
    u = bound_and_u_measures(ls)
    plot_loss_curves(ls, run.out / "loss_curves.png")
    plot_steps(ls, u, run.out / "steps_vs_lr.png")

    ds = datasets.load("digits")
    model = models.mlp([64, 10])
    _, params = model.init(jax.random.key(run.seed), (ds.train[0].shape[1],))
    rt = range_test(model, params, *ds.train, jax.random.key(1000 + run.seed),
                    QUICK_RANGE_STEPS if run.quick else RANGE_STEPS)
    epochs = QUICK_EPOCHS if run.quick else EPOCHS
    good = train_at(model, params, rt["suggestion"], ds, epochs, jax.random.key(2000 + run.seed))
    bad = train_at(model, params, UPPER_MULTIPLE * rt["upper"], ds, epochs, jax.random.key(2000 + run.seed))
    print(f"\nrange test: suggested lr {rt['suggestion']:.4g}; the loss "
          f"{'blew up at' if rt['blew_up'] else 'never blew up up to'} lr {rt['upper']:.4g}\n"
          f"  SGD at the suggestion, {epochs} epochs: test accuracy {good['test_accuracy']:.4f} "
          f"(validation per epoch {np.round(good['val_accuracy'], 3).tolist()})\n"
          f"  SGD at {UPPER_MULTIPLE:g} x {rt['upper']:.4g} = {bad['learning_rate']:.4g}: "
          f"{bad['warning'] or 'losses ' + str(np.round(bad['train_loss'], 3).tolist())}")
    plot_range_test(rt, good, bad, run.out / "range_test.png")

    curves = ls.pop("curves")
    results = {"least_squares": ls, "least_squares_curves_excess": {
        str(f): (np.asarray(c)[:: max(1, len(c) // 500)] - ls["optimum_mse"]).tolist() for f, c in curves.items()
        if any(abs(f - g) < 1e-9 for g in CURVES)}, **u, "range_test": rt, "suggested_run": good,
        "too_large_run": bad}
    checks = [
        check("GD converges at 0.9x and 0.99x of 2/lambda_max (1 = yes)", u["converges_below"], "==", 1),
        check("GD diverges at 1.01x and 1.1x of 2/lambda_max (1 = yes)", u["diverges_above"], "==", 1),
        check("fewest steps at an interior rate of the grid (1 = yes)", u["best_is_interior"], "==", 1),
        check(f"steps at the smallest rate / fewest steps (ratio; the cap {ls['max_steps']} if not converged)",
              u["left_ratio"], ">=", U_RATIO),
        check("steps at the largest converging rate / fewest steps (ratio)", u["right_ratio"], ">=", U_RATIO),
        check(f"validation accuracy after {epochs} epochs of SGD at the suggested rate (fraction)",
              good["val_accuracy"][-1], ">=", TARGET_ACCURACY),
        check(f"test accuracy after {epochs} epochs of SGD at the suggested rate (fraction)",
              good["test_accuracy"], ">=", TARGET_ACCURACY),
        check(f"SGD at {UPPER_MULTIPLE:g}x the range test's upper end diverges (1 = yes)", bad["diverged"], "==", 1),
    ]
    return finish(run, results,
                  f"least squares: bound 2/lambda_max = {ls['bound']:.4f}, GD converges below "
                  f"({'yes' if u['converges_below'] else 'NO'}) and diverges above "
                  f"({'yes' if u['diverges_above'] else 'NO'}); fewest steps {u['best_steps']} at "
                  f"{u['best_fraction']:.3g}x the bound, {u['left_ratio']:.0f}x (left) and {u['right_ratio']:.0f}x "
                  f"(right) more at the ends; range test suggests {rt['suggestion']:.3g} -> test accuracy "
                  f"{good['test_accuracy']:.4f}, {UPPER_MULTIPLE:g}x its upper end {rt['upper']:.3g} "
                  f"{'diverges' if bad['diverged'] else 'does NOT diverge'}", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
