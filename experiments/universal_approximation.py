"""HSE, Neural Networks, "Universal approximator"; Liverpool, Introduction to Neural Networks I, "Universal Approximation Theorem" and its caveats; Cybenko 1989, Hornik, Stinchcombe & White 1989: one hidden layer approximates a continuous function as closely as desired as it widens, but a jump needs ever more units, a representable function is not always learned, and a fit is not a generalisation.

Setup: one-hidden-layer tanh networks (``models.mlp([width, 1], "tanh")``, width 1 to 256)
are trained on 256 evenly spaced points of [-pi, pi] to sin(x), |x|, a smooth bump
exp(-2 x^2) and a unit step, by full-batch Adam (5000 steps, best of 3 initializations),
and judged by the sup-error, the largest |network - target| on 4001 points.  The caveats
use width 64 and sin(x): training from poor initializations or for 50 steps only, training
on [-pi, 0] alone, and training on 4 to 256 random points.

Run: each width trains the four targets and three initializations at once (``jax.vmap``
over one compiled Adam loop); the first layer starts with its units' centres ``-b/w``
drawn uniformly on [-pi, pi].

Measurement: the sup-error against the width (``sup_error_vs_width.png``, log-log), the fits
(``fits.png``) and the caveats (``caveats.png``): the step's error around the jump and away
from it, the sup-errors of the poorly trained networks, the error on [0, pi] of the network
trained on [-pi, 0], and the test error against the number of training points.

Verdict: reproduced when at width 256 the sup-error on sin and |x| is at most
``SUP_ERROR_TARGET`` and has fallen from width 1 by ``MIN_FALL`` on the three continuous
targets, the step keeps a sup-error of at least ``STEP_MIN_SUP_ERROR`` at the jump while
away from it the error is at most ``SUP_ERROR_TARGET``, every poorly trained network is
``NOT_LEARNED_FACTOR`` times worse than the well-trained one, the half-domain network is
off by ``NOT_GENERALISED_SUP_ERROR`` on [0, pi], and 256 training points give a test error
``DATA_FALL`` times smaller than 4.

    python experiments/universal_approximation.py [--quick] [--seed 0] [--out runs/universal_approximation]
"""
# %% [markdown]
# # One hidden layer approximates any continuous function, with caveats
#
# The theorem (Cybenko 1989; Hornik, Stinchcombe & White 1989) says: a network with one
# hidden layer of a non-polynomial activation can approximate any continuous function on
# a bounded interval as closely as we like, given enough units (HSE, "Universal
# approximator": "any function can be approximated arbitrarily close given wide enough
# hidden layer").  "As closely as we like" is a statement about the *largest* error, the
# sup-error ``max_x |f(x) - net(x)|``, so that is what we measure, on a grid 16 times
# finer than the training points.
#
# The lectures add caveats (Liverpool, "Universal Approximation Theorem"; HSE, "Note: in
# practice we might not be able to find this approximation").  We measure three:
#
# * (a) the network might need to be very large: a jump is not continuous, and a smooth
#   network can only steepen its slope there, so the error at the jump never falls;
# * (b) approximation is not learning: the theorem says good weights *exist*, not that
#   training from any start finds them;
# * (c) fitting is not generalising: a network fitted on part of the interval knows
#   nothing about the rest, and too few points leave it free between them.

# %%
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from common import check, exit_with, figure, finish, save_figure, start, timed

from jaxnn import models, optim

# "As closely as desired": 0.05 is 5% of sin's amplitude; trained width-256 tanh networks
# reach 0.003 to 0.009 on sin and 0.024 to 0.028 on |x| (whose kink at 0 a smooth tanh must
# round off), seeds 0 to 3.
SUP_ERROR_TARGET = 0.05
# "Falls as the width grows": width 1 is off by 0.7 to 1.8; a fall by 10x or more is a
# decade on the log-log plot (the smallest of the three, |x|'s, measured 66x to 75x).
MIN_FALL = 10.0
# Caveat (a): across a jump of 1 any continuous function is off by >= 0.5 at one side of
# it, in the limit of a fine grid; ours has points 0.0016 apart, and a network under 0.4
# there would need a slope ~ 600.  The trained ones stay at 0.50 (and at 0.004 to 0.007
# for |x| >= 0.5, judged against SUP_ERROR_TARGET).
STEP_MIN_SUP_ERROR = 0.4
AWAY_FROM_JUMP = 0.5            # "away from the jump": |x| >= 0.5, where the step is constant
# Caveat (b): "much worse" = 10 times the well-trained width-64 network's sup-error
# (0.007 to 0.008); the poorly trained ones are off by 0.2 to 1 (26x or more).
NOT_LEARNED_FACTOR = 10.0
# Caveat (c): sin on [0, pi] goes up to 1; a network off by 0.5 there has not learned its
# shape (the half-domain fits are off by 1.2 to 2.4 there, by 0.001 to 0.003 on [-pi, 0]).
NOT_GENERALISED_SUP_ERROR = 0.5
# ... and more data generalises: 4 points leave sin's sup-error at 0.7 to 2.1, 256 bring it
# to 0.008 to 0.027; a fall by 10x or more says "the test error falls with the training-set
# size" (measured 65x to 200x).
DATA_FALL = 10.0

DOMAIN = (-np.pi, np.pi)
N_TRAIN, N_DENSE = 256, 4001          # training grid; sup-error grid (16x finer, includes x = 0)
WIDTHS = tuple(2 ** k for k in range(9))            # 1, 2, 4, ..., 256
STEPS, RESTARTS = 5000, 3             # Adam steps; initializations per (width, target), best kept
LEARNING_RATE = 0.02                  # cosine-decayed to 0 over the run
SLOPE_STD = 4.0                       # first-layer weights ~ N(0, 4^2): transitions ~0.5 wide
CAVEAT_WIDTH = 64                     # wide enough to fit sin to ~0.01
BRIEF_STEPS = 50                      # caveat (b): "trained too briefly"
SATURATION = 100.0                    # caveat (b): first-layer weights ~ N(0, 100^2), biases 0
TRAIN_SIZES = (4, 8, 16, 32, 64, 128, 256)          # caveat (c): random training points
QUICK_WIDTHS, QUICK_STEPS, QUICK_RESTARTS = (1, 8, 64), 300, 1
QUICK_TRAIN_SIZES = (4, 64, 256)


def step(x):
    return (x >= 0) * 1.0


TARGETS = {"sin(x)": np.sin, "|x|": np.abs, "bump exp(-2x^2)": lambda x: np.exp(-2 * x ** 2),
           "step 1[x >= 0]": step}
CONTINUOUS = ("sin(x)", "|x|", "bump exp(-2x^2)")
STEP = "step 1[x >= 0]"
COLORS = {"sin(x)": "tab:blue", "|x|": "tab:orange", "bump exp(-2x^2)": "tab:green", STEP: "tab:red"}


# %% [markdown]
# ## Setup: the network, its initialization, the training loop
#
# ``models.mlp([width, 1], "tanh")`` is ``x -> tanh(x W1 + b1) W2 + b2``: each hidden unit
# is a smoothed step centred at ``x = -b/w`` with steepness ``w``, and the output adds
# ``width`` of them.  Its params are the pytree ``({"W": (1, width), "b": (width,)}, (),
# {"W": (width, 1), "b": (1,)})`` (the ``()`` is the tanh layer, which has none).  The
# library's default initialization (Glorot weights, zero biases) centres *every* unit at
# ``x = 0``; we write the params ourselves with the centres spread over the interval
# (``b = -w c`` with ``c`` uniform at random), a common start for fitting a curve, and the
# output layer as Glorot would.  Caveat (b) below shows what a poor start costs.
#
# Training is full-batch Adam on the mean squared error.  ``train.fit`` syncs with the
# host once per epoch, and a full batch is one step per epoch, so for 5000 steps we write
# the loop as one ``lax.scan`` (the same ``optim.adam``) and train many networks of one
# width at once with ``jax.vmap``.  The loss takes a 0/1 weight per point, so that the
# same compiled loop also trains on part of the points (caveat (c)).

# %%
def build(width: int):
    return models.mlp([width, 1], "tanh")


def mlp_params(w1, b1, w2, b2) -> tuple:
    """The params pytree of ``build(width)``, float32."""
    f32 = lambda a: np.asarray(a, np.float32).reshape(np.shape(a))  # noqa: E731
    return ({"W": f32(w1).reshape(1, -1), "b": f32(b1)}, (), {"W": f32(w2).reshape(-1, 1), "b": f32(b2)})


def glorot_output(rng, width: int) -> np.ndarray:
    """Output weights as ``initializers.glorot_uniform``: U(-a, a), a = sqrt(6 / (width + 1))."""
    return rng.uniform(-1, 1, width) * np.sqrt(6 / (width + 1))


def spread_init(rng, width: int) -> tuple:
    """Slopes ~ N(0, SLOPE_STD^2), centres ``-b/w`` uniform on the domain, Glorot output layer."""
    w = SLOPE_STD * rng.standard_normal(width)
    centres = rng.uniform(*DOMAIN, width)
    return mlp_params(w, -w * centres, glorot_output(rng, width), np.zeros(1))


def stack(trees):
    """A list of params pytrees as one pytree with a leading axis (for ``jax.vmap``)."""
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


@functools.lru_cache(maxsize=None)
def adam_trainer(width: int, steps: int):
    """``train(params, x, y, weight, x_eval) -> (final loss, predictions at x_eval)``, vmapped
    over a leading axis of all but ``x_eval``: ``steps`` full-batch Adam steps on
    ``sum(weight (net(x) - y)^2) / sum(weight)``.  One compiled program per (width, steps)."""
    model = build(width)
    optimizer = optim.adam(optim.cosine_decay(LEARNING_RATE, steps))

    def loss(params, x, y, weight):
        return jnp.sum(weight * (model.apply(params, x) - y) ** 2) / jnp.sum(weight)

    def train_one(params, x, y, weight, x_eval):
        def one_step(carry, _):
            params, state = carry
            grads = jax.grad(loss)(params, x, y, weight)
            updates, state = optimizer.update(grads, state, params)
            return (optim.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(one_step, (params, optimizer.init(params)), None, length=steps)
        return loss(params, x, y, weight), model.apply(params, x_eval)[:, 0]

    return jax.jit(jax.vmap(train_one, in_axes=(0, 0, 0, 0, None)))


def train(width: int, steps: int, inits: list, x, y, weight, x_eval):
    """Train ``len(inits)`` networks at once; numpy ``(final losses, predictions)``."""
    losses, predictions = adam_trainer(width, steps)(stack(inits), np.float32(x), np.float32(y),
                                                     np.float32(weight), np.float32(x_eval))
    return np.asarray(losses), np.asarray(predictions)


# %% [markdown]
# ## Run 1: the sup-error against the width
#
# For each width, 4 targets x 3 initializations train together; of each target's three
# networks we keep the one with the lowest *training* loss (the sup-error grid is never
# used to choose).  Expect the continuous targets' sup-error to fall steeply over the first
# widths and then flatten: past ~32 units what is left is the optimizer's error (5000 Adam
# steps in float32), not the width's.  The step's stays at 1/2: caveat (a).

# %%
def width_sweep(widths, steps: int, restarts: int, x_train, x_dense, seed: int) -> dict:
    names = list(TARGETS)
    out = {name: {"sup_error": [], "train_mse": []} for name in names}
    out["seconds"], out["fits"] = [], {}
    for width in widths:
        rng = np.random.default_rng([seed, width])
        inits = [spread_init(rng, width) for _ in range(len(names) * restarts)]
        ys = np.stack([TARGETS[name](x_train) for name in names for _ in range(restarts)])
        xs = np.broadcast_to(x_train, ys.shape)
        (final_loss, fits), seconds = timed(train, width, steps, inits, xs, ys, np.ones_like(ys), x_dense)
        out["seconds"].append(seconds)
        for t, name in enumerate(names):
            best = t * restarts + int(np.argmin(final_loss[t * restarts:(t + 1) * restarts]))
            out[name]["sup_error"].append(float(np.max(np.abs(fits[best] - TARGETS[name](x_dense)[:, 0]))))
            out[name]["train_mse"].append(float(final_loss[best]))
            out["fits"][(name, width)] = fits[best]
        print(f"width {width:3d}: sup-error " + ", ".join(
            f"{name.split(' ')[0]} {out[name]['sup_error'][-1]:.4f}" for name in names) + f"  ({seconds:.1f} s)")
    return out


# %% [markdown]
# ## Caveat (a): the jump
#
# A continuous network cannot jump, so at the step's jump it is off by about 1/2 whatever
# its width; what width buys is a *narrower* region of large error.  We measure the
# sup-error on the whole grid, the sup-error away from the jump (``|x| >= 0.5``) and the
# length of the set where the error exceeds 0.1.

# %%
def jump_study(sweep: dict, widths, x_dense) -> dict:
    x = x_dense[:, 0]
    away = np.abs(x) >= AWAY_FROM_JUMP
    out = {"sup_error": [], "sup_error_away": [], "length_error_above_0.1": []}
    for width in widths:
        error = np.abs(sweep["fits"][(STEP, width)] - step(x))
        out["sup_error"].append(float(error.max()))
        out["sup_error_away"].append(float(error[away].max()))
        out["length_error_above_0.1"].append(float((error > 0.1).sum() * (x[1] - x[0])))
    return out


# %% [markdown]
# ## Caveat (b): approximation is not learning
#
# Width 64 can fit sin(x) to ~0.01 (Run 1).  The same architecture, trained the same way,
# but started badly or stopped early:
#
# * *all zeros*: every hidden unit computes the same thing and gets the same gradient (and
#   here that gradient is 0), so only the output bias moves: the network stays a constant;
# * *saturating*: first-layer weights ~ N(0, 100^2) and zero biases make every unit a hard
#   step at ``x ~ 0``; ``tanh'`` is ~0 elsewhere, so the first layer barely moves;
# * *tiny*: every weight ~ N(0, 1e-4^2).  Not judged: Adam divides each step by the
#   gradient's running size, so tiny gradients still make full-sized steps and it escapes;
# * *too brief*: the good start, but 50 Adam steps instead of 5000.

# %%
def poor_inits(rng, width: int) -> dict:
    zeros = np.zeros(width)
    return {"well trained": spread_init(rng, width),
            "all zeros": mlp_params(zeros, zeros, zeros, np.zeros(1)),
            "saturating init": mlp_params(SATURATION * rng.standard_normal(width), zeros,
                                          glorot_output(rng, width), np.zeros(1)),
            "tiny init (not judged)": mlp_params(*(1e-4 * rng.standard_normal(n) for n in (width, width, width, 1)))}


def learning_study(x_train, x_dense, steps: int, seed: int) -> dict:
    inits = poor_inits(np.random.default_rng([seed, 1]), CAVEAT_WIDTH)
    y = np.sin(x_train)
    copies = (len(inits),) + y.shape
    _, fits = train(CAVEAT_WIDTH, steps, list(inits.values()), np.broadcast_to(x_train, copies),
                    np.broadcast_to(y, copies), np.ones(copies), x_dense)
    _, brief = train(CAVEAT_WIDTH, BRIEF_STEPS, [inits["well trained"]], x_train[None], y[None],
                     np.ones_like(y)[None], x_dense)
    named = {**dict(zip(inits, fits)), f"too brief ({BRIEF_STEPS} steps)": brief[0]}
    out = {name: (float(np.max(np.abs(fit - np.sin(x_dense[:, 0])))), fit) for name, fit in named.items()}
    for name, (error, _) in out.items():
        print(f"width {CAVEAT_WIDTH}, sin(x), {name}: sup-error {error:.4f}")
    return out


# %% [markdown]
# ## Caveat (c): fitting is not generalising
#
# First the network sees only the left half, ``x <= 0`` (the right half's points get
# weight 0): it fits them, and on ``[0, pi]`` it continues however its units happen to
# extend.  Then it sees ``n`` random points of the whole interval: with few points it
# passes through them and is free in between; the error on the dense grid (the "test
# error") falls as ``n`` grows.

# %%
def generalisation_study(x_train, x_dense, steps: int, train_sizes, seed: int) -> dict:
    rng = np.random.default_rng([seed, 2])
    x_random = rng.uniform(*DOMAIN, size=(max(train_sizes), 1))
    # problem 0: the left half of the grid; problems 1, 2, ...: the first n random points
    xs = np.stack([x_train] + [x_random] * len(train_sizes))
    weights = np.stack([(x_train <= 0) * 1.0] + [(np.arange(len(x_random)) < n)[:, None] * 1.0
                                                 for n in train_sizes])
    init = spread_init(rng, CAVEAT_WIDTH)
    _, fits = train(CAVEAT_WIDTH, steps, [init] * len(xs), xs, np.sin(xs), weights, x_dense)

    x = x_dense[:, 0]
    error = np.abs(fits - np.sin(x))
    out = {"half_train_sup_error": float(error[0, x <= 0].max()), "half_test_sup_error": float(error[0, x > 0].max()),
           "half_fit": fits[0], "train_sizes": list(train_sizes),
           "test_sup_error": [float(e.max()) for e in error[1:]]}
    print(f"trained on [-pi, 0]: sup-error {out['half_train_sup_error']:.4f} there, "
          f"{out['half_test_sup_error']:.4f} on [0, pi]")
    print("test sup-error vs training points: " + ", ".join(
        f"n={n}: {e:.4f}" for n, e in zip(train_sizes, out["test_sup_error"])))
    return out


# %% [markdown]
# ## Figures

# %%
def width_figure(sweep: dict, widths, path):
    fig, ax = figure("One hidden layer (tanh): sup-error vs width", "hidden units (log scale)",
                     "sup-error max |net - target| (log scale)", xscale="log", yscale="log", size=(6.4, 5.6))
    for name in TARGETS:
        ax.plot(widths, sweep[name]["sup_error"], marker="o", color=COLORS[name],
                linestyle="--" if name == STEP else "-", label=name + (" (not continuous)" if name == STEP else ""))
    ax.axhline(SUP_ERROR_TARGET, color="k", linewidth=0.8, linestyle=":", label=f"target {SUP_ERROR_TARGET}")
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    save_figure(fig, path)


def fits_figure(sweep: dict, widths, x_dense, path):
    x = x_dense[:, 0]
    shown = [w for w in (2, 8, widths[-1]) if w in widths] or list(widths)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, name in zip(axes.ravel(), TARGETS):
        ax.plot(x, TARGETS[name](x), color="k", linewidth=2.5, alpha=0.35, label="target")
        for width, style in zip(shown, (":", "--", "-")):
            ax.plot(x, sweep["fits"][(name, width)], color=COLORS[name], linestyle=style, linewidth=1.3,
                    label=f"width {width}: sup-error {sweep[name]['sup_error'][widths.index(width)]:.3f}")
        ax.set(title=name, xlabel="x", ylabel="f(x)")
        ax.legend(fontsize=8)
    fig.suptitle("Trained one-hidden-layer tanh networks of growing width")
    save_figure(fig, path)


def caveats_figure(jump: dict, sweep: dict, widths, learning: dict, general: dict, x_dense, path):
    x = x_dense[:, 0]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    ax = axes[0, 0]  # (a) the step's error along x, log scale
    target = step(x)
    for width in [w for w in widths if w >= 4][::2] or widths:
        i = widths.index(width)
        ax.plot(x, np.maximum(np.abs(sweep["fits"][(STEP, width)] - target), 1e-6), linewidth=1,
                label=f"width {width}: sup {jump['sup_error'][i]:.2f}, {jump['sup_error_away'][i]:.3f} for |x| >= 0.5")
    ax.axvspan(-AWAY_FROM_JUMP, AWAY_FROM_JUMP, color="grey", alpha=0.12, label="near the jump (|x| < 0.5)")
    ax.set(title="(a) step: the error stays at the jump", xlabel="x",
           ylabel="|net - step| (log scale, floor 1e-6)", yscale="log", ylim=(1e-9, 3))
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[0, 1]  # (b) representable but not learned
    ax.plot(x, np.sin(x), color="k", linewidth=2.5, alpha=0.35, label="target sin(x)")
    for name, (error, fit) in learning.items():
        ax.plot(x, fit, linewidth=1.2, linestyle="-" if name == "well trained" else "--",
                label=f"{name}: sup-error {error:.3f}")
    ax.set(title=f"(b) width {CAVEAT_WIDTH}: approximation is not learning", xlabel="x", ylabel="f(x)",
           ylim=(-1.6, 1.6))
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[1, 0]  # (c) trained on the left half only
    ax.plot(x, np.sin(x), color="k", linewidth=2.5, alpha=0.35, label="target sin(x)")
    ax.plot(x, general["half_fit"], color="tab:purple", label="net trained on x <= 0")
    ax.axvspan(0, DOMAIN[1], color="tab:red", alpha=0.08,
               label=f"unseen [0, pi]: sup-error {general['half_test_sup_error']:.2f}")
    ax.set(title="(c) fitting is not generalising", xlabel="x", ylabel="f(x)")
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1, 1]  # (c) test error vs training-set size
    ax.plot(general["train_sizes"], general["test_sup_error"], marker="o", color="tab:purple",
            label=f"width {CAVEAT_WIDTH}, sin(x), random points")
    ax.set(title="(c) test error vs training-set size", xlabel="training points (log scale)",
           ylabel="test sup-error on [-pi, pi] (log scale)", xscale="log", yscale="log")
    ax.set_xticks(general["train_sizes"], [str(n) for n in general["train_sizes"]])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    fig.suptitle("Universal approximation: the caveats, measured")
    save_figure(fig, path)


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    widths = QUICK_WIDTHS if run.quick else WIDTHS
    steps, restarts = (QUICK_STEPS, QUICK_RESTARTS) if run.quick else (STEPS, RESTARTS)
    train_sizes = QUICK_TRAIN_SIZES if run.quick else TRAIN_SIZES
    x_train = np.linspace(*DOMAIN, N_TRAIN)[:, None]
    x_dense = np.linspace(*DOMAIN, N_DENSE)[:, None]

    sweep = width_sweep(widths, steps, restarts, x_train, x_dense, run.seed)
    jump = jump_study(sweep, widths, x_dense)
    learning = learning_study(x_train, x_dense, steps, run.seed)
    general = generalisation_study(x_train, x_dense, steps, train_sizes, run.seed)
    print(f"step: sup-error {jump['sup_error'][-1]:.3f} at width {widths[-1]}, "
          f"{jump['sup_error_away'][-1]:.4f} for |x| >= {AWAY_FROM_JUMP}; length with error > 0.1: "
          + ", ".join(f"{w}: {v:.3f}" for w, v in zip(widths, jump["length_error_above_0.1"])))

    width_figure(sweep, list(widths), run.out / "sup_error_vs_width.png")
    fits_figure(sweep, list(widths), x_dense, run.out / "fits.png")
    caveats_figure(jump, sweep, list(widths), learning, general, x_dense, run.out / "caveats.png")

    last = widths[-1]
    falls = {name: sweep[name]["sup_error"][0] / sweep[name]["sup_error"][-1] for name in CONTINUOUS}
    well = learning["well trained"][0]
    poor = {name: error for name, (error, _) in learning.items() if name != "well trained" and "not judged" not in name}
    data_fall = general["test_sup_error"][0] / general["test_sup_error"][-1]
    checks = [
        check(f"sin(x), width {last}: sup-error", sweep["sin(x)"]["sup_error"][-1], "<=", SUP_ERROR_TARGET),
        check(f"|x|, width {last}: sup-error", sweep["|x|"]["sup_error"][-1], "<=", SUP_ERROR_TARGET),
        check(f"smallest fall of the sup-error, width {widths[0]} -> {last}, continuous targets (x)",
              min(falls.values()), ">=", MIN_FALL),
        check(f"(a) step, width {last}: sup-error", jump["sup_error"][-1], ">=", STEP_MIN_SUP_ERROR),
        check(f"(a) step, width {last}: sup-error for |x| >= {AWAY_FROM_JUMP}", jump["sup_error_away"][-1], "<=",
              SUP_ERROR_TARGET),
        check(f"(b) smallest sup-error of a poorly trained width-{CAVEAT_WIDTH} net / well-trained one (x)",
              min(poor.values()) / well, ">=", NOT_LEARNED_FACTOR),
        check("(c) trained on [-pi, 0]: sup-error on [0, pi]", general["half_test_sup_error"], ">=",
              NOT_GENERALISED_SUP_ERROR),
        check(f"(c) test sup-error with {train_sizes[0]} / with {train_sizes[-1]} training points (x)", data_fall,
              ">=", DATA_FALL),
    ]
    results = {
        "widths": list(widths), "steps": steps, "restarts": restarts,
        "sup_error": {name: sweep[name]["sup_error"] for name in TARGETS},
        "train_mse": {name: sweep[name]["train_mse"] for name in TARGETS},
        "fall_width_1_to_last": falls, "seconds_per_width": sweep["seconds"],
        "step": jump,
        "not_learning": {"well_trained_sup_error": well,
                         **{name: error for name, (error, _) in learning.items() if name != "well trained"}},
        "generalisation": {k: v for k, v in general.items() if k not in ("half_fit", "x_random")},
    }
    summary = (f"width {last} sup-error sin {sweep['sin(x)']['sup_error'][-1]:.4f}, |x| "
               f"{sweep['|x|']['sup_error'][-1]:.4f}, bump {sweep['bump exp(-2x^2)']['sup_error'][-1]:.4f} "
               f"(<= {SUP_ERROR_TARGET}; fell {min(falls.values()):.0f}x or more from width {widths[0]}); "
               f"step {jump['sup_error'][-1]:.2f} at the jump, {jump['sup_error_away'][-1]:.3f} away; "
               f"poorly trained >= {min(poor.values()) / well:.0f}x worse; half-domain fit off by "
               f"{general['half_test_sup_error']:.2f} on [0, pi]; test error {data_fall:.0f}x smaller with "
               f"{train_sizes[-1]} than {train_sizes[0]} points")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
