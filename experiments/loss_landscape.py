"""HSE, Neural Networks, "Loss function landscape"; Liverpool, Introduction to Neural Networks I, "The loss landscape"; Li et al. 2018, "Visualizing the loss landscape of neural nets", Secs. 3-4: slices of a trained network's loss along filter-normalized random directions have their minimum at the trained point and do not change under rescalings that leave the network's function unchanged (plain directions do); logistic regression's landscape is convex, the MLP's is not.

Setup: a 64-64-10 ReLU MLP and a logistic regression (``models.mlp([10])``) are trained on
the bundled 8x8 digits (the 1077 training images, pixels in [0, 1]) by mini-batch Adam, each
from two seeds.  Their training loss (softmax cross-entropy over the whole training split,
float64) is evaluated along 1-D and 2-D slices ``theta + alpha d (+ beta e)`` through the
trained parameters, and along the straight line between the two seeds' trained models.

Run: random Gaussian directions, filter-normalized as in Li et al. (for a dense layer, each
output neuron's column of ``d``'s ``W`` is scaled to the norm of the same column of the
trained ``W``; the bias entries of ``d`` are zero), or "plain" (the same Gaussian draw with
its biases zeroed, times one factor that makes its norm the trained network's).  A twin of
the network is made by multiplying its hidden layer by ``RESCALE`` and dividing its output
weights by it: the same function, other parameters.  Every slice is one ``jax.vmap`` over
the alphas of a jitted full-training-set loss.

Measurement: the alpha of each 1-D slice's minimum; the largest difference between the
twin's slices and the original's, filter-normalized and plain (``slices_1d.png``); a 2-D
slice (``contour_2d.png``); second differences ``L(a + h) - 2 L(a) + L(a - h)`` along wide
slices (alpha in [-3, 3]) and along the line between the two seeds' models, for both models
(``convexity.png``); the loss along that line and its barrier, max minus the endpoints'
mean (``interpolation.png``).  Along random directions even the MLP's slices curve upward
everywhere (as Li et al. found for shallow, wide nets); the line between two minimizers is
where it bends down.

Verdict: reproduced when every 1-D minimum lies within ``MAX_MINIMUM_OFFSET`` of alpha = 0;
the twin's filter-normalized slices match the original's to ``INVARIANCE_TOLERANCE`` while
its plain ones differ by more than ``MIN_PLAIN_DIFFERENCE``; logistic regression's second
differences are all >= ``-CONVEXITY_TOLERANCE`` while the MLP's lowest curvature estimate
(second difference / h^2) is below ``-MIN_NEGATIVE_CURVATURE``; and the barrier between the
two MLP minimizers exceeds ``MIN_BARRIER``.

    python experiments/loss_landscape.py [--quick] [--seed 0] [--out runs/loss_landscape]
"""
# %% [markdown]
# # The loss landscape of a neural network, sliced
#
# HSE, Neural Networks, "Loss function landscape (in 2 random directions around an
# optimum)", and Liverpool, "The loss landscape": a network has thousands of parameters,
# so we never *see* its loss surface; we can only cut it along a line or a plane through
# a trained point and plot the loss there.  Li et al. 2018 showed that such pictures lie
# unless the directions are *filter-normalized*: a ReLU network's function does not change
# when one layer's weights are multiplied by ``c`` and the next layer's divided by ``c``,
# but a fixed random direction is then a huge step for one layer and a tiny one for the
# other.  Scaling each neuron's part of the direction to that neuron's own weight norm
# makes the picture follow the function, not the parametrization.
#
# Liverpool: "convex problems have a single global minimum"; "deep networks typically
# produce highly non-convex loss landscapes".  Logistic regression is convex in its
# weights: every line through its landscape is a convex curve.  The MLP's is not.

# %%
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)  # invariance to 1e-9 and second differences of ~1e-6: float64

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, figure, finish, save_figure, start, timed  # noqa: E402

from jaxnn import datasets, losses, models, optim, train  # noqa: E402

# Li et al.'s 1-D slices of a trained net have their minimum at alpha = 0 (measured here:
# exactly 0 for seeds 0-2); 0.05 of a filter-normalized step (5% of each neuron's weight
# norm) allows the grid's spacing (0.02) and training's last, unfinished steps.
MAX_MINIMUM_OFFSET = 0.05
# The rescaled twin computes the same function; in float64 its filter-normalized slice
# equals the original's to ~1e-15 in loss (seeds 0-2: 4e-16 .. 2e-15).  1e-9 leaves room for round-off, and fails any
# real difference (a wrong normalization changes the loss by 1e-2 or more).
INVARIANCE_TOLERANCE = 1e-9
# The plain direction is not rescaled with the network: at c = 10 its slice must differ
# visibly, by more than 0.1 nats somewhere (measured: 44 .. 73 nats for seeds 0-2).
MIN_PLAIN_DIFFERENCE = 0.1
RESCALE = 10.0
# Convex along a line: every second difference >= 0, up to float64 round-off on losses of
# ~10 nats (~1e-14); 1e-9 is below logistic regression's smallest real one (~7e-7).
CONVEXITY_TOLERANCE = 1e-9
# "Clearly" non-convex: a curvature estimate d2 / h^2 below -0.1 nats per unit^2 (the line
# between two MLP minimizers bends down at -12 .. -16 at its barrier, seeds 0-2; round-off
# is ~1e-10).
MIN_NEGATIVE_CURVATURE = 0.1
# Two minimizers from different seeds are joined by a straight line that rises above both
# (Garipov et al. 2018 and Draxler et al. 2018, cited by Liverpool, "Gradient descent", found
# curved low-loss paths instead): barrier > 0 (measured: 0.29 .. 0.38 nats, seeds 0-2).
MIN_BARRIER = 0.0

HIDDEN = 64
EPOCHS, QUICK_EPOCHS = 40, 2
BATCH_SIZE, PEAK_LEARNING_RATE = 64, 1e-2     # Adam, cosine-decayed to 0
N_DIRECTIONS = 3                              # random directions per 1-D measurement
N_ALPHAS, QUICK_N_ALPHAS = 101, 41            # points on every slice (one compiled shape): spacing 0.02 on [-1, 1]
NEAR, WIDE = 1.0, 3.0                         # alpha ranges: around the minimum, and wide
LINE = (0.0, 1.0)                             # t range of the line between two minimizers
N_BETAS, QUICK_N_BETAS = 25, 5                # rows (betas) of the 2-D slice on [-1, 1]^2


# %% [markdown]
# ## Setup: data, the two models, training
#
# The MLP has one hidden layer of 64 ReLU units; logistic regression is the same network
# without it.  Both are trained the same way, from two seeds each.

# %%
def training_data(seed: int):
    x, y = datasets.load("digits", scale=None, seed=seed).train     # pixel / 16 in [0, 1], labels 0..9
    return jnp.asarray(x, jnp.float64), jnp.asarray(y)


def train_from(model, optimizer, x, y, seed: int, epochs: int):
    """Params of ``model`` initialized and shuffled with ``seed``, after ``epochs`` of Adam; the last
    epoch's mean loss; the seconds."""
    _, params = model.init(jax.random.key(seed), (x.shape[1],))
    (params, history), seconds = timed(
        train.fit, model, params, "softmax_cross_entropy", optimizer, x, y, epochs=epochs,
        batch_size=BATCH_SIZE, key=jax.random.key(1000 + seed), progress=False)
    return jax.tree_util.tree_map(np.asarray, params), history["loss"][-1], seconds   # numpy from here on


# %% [markdown]
# ## Directions: filter-normalized and plain
#
# A direction is a pytree shaped like the parameters.  Filter normalization (Li et al.,
# Sec. 4, for a dense layer one "filter" per output neuron): ``d_W[:, j] <- d_W[:, j] /
# |d_W[:, j]| * |W[:, j]|``, ``d_b = 0``.  The plain direction keeps the draw's shape and
# scales the whole vector once.

# %%
def gaussian_like(params, seed: int):
    """A draw of N(0, 1) numbers shaped like ``params`` (numpy: no compiling)."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda leaf: rng.standard_normal(leaf.shape), params)


def filter_normalized(draw, params):
    """Each column (output neuron) of each layer's W scaled to the trained column's norm; biases 0."""
    return tuple({"W": d["W"] / np.linalg.norm(d["W"], axis=0) * np.linalg.norm(p["W"], axis=0),
                  "b": np.zeros_like(p["b"])} if p else d for d, p in zip(draw, params))


def norm(tree) -> float:
    return float(np.sqrt(sum(np.sum(np.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree))))


def plain(draw, params):
    """The draw with biases zeroed, times one factor: its norm becomes the norm of ``params``."""
    weights_only = tuple({"W": d["W"], "b": np.zeros_like(d["b"])} if d else d for d in draw)
    return jax.tree_util.tree_map(lambda leaf: leaf * norm(params) / norm(weights_only), weights_only)


def rescaled(params, c: float):
    """Hidden layer (W1, b1) times c, output W2 divided by c: relu(c z) = c relu(z), the same function."""
    first, activation, last = params
    return ({"W": c * first["W"], "b": c * first["b"]}, activation, {"W": last["W"] / c, "b": last["b"]})


def difference(params_b, params_a):
    """``theta_B - theta_A``: the direction of the line from A to B."""
    return jax.tree_util.tree_map(np.subtract, params_b, params_a)


# %% [markdown]
# ## The slices: one vmap over the alphas
#
# ``loss(theta + beta e + alpha d)`` for every alpha at once, on the whole training split: a
# 1-D slice has ``beta = 0``; a 2-D slice is one such row per beta (one compiled program for
# both); the line between two minimizers is the slice through ``theta_A`` along
# ``d = theta_B - theta_A``.

# %%
def make_slicer(model, x, y):
    """Jitted ``slice_row(params, d, e, beta, alphas)``: the losses at ``params + beta e + alpha d``."""
    cross_entropy = losses.get("softmax_cross_entropy").value

    def slice_row(params, d, e, beta, alphas):
        def loss_at(alpha):
            moved = jax.tree_util.tree_map(lambda p, u, v: p + alpha * u + beta * v, params, d, e)
            return cross_entropy(model.apply(moved, x), y)

        return jax.vmap(loss_at)(alphas)

    return jax.jit(slice_row)


def slice_1d(slicer, params, d, alphas) -> np.ndarray:
    return np.asarray(slicer(params, d, d, 0.0, alphas))


def second_differences(values: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """``L(a + h) - 2 L(a) + L(a - h)`` and the curvature estimate it gives, divided by h^2."""
    d2 = values[2:] - 2 * values[1:-1] + values[:-2]
    return d2, d2 / spacing ** 2


# %% [markdown]
# ## Run 1: 1-D slices around the trained MLP, and the rescaled twin
#
# The minimum of each slice should sit at alpha = 0, where training stopped.  Then the
# twin: hidden layer times 10, output weights over 10.  Its filter-normalized direction is
# the original one rescaled the same way, so its slice is the same curve; the plain
# direction is a different step for the twin (far too small for its hidden layer, ten
# times too large relative to its output layer), and its curve changes.

# %%
def one_d_slices(slicer, params, seed: int, n_alphas: int) -> dict:
    alphas = jnp.linspace(-NEAR, NEAR, n_alphas)
    twin = rescaled(params, RESCALE)
    out = {"alphas": np.asarray(alphas), "filter": [], "filter_twin": [], "plain": [], "plain_twin": []}
    for k in range(N_DIRECTIONS):
        draw = gaussian_like(params, 10_000 + 100 * seed + k)
        plain_direction = plain(draw, params)   # one fixed vector: the same for the twin
        out["filter"].append(slice_1d(slicer, params, filter_normalized(draw, params), alphas))
        out["filter_twin"].append(slice_1d(slicer, twin, filter_normalized(draw, twin), alphas))
        out["plain"].append(slice_1d(slicer, params, plain_direction, alphas))
        out["plain_twin"].append(slice_1d(slicer, twin, plain_direction, alphas))
    out["minimum_alphas"] = [float(out["alphas"][np.argmin(v)]) for v in out["filter"] + out["plain"]]
    out["filter_difference"] = float(max(np.abs(a - b).max() for a, b in zip(out["filter"], out["filter_twin"])))
    out["plain_difference"] = float(max(np.abs(a - b).max() for a, b in zip(out["plain"], out["plain_twin"])))
    print(f"1-D slices ({N_DIRECTIONS} directions, alpha in [-{NEAR:g}, {NEAR:g}]): minimum at alpha = "
          f"{', '.join(f'{a:+.2f}' for a in out['minimum_alphas'])} (filter-normalized, then plain)")
    print(f"rescaled twin (x{RESCALE:g} / {RESCALE:g}): max |slice difference| filter-normalized "
          f"{out['filter_difference']:.1e}, plain {out['plain_difference']:.3g} (nats)")
    return out


# %% [markdown]
# ## Run 2: convexity, logistic regression against the MLP
#
# On a wide range, alpha in [-3, 3], along filter-normalized directions, and along the line
# between each model's two minimizers (t in [0, 1]).  A second difference
# ``L(a + h) - 2 L(a) + L(a - h)`` below zero means the curve bends down there: a convex
# function has none.  (The random slices alone would not tell the two models apart: along
# them the MLP's loss curves upward everywhere too, as Li et al. saw for shallow, wide
# networks.  The line between two minimizers must rise and come down again: there it bends
# down.)

# %%
def convexity(slicer, params_a, params_b, seed: int, n_alphas: int) -> dict:
    alphas = jnp.linspace(-WIDE, WIDE, n_alphas)
    ts = jnp.linspace(*LINE, n_alphas)
    random_slices = [slice_1d(slicer, params_a, filter_normalized(gaussian_like(params_a, 20_000 + 100 * seed + k),
                                                                  params_a), alphas) for k in range(N_DIRECTIONS)]
    line = slice_1d(slicer, params_a, difference(params_b, params_a), ts)
    h_alpha, h_t = float(alphas[1] - alphas[0]), float(ts[1] - ts[0])
    random_d2 = [second_differences(v, h_alpha) for v in random_slices]
    line_d2, line_curvature = second_differences(line, h_t)
    return {"alphas": np.asarray(alphas), "ts": np.asarray(ts), "random_slices": random_slices, "line": line,
            "random_curvature": [c for _, c in random_d2], "line_curvature": line_curvature,
            "min_second_difference_random": float(min(d2.min() for d2, _ in random_d2)),
            "min_second_difference_line": float(line_d2.min()),
            "min_curvature_random": float(min(c.min() for _, c in random_d2)),
            "min_curvature_line": float(line_curvature.min())}


def barrier(line: np.ndarray, ts: np.ndarray) -> dict:
    """Along t in [0, 1] (ts[0] = 0, ts[-1] = 1): max loss minus the mean of the endpoints' losses."""
    start_loss, end_loss = line[0], line[-1]
    peak = int(np.argmax(line))
    return {"barrier": float(line[peak] - (start_loss + end_loss) / 2), "barrier_t": float(ts[peak]),
            "endpoint_losses": [float(start_loss), float(end_loss)],
            "rise_above_higher_endpoint": float(line[peak] - max(start_loss, end_loss))}


# %% [markdown]
# ## Run 3: the 2-D slice
#
# Two filter-normalized directions, a grid of (alpha, beta) in [-1, 1]^2: the picture of
# HSE's slide.

# %%
def two_d_slice(slicer, params, seed: int, n_alphas: int, n_betas: int) -> dict:
    d, e = (filter_normalized(gaussian_like(params, 30_000 + 100 * seed + k), params) for k in range(2))
    alphas, betas = jnp.linspace(-NEAR, NEAR, n_alphas), np.linspace(-NEAR, NEAR, n_betas)
    values, seconds = timed(lambda: np.stack([np.asarray(slicer(params, d, e, float(beta), alphas)) for beta in betas]))
    print(f"2-D slice: {n_betas} x {n_alphas} losses in {seconds:.1f} s; loss {values.min():.3g} .. {values.max():.3g}")
    return {"alphas": np.asarray(alphas), "betas": betas, "values": values, "seconds": seconds}


# %% [markdown]
# ## Figures

# %%
def plot_slices_1d(s: dict, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, kind, title in ((axes[0], "filter", "filter-normalized directions"), (axes[1], "plain", "plain directions")):
        for k in range(N_DIRECTIONS):
            labelled = ax is axes[0] and k == 0   # one legend, on the left, for both panels
            ax.plot(s["alphas"], s[kind][k], color=f"C{k}", label="trained net (colour: direction)" if labelled else None)
            ax.plot(s["alphas"], s[f"{kind}_twin"][k], color=f"C{k}", linestyle="", marker="o", markersize=3,
                    markevery=max(1, len(s["alphas"]) // 40),
                    label=f"rescaled twin: hidden layer x{RESCALE:g}, output /{RESCALE:g}" if labelled else None)
        ax.set(title=f"{title}\nmax |twin - trained| = {s[kind + '_difference']:.2g} nats",
               xlabel="alpha (step along the direction)", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (cross-entropy, nats, log scale)")
    axes[0].legend(fontsize=8, loc="upper center")
    fig.suptitle(f"1-D slices through a trained 64-64-10 ReLU MLP (digits) along {N_DIRECTIONS} random directions",
                 fontsize=11)
    save_figure(fig, path)


def plot_contour(two_d: dict, path) -> None:
    fig, ax = figure("2-D slice of the MLP's training loss (filter-normalized directions)",
                     "alpha (along direction d)", "beta (along direction e)", size=(6, 5))
    values = two_d["values"]
    levels = np.geomspace(values.min(), values.max(), 15)
    contour = ax.contour(two_d["alphas"], two_d["betas"], values, levels=levels, cmap="viridis", linewidths=0.9)
    ax.clabel(contour, contour.levels[::2], fontsize=7, fmt="%.2g")
    ax.plot(0, 0, "r*", markersize=12, label="trained parameters (alpha = beta = 0)")
    ax.set_aspect("equal")
    fig.colorbar(contour, ax=ax, shrink=0.8, label="training loss (nats, log-spaced contours)")
    save_figure(fig, path)


def plot_convexity(mlp: dict, logistic: dict, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, result, name in ((axes[0], logistic, "logistic regression"), (axes[1], mlp, "64-64-10 ReLU MLP")):
        labelled = ax is axes[0]   # one legend, under the left panel, for both
        for k, curvature in enumerate(result["random_curvature"]):
            ax.plot(result["alphas"][1:-1], curvature, color=f"C{k}",
                    label=f"random direction {k + 1}, alpha in [-{WIDE:g}, {WIDE:g}]" if labelled else None)
        ax.plot(result["ts"][1:-1], result["line_curvature"], color="k", linewidth=2,
                label="line between the two seeds' minimizers, t in [0, 1]" if labelled else None)
        ax.axhline(0, color="r", linewidth=0.8, linestyle=":", label="0: below it the slice bends down" if labelled else None)
        lowest = min(result["min_curvature_random"], result["min_curvature_line"])
        ax.set(title=f"{name}: lowest curvature {lowest:.2g}", xlabel="alpha or t (position along the slice)",
               ylabel="curvature d2 / h^2 (nats per unit^2, symlog)")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower center")   # the empty space below 0
    fig.suptitle("Curvature along wide slices, from second differences d2 = L(a + h) - 2 L(a) + L(a - h): "
                 "convex means d2 >= 0 everywhere", fontsize=10)
    save_figure(fig, path)


def plot_interpolation(mlp: dict, logistic: dict, path) -> None:
    fig, ax = figure("Straight line between two trained models (seeds A and B)",
                     "t (theta = (1 - t) theta_A + t theta_B)", "training loss (cross-entropy, nats)", size=(7, 4.5))
    for result, name, color in ((mlp, "64-64-10 ReLU MLP", "C0"), (logistic, "logistic regression", "C1")):
        ax.plot(result["ts"], result["line"], color=color,
                label=f"{name}: barrier {result['barrier']:.2g} nats, "
                      f"{result['rise_above_higher_endpoint']:.2g} above the higher end")
        ax.plot([0, 1], result["endpoint_losses"], "o", color=color)
    ax.plot([], [], "ko", label="the trained models (t = 0: seed A, t = 1: seed B)")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8, loc="lower center")
    save_figure(fig, path)


# %% [markdown]
# ## Measurement and verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    epochs = QUICK_EPOCHS if run.quick else EPOCHS
    n_alphas, n_betas = (QUICK_N_ALPHAS, QUICK_N_BETAS) if run.quick else (N_ALPHAS, N_BETAS)
    x, y = training_data(run.seed)
    optimizer = optim.adam(optim.cosine_decay(PEAK_LEARNING_RATE, epochs * (len(x) // BATCH_SIZE)))
    mlp_model, logistic_model = models.mlp([HIDDEN, 10], activation="relu"), models.mlp([10])

    trained = {}
    for name, model in (("mlp", mlp_model), ("logistic", logistic_model)):
        for tag, seed in (("a", run.seed), ("b", run.seed + 1)):
            trained[name, tag], final_loss, seconds = train_from(model, optimizer, x, y, seed, epochs)
            print(f"{name} seed {seed}: mean loss over the last epoch {final_loss:.4f} "
                  f"({seconds:.2f} s{' incl. compilation' if tag == 'a' else ''})")
    mlp_a = trained["mlp", "a"]
    mlp_slicer, logistic_slicer = make_slicer(mlp_model, x, y), make_slicer(logistic_model, x, y)

    slices = one_d_slices(mlp_slicer, mlp_a, run.seed, n_alphas)
    mlp = convexity(mlp_slicer, mlp_a, trained["mlp", "b"], run.seed, n_alphas)
    logistic = convexity(logistic_slicer, trained["logistic", "a"], trained["logistic", "b"], run.seed, n_alphas)
    mlp.update(barrier(mlp["line"], mlp["ts"]))
    logistic.update(barrier(logistic["line"], logistic["ts"]))
    for name, r in (("logistic regression", logistic), ("MLP", mlp)):
        print(f"{name}: lowest second difference {r['min_second_difference_random']:.2g} (random directions, "
              f"alpha in [-{WIDE:g}, {WIDE:g}]), {r['min_second_difference_line']:.2g} (line between minimizers); "
              f"barrier {r['barrier']:.3g} nats at t = {r['barrier_t']:.2f} "
              f"(endpoints {r['endpoint_losses'][0]:.3g}, {r['endpoint_losses'][1]:.3g})")
    two_d = two_d_slice(mlp_slicer, mlp_a, run.seed, n_alphas, n_betas)

    plot_slices_1d(slices, run.out / "slices_1d.png")
    plot_contour(two_d, run.out / "contour_2d.png")
    plot_convexity(mlp, logistic, run.out / "convexity.png")
    plot_interpolation(mlp, logistic, run.out / "interpolation.png")

    minimum_offset = max(abs(a) for a in slices["minimum_alphas"])
    logistic_min_d2 = min(logistic["min_second_difference_random"], logistic["min_second_difference_line"])
    mlp_min_curvature = min(mlp["min_curvature_random"], mlp["min_curvature_line"])
    results = {"epochs": epochs, "n_alphas": n_alphas, "rescale": RESCALE,
               "minimum_alphas": slices["minimum_alphas"], "max_minimum_offset": minimum_offset,
               "filter_normalized_rescale_difference": slices["filter_difference"],
               "plain_rescale_difference": slices["plain_difference"],
               "logistic_min_second_difference": logistic_min_d2,
               "mlp_min_curvature": mlp_min_curvature,
               "mlp_min_curvature_random_directions": mlp["min_curvature_random"],
               "mlp_min_curvature_line": mlp["min_curvature_line"],
               "logistic_min_curvature_random_directions": logistic["min_curvature_random"],
               "logistic_min_curvature_line": logistic["min_curvature_line"],
               "mlp_barrier": mlp["barrier"], "mlp_barrier_t": mlp["barrier_t"],
               "mlp_endpoint_losses": mlp["endpoint_losses"], "logistic_barrier": logistic["barrier"],
               "two_d_loss_range": [float(two_d["values"].min()), float(two_d["values"].max())],
               "two_d_seconds": two_d["seconds"]}
    checks = [
        check("largest |alpha| of a 1-D slice's minimum (filter-normalized step)", minimum_offset, "<=",
              MAX_MINIMUM_OFFSET),
        check(f"filter-normalized slice, rescaled x{RESCALE:g} vs original, max difference (nats)",
              slices["filter_difference"], "<=", INVARIANCE_TOLERANCE),
        check(f"plain slice, rescaled x{RESCALE:g} vs original, max difference (nats)",
              slices["plain_difference"], ">", MIN_PLAIN_DIFFERENCE),
        check("logistic regression, lowest second difference on its slices (nats)", logistic_min_d2, ">=",
              -CONVEXITY_TOLERANCE),
        check("MLP, lowest curvature on its slices (nats per unit^2)", mlp_min_curvature, "<",
              -MIN_NEGATIVE_CURVATURE),
        check("MLP, barrier between two seeds' minimizers (nats)", mlp["barrier"], ">", MIN_BARRIER)]
    summary = (f"1-D minima within |alpha| <= {minimum_offset:.2f}; rescaled x{RESCALE:g}: filter-normalized slices "
               f"differ by {slices['filter_difference']:.1e}, plain by {slices['plain_difference']:.3g} nats; "
               f"lowest second difference: logistic regression {logistic_min_d2:.2g}, MLP curvature "
               f"{mlp_min_curvature:.3g} (random directions {mlp['min_curvature_random']:.3g}); "
               f"MLP barrier {mlp['barrier']:.3g} nats")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
