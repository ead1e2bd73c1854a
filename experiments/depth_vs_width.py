"""HSE, Neural Networks, "Deeper nets"; Telgarsky 2016, Montufar et al. 2014: each ReLU layer can double the number of linear pieces, so a deep narrow network represents a sawtooth with 2^k pieces that a one-hidden-layer network with the same number of parameters cannot approximate.

Setup: ReLU networks with one input (``models.mlp``, float64) are cut along a line and their
linear pieces counted exactly, from the hidden units' activation patterns: the hand-set
"sawtooth" net (the tent map composed k times, width 2, depth k = 1 to 6), and random
width-8 nets of depth 1 to 6 against one-hidden-layer nets with as many parameters (20
seeds each).  A one-hidden-layer net with the depth-6 sawtooth's 37 parameters (12 ReLU
units) is then trained on that sawtooth by full-batch Adam from 8 initializations, and the
best is kept.

Run: the pieces along [0, 1] (sawtooth) or [-1, 1] (random nets) are counted twice: the
distinct consecutive activation patterns on a grid (100,000 points for the sawtooth,
20,000 for the random nets), and the exact
breakpoints, solved layer by layer (on an interval where the earlier layers are linear, a
unit's pre-activation is linear too, and its zero is found exactly), after which the
network is checked to be linear between consecutive breakpoints.

Measurement: the piece count of each sawtooth net against 2^k, the hand-set net's largest
difference from the sawtooth formula, the mean piece counts of the random nets (reported,
not judged, deep against shallow: at random init the shallow net, with more units, has
more), and the sup-error of the best trained shallow net.  Figures: ``functions.png`` (the tent map and its
compositions; the depth-6 sawtooth, the deep net and the best shallow fit) and
``pieces.png`` (pieces against depth, log scale).

Verdict: reproduced when every sawtooth net has exactly 2^k pieces by both counts, the
counted pieces are linear to ``LINEARITY_TOLERANCE``, the hand-set net equals the sawtooth
to ``EXACT_TOLERANCE``, the best shallow net still misses it by ``SHALLOW_MIN_SUP_ERROR``,
and random nets of depth 6 have ``RANDOM_DEPTH_GAIN`` times the pieces of depth 1.

    python experiments/depth_vs_width.py [--quick] [--seed 0] [--out runs/depth_vs_width]
"""
# %% [markdown]
# # Depth multiplies linear pieces; width only adds them
#
# A ReLU network is piecewise linear: along any line through its input space it is a chain
# of straight pieces, and a new piece starts wherever some hidden unit switches on or off.
# In one hidden layer each unit switches once along a line, so ``W`` units give at most
# ``W + 1`` pieces: width *adds* pieces.  A layer placed after others switches wherever *its*
# input crosses zero, and that input already zigzags, so it can switch many times: depth can
# *multiply* pieces (Montufar et al. 2014).  Telgarsky (2016) made it concrete with the tent
# map ``t(x) = 2 min(x, 1 - x)``: composing it ``k`` times gives a sawtooth with ``2^k``
# pieces from a width-2 network of depth ``k``, which a shallow network needs about
# ``2^k`` units for.  The lectures (HSE, "Deeper nets"): "stacking more hidden layers often
# reduces the number of neurons required to represent a given function".

# %%
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)  # the sawtooth is exact: compared to 1e-12 in float64

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, figure, finish, save_figure, start, timed  # noqa: E402

from jaxnn import models, optim  # noqa: E402

# The hand-set net computes the tent map with weights 1, 2, -4 and biases 0, -1/2: every
# intermediate value is a dyadic rational, so float64 reproduces the sawtooth to round-off
# (measured: exactly 0); 1e-12 fails any real difference.
EXACT_TOLERANCE = 1e-12
# Between consecutive breakpoints the net is linear: its value at the 1/3 and 2/3 points
# equals the linear interpolation up to float64 round-off (relative ~1e-15).
LINEARITY_TOLERANCE = 1e-9
# Any one-hidden-layer ReLU net with 12 units has at most 12 kinks; the depth-6 sawtooth
# has 32 teeth, so some tooth (valley, peak, valley) lies inside one straight piece, which
# is off by >= 1/2 at the peak or a valley.  The trained ones sit at 0.52 to 0.57 (they
# learn the mean, 1/2); 0.2 is far below even the bound.
SHALLOW_MIN_SUP_ERROR = 0.2
# "Each layer adds pieces": random width-8 nets of depth 6 have 3.9x to 4.1x the pieces of
# depth 1 (means over 20 nets, seeds 0 to 2); 2x leaves room for the seed spread.
RANDOM_DEPTH_GAIN = 2.0

SAWTOOTH_DEPTHS = tuple(range(1, 7))
SAWTOOTH_LINE = (0.0, 1.0)
RANDOM_LINE = (-1.0, 1.0)
GRID_POINTS = 100_000                 # the grid count's points along the sawtooth's line
RANDOM_GRID_POINTS = 20_000           # ... along the random nets' line (240 nets: kept cheaper)
GRID_OFFSET = (np.sqrt(5) - 1) / 2    # grid at (i + offset) / N: never on a dyadic breakpoint
RANDOM_WIDTH, RANDOM_DEPTHS, RANDOM_SEEDS = 8, tuple(range(1, 7)), 20
BIAS_STD = 0.5                        # random biases ~ N(0, 0.5^2) (see below)
FIT_POINTS, FIT_INITS, FIT_STEPS = 2048, 8, 10_000
FIT_LEARNING_RATE = 0.01              # Adam, cosine-decayed to 0
EVAL_POINTS = 100_001                 # the sup-error grid on [0, 1]
QUICK_RANDOM_DEPTHS, QUICK_RANDOM_SEEDS = (1, 2, 3), 3
QUICK_FIT_INITS, QUICK_FIT_STEPS = 2, 300
QUICK_GRID_POINTS = QUICK_RANDOM_GRID_POINTS = 10_000


# %% [markdown]
# ## Setup: the sawtooth network, written out
#
# The tent map on [0, 1] is ``t(x) = 2 relu(x) - 4 relu(x - 1/2)``: two ReLU units.  To
# compose it, the next layer's units need ``t`` and ``t - 1/2``, which it computes from the
# previous units with weights ``[[2, 2], [-4, -4]]`` and biases ``[0, -1/2]``.  So the depth-k
# sawtooth is ``models.mlp([2] * k + [1], "relu")`` with these params (jaxnn's layout: one
# ``{"W": (fan_in, units), "b": (units,)}`` per dense layer, ``()`` for each ReLU layer):
#
# ```
# ({"W": [[1, 1]], "b": [0, -1/2]}, (),                        # x -> (x, x - 1/2)
#  {"W": [[2, 2], [-4, -4]], "b": [0, -1/2]}, (),   x (k - 1)  # -> (t, t - 1/2)
#  {"W": [[2], [-4]], "b": [0]})                               # -> t
# ```
#
# Its formula: ``t^k(x) = 2 |2^(k-1) x - round(2^(k-1) x)|``, ``2^(k-1)`` teeth, ``2^k`` pieces.

# %%
def sawtooth_params(k: int) -> tuple:
    """The params of ``models.mlp([2] * k + [1], "relu")`` computing the tent map composed k times."""
    first = {"W": np.array([[1.0, 1.0]]), "b": np.array([0.0, -0.5])}
    middle = {"W": np.array([[2.0, 2.0], [-4.0, -4.0]]), "b": np.array([0.0, -0.5])}
    last = {"W": np.array([[2.0], [-4.0]]), "b": np.array([0.0])}
    layers = [first] + [middle] * (k - 1) + [last]
    params = []
    for layer in layers[:-1]:
        params += [layer, ()]
    return tuple(params + [layers[-1]])


def sawtooth(x: np.ndarray, k: int) -> np.ndarray:
    """The tent map composed k times, by its formula."""
    scaled = 2.0 ** (k - 1) * x
    return 2 * np.abs(scaled - np.round(scaled))


def sawtooth_model(k: int):
    return models.mlp([2] * k + [1], "relu")


# %% [markdown]
# ## Counting pieces along a line
#
# ``model.apply`` returns only the output; the activation pattern needs every hidden
# unit's pre-activation ``z``.  A numpy forward over the same params gives them (and its
# output is checked against ``model.apply`` below).  Two counts:
#
# * **grid**: the pattern ``z > 0`` of all hidden units at each grid point; a new region
#   starts wherever the pattern differs from the previous point's.  It can only miss
#   regions narrower than the grid's spacing;
# * **exact**: start from the line's two ends.  On each interval between the breakpoints
#   found so far, the layers already processed are linear, so the next layer's ``z`` is
#   linear there too: where it changes sign between the interval's ends, its zero is the
#   linear interpolation, a new breakpoint.  Layer by layer, this finds every breakpoint.
#
# A breakpoint need not bend the output (a unit may switch off where nothing reads it), so
# the *linear pieces* merge neighbouring intervals with equal slopes.  Last, the check that
# the count is right: at the 1/3 and 2/3 points of every interval the output must equal
# the straight line through the interval's ends.

# %%
def forward(params, x: np.ndarray) -> tuple[list, np.ndarray]:
    """``(hidden pre-activations, output)`` of an ``mlp`` params pytree at ``x: (N, 1)``."""
    dense = [p for p in params if p]  # the ReLU layers' params are ()
    a, pre = x, []
    for p in dense[:-1]:
        z = a @ p["W"] + p["b"]
        pre.append(z)
        a = np.maximum(z, 0.0)
    return pre, a @ dense[-1]["W"] + dense[-1]["b"]


def grid_regions(params, line, points: int) -> int:
    """Distinct consecutive activation patterns on ``points`` grid points of ``line``."""
    x = line[0] + (line[1] - line[0]) * (np.arange(points) + GRID_OFFSET) / points
    pattern = np.concatenate(forward(params, x[:, None])[0], axis=1) > 0
    return 1 + int(np.any(pattern[1:] != pattern[:-1], axis=1).sum())


def exact_breakpoints(params, line) -> np.ndarray:
    """The line's ends and every point where a hidden unit's pre-activation changes sign."""
    t = np.array(line, dtype=np.float64)
    for layer in range(len(forward(params, t[:1, None])[0])):
        z = forward(params, t[:, None])[0][layer]
        left, right = z[:-1], z[1:]
        i, unit = np.nonzero(left * right < 0)
        zeros = t[i] + (t[i + 1] - t[i]) * left[i, unit] / (left[i, unit] - right[i, unit])
        t = np.unique(np.concatenate([t, zeros]))
    return t


def count_pieces(params, line) -> dict:
    """Exact regions, linear pieces (equal neighbouring slopes merged), the linearity check."""
    t = exact_breakpoints(params, line)
    f = forward(params, t[:, None])[1][:, 0]
    slopes = np.diff(f) / np.diff(t)
    bends = np.abs(np.diff(slopes)) > 1e-9 * (1 + np.abs(slopes[:-1]))
    thirds = np.concatenate([t[:-1] + np.diff(t) / 3, t[:-1] + 2 * np.diff(t) / 3])
    straight = np.concatenate([f[:-1] + np.diff(f) / 3, f[:-1] + 2 * np.diff(f) / 3])
    deviation = np.abs(forward(params, thirds[:, None])[1][:, 0] - straight) / (1 + np.abs(f).max())
    return {"regions": len(t) - 1, "pieces": 1 + int(bends.sum()), "linearity_error": float(deviation.max()),
            "breakpoints": t}


# %% [markdown]
# ## Run 1: the sawtooth nets
#
# For each depth k: the output of ``model.apply`` against the formula, the numpy forward
# against ``model.apply``, and the two piece counts against ``2^k``.

# %%
def sawtooth_study(grid_points: int) -> dict:
    x = np.linspace(*SAWTOOTH_LINE, EVAL_POINTS)[:, None]
    out = {"depth": [], "params": [], "grid_regions": [], "exact_regions": [], "pieces": [], "sup_error": [],
           "numpy_vs_apply": [], "linearity_error": []}
    for k in SAWTOOTH_DEPTHS:
        model, params = sawtooth_model(k), sawtooth_params(k)
        y = np.asarray(jax.jit(model.apply)(params, x))[:, 0]
        counted = count_pieces(params, SAWTOOTH_LINE)
        out["depth"].append(k)
        out["params"].append(models.count_params(params))
        out["grid_regions"].append(grid_regions(params, SAWTOOTH_LINE, grid_points))
        out["exact_regions"].append(counted["regions"])
        out["pieces"].append(counted["pieces"])
        out["linearity_error"].append(counted["linearity_error"])
        out["sup_error"].append(float(np.max(np.abs(y - sawtooth(x[:, 0], k)))))
        out["numpy_vs_apply"].append(float(np.max(np.abs(y - forward(params, x)[1][:, 0]))))
        print(f"sawtooth depth {k} ({out['params'][-1]} params): {out['pieces'][-1]} pieces (2^{k} = {2 ** k}; "
              f"grid {out['grid_regions'][-1]}, exact regions {out['exact_regions'][-1]}), "
              f"|net - formula| <= {out['sup_error'][-1]:.1e}")
    return out


# %% [markdown]
# ## Run 2: random deep and shallow nets with the same number of parameters
#
# Random width-8 nets of depth d have ``72 d - 47`` parameters (``models.mlp_param_count``);
# a one-hidden-layer net of ``W`` units has ``3 W + 1``, so ``W = 24 d - 16`` matches it.
# Weights are drawn as ``models.mlp``'s default for ReLU (He uniform, ``U(-a, a)``,
# ``a = sqrt(6 / fan_in)``; Glorot for the output layer).  Its biases start at 0, which
# would put every first-layer kink at x = 0 (and make the whole net ``f(a x) = a f(x)``,
# 2 pieces along any line through 0), so biases are drawn ~ N(0, 0.5^2) instead.
#
# What to expect: depth's extra pieces need weights arranged like the sawtooth's.  Random
# weights do not arrange them so: the number of pieces of a random ReLU net along a line
# grows with its number of *units*, not exponentially with its depth (Hanin & Rolnick
# 2019), and at equal parameters the shallow net has more units.

# %%
def random_params(rng, widths) -> tuple:
    """``models.mlp(widths, "relu")`` params for one input: He-uniform hidden weights,
    Glorot-uniform output weights, biases ~ N(0, BIAS_STD^2)."""
    sizes = [1, *widths]
    params = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        limit = np.sqrt(6 / fan_in) if i < len(widths) - 1 else np.sqrt(6 / (fan_in + fan_out))
        params.append({"W": rng.uniform(-limit, limit, (fan_in, fan_out)),
                       "b": BIAS_STD * rng.standard_normal(fan_out)})
        params.append(())
    return tuple(params[:-1])


def shallow_width(budget: int) -> int:
    """The width W of the one-hidden-layer net ``mlp([W, 1])`` with ``budget`` parameters."""
    width = (budget - 1) // 3
    assert models.mlp_param_count(1, [width, 1]) == budget, budget
    return width


def random_study(depths, seeds: int, grid_points: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {"depth": [], "params": [], "shallow_width": [], "deep_mean": [], "deep_std": [], "shallow_mean": [],
           "shallow_std": [], "grid_matches_exact": 0, "grid_short_by_narrow_regions_only": 0, "nets": 0,
           "linearity_error": 0.0}
    spacing = (RANDOM_LINE[1] - RANDOM_LINE[0]) / grid_points
    for depth in depths:
        widths = [RANDOM_WIDTH] * depth + [1]
        budget = models.mlp_param_count(1, widths)
        shallow = [shallow_width(budget), 1]
        counts = {"deep": [], "shallow": []}
        for _ in range(seeds):
            for name, arch in (("deep", widths), ("shallow", shallow)):
                params = random_params(rng, arch)
                counted = count_pieces(params, RANDOM_LINE)
                counts[name].append(counted["pieces"])
                grid = grid_regions(params, RANDOM_LINE, grid_points)
                narrow = int((np.diff(counted["breakpoints"]) < spacing).sum())
                out["grid_matches_exact"] += int(grid == counted["regions"])
                short_by_narrow = counted["regions"] - narrow <= grid < counted["regions"]
                out["grid_short_by_narrow_regions_only"] += int(short_by_narrow)
                out["nets"] += 1
                out["linearity_error"] = max(out["linearity_error"], counted["linearity_error"])
        out["depth"].append(depth)
        out["params"].append(budget)
        out["shallow_width"].append(shallow[0])
        for name in counts:
            out[f"{name}_mean"].append(float(np.mean(counts[name])))
            out[f"{name}_std"].append(float(np.std(counts[name])))
        print(f"random, {budget} params: depth {depth} x width {RANDOM_WIDTH}: {out['deep_mean'][-1]:.1f} pieces "
              f"(mean of {seeds}); 1 x {shallow[0]}: {out['shallow_mean'][-1]:.1f}")
    print(f"random nets: the grid count equals the exact count of regions for {out['grid_matches_exact']} of "
          f"{out['nets']}; for {out['grid_short_by_narrow_regions_only']} it is short by no more than the number of "
          f"regions narrower than the grid's spacing")
    return out


# %% [markdown]
# ## Run 3: can a shallow net with the same parameters learn the sawtooth?
#
# The depth-6 sawtooth net has 37 parameters; ``mlp([12, 1])`` has 37 too.  It is trained
# on 2048 points of [0, 1] by full-batch Adam (one compiled ``lax.scan``, several
# initializations at once with ``jax.vmap``), from 8 starts whose 12 kinks ``-b/w`` are
# spread uniformly over [0, 1], its best chance; the lowest training loss is kept.

# %%
def shallow_fit(width: int, inits: int, steps: int, seed: int) -> dict:
    k = SAWTOOTH_DEPTHS[-1]
    model = models.mlp([width, 1], "relu")
    x = np.linspace(*SAWTOOTH_LINE, FIT_POINTS)[:, None]
    y = sawtooth(x, k)
    optimizer = optim.adam(optim.cosine_decay(FIT_LEARNING_RATE, steps))

    def loss(params):
        return jnp.mean((model.apply(params, x) - y) ** 2)

    def train_one(params):
        def one_step(carry, _):
            params, state = carry
            value, grads = jax.value_and_grad(loss)(params)
            updates, state = optimizer.update(grads, state, params)
            return (optim.apply_updates(params, updates), state), value

        (params, _), values = jax.lax.scan(one_step, (params, optimizer.init(params)), None, length=steps)
        return params, values

    rng = np.random.default_rng([seed, 3])
    starts = []
    for _ in range(inits):
        w = rng.choice([-1.0, 1.0], width) * rng.uniform(0.5, 2.0, width)
        starts.append(({"W": w[None], "b": -w * rng.uniform(*SAWTOOTH_LINE, width)}, (),
                       {"W": rng.uniform(-1, 1, (width, 1)) * np.sqrt(6 / (width + 1)), "b": np.zeros(1)}))
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *starts)
    (params, values), seconds = timed(lambda p: jax.block_until_ready(jax.jit(jax.vmap(train_one))(p)), stacked)
    values = np.asarray(values)
    best = int(np.argmin(values[:, -1]))
    best_params = jax.tree.map(lambda leaf: np.asarray(leaf[best]), params)
    x_eval = np.linspace(*SAWTOOTH_LINE, EVAL_POINTS)[:, None]
    fit = forward(best_params, x_eval)[1][:, 0]
    out = {"width": width, "params": models.count_params(best_params), "final_mse": values[:, -1].tolist(),
           "best_mse": float(values[best, -1]), "mse_of_best_constant": float(np.var(y)),
           "last_10pct_mse_change": float(values[best, int(0.9 * steps)] - values[best, -1]),
           "sup_error": float(np.max(np.abs(fit - sawtooth(x_eval[:, 0], k)))),
           "pieces": count_pieces(best_params, SAWTOOTH_LINE)["pieces"], "seconds": seconds, "_fit": fit}
    print(f"shallow 1 x {width} ({out['params']} params), best of {inits}: training MSE {out['best_mse']:.5f} "
          f"(best constant {out['mse_of_best_constant']:.5f}; changed by {out['last_10pct_mse_change']:.1e} over the "
          f"last 10% of steps), {out['pieces']} pieces, sup-error {out['sup_error']:.3f}")
    return out


# %% [markdown]
# ## Figures

# %%
def functions_figure(fit: dict, path):
    x = np.linspace(*SAWTOOTH_LINE, EVAL_POINTS)
    k = SAWTOOTH_DEPTHS[-1]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 1.6]})
    ax = axes[0]
    for depth in (1, 2, 3):
        y = forward(sawtooth_params(depth), x[:, None])[1][:, 0]
        ax.plot(x, y, linewidth=1.4, label=f"depth {depth} (width 2): {2 ** depth} pieces")
    ax.set(title="Each layer composes the tent map once more", xlabel="x", ylabel="network output")
    ax.legend(fontsize=8, loc="lower center")
    ax.set_ylim(-0.35, 1.05)

    ax = axes[1]
    deep = forward(sawtooth_params(k), x[:, None])[1][:, 0]
    ax.plot(x, deep, color="tab:blue", linewidth=1.2,
            label=f"depth {k} x width 2, hand-set ({models.count_params(sawtooth_params(k))} params): "
                  f"{2 ** k} pieces, exact")
    ax.plot(x, fit["_fit"], color="tab:red", linewidth=2,
            label=f"1 x {fit['width']}, trained, best of the starts ({fit['params']} params): "
                  f"{fit['pieces']} pieces, sup-error {fit['sup_error']:.2f}")
    ax.set(title=f"The depth-{k} sawtooth and the best shallow net with as many parameters", xlabel="x",
           ylabel="network output")
    ax.legend(fontsize=8, loc="lower center")
    ax.set_ylim(-0.35, 1.05)
    save_figure(fig, path)


def pieces_figure(saw: dict, rand: dict, path):
    fig, ax = figure("Linear pieces along a line vs depth", "depth k of the deep net (hidden layers)",
                     "linear pieces (log scale)", yscale="log", size=(7, 6))
    ks = np.array(saw["depth"])
    ax.plot(ks, saw["pieces"], marker="o", color="tab:blue",
            label="sawtooth: depth k x width 2, hand-set (6k+1 params)")
    ax.plot(ks, 2 * ks + 1, marker="s", linestyle="--", color="tab:blue", alpha=0.6,
            label="the most any 1-hidden-layer net with 6k+1 params can have (2k units: 2k+1)")
    d = np.array(rand["depth"])
    ax.errorbar(d, rand["deep_mean"], yerr=rand["deep_std"], marker="o", color="tab:green", capsize=3,
                label=f"random: depth k x width {RANDOM_WIDTH} (72k-47 params), mean +- sd over seeds")
    ax.errorbar(d, rand["shallow_mean"], yerr=rand["shallow_std"], marker="s", linestyle="--", color="tab:orange",
                capsize=3, label="random: 1 hidden layer of 24k-16 units (same params as the green net)")
    ax.set_xticks(ks)
    ticks = [2 ** j for j in range(1, 8)]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    save_figure(fig, path)


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    depths = QUICK_RANDOM_DEPTHS if run.quick else RANDOM_DEPTHS
    seeds = QUICK_RANDOM_SEEDS if run.quick else RANDOM_SEEDS
    inits, steps = (QUICK_FIT_INITS, QUICK_FIT_STEPS) if run.quick else (FIT_INITS, FIT_STEPS)
    grid_points = QUICK_GRID_POINTS if run.quick else GRID_POINTS
    random_grid_points = QUICK_RANDOM_GRID_POINTS if run.quick else RANDOM_GRID_POINTS

    saw = sawtooth_study(grid_points)
    rand = random_study(depths, seeds, random_grid_points, run.seed)
    width = shallow_width(saw["params"][-1])
    fit = shallow_fit(width, inits, steps, run.seed)

    functions_figure(fit, run.out / "functions.png")
    pieces_figure(saw, rand, run.out / "pieces.png")

    expected = [2 ** k for k in saw["depth"]]
    wrong = sum(int(p != e) + int(g != e) + int(r != e)
                for p, g, r, e in zip(saw["pieces"], saw["grid_regions"], saw["exact_regions"], expected))
    gain = rand["deep_mean"][-1] / rand["deep_mean"][0]
    ratio = rand["deep_mean"][-1] / rand["shallow_mean"][-1]
    checks = [
        check(f"sawtooth depths 1..{saw['depth'][-1]}: counts (pieces, grid, exact regions) != 2^k (count)", wrong,
              "==", 0),
        check("largest deviation from linearity between counted breakpoints (relative)",
              max(max(saw["linearity_error"]), rand["linearity_error"]), "<=", LINEARITY_TOLERANCE),
        check("random nets whose grid count is neither the exact count nor short by only regions narrower than "
              "the grid spacing (count)",
              rand["nets"] - rand["grid_matches_exact"] - rand["grid_short_by_narrow_regions_only"], "==", 0),
        check(f"hand-set depth-{saw['depth'][-1]} net vs the sawtooth formula: sup-error", max(saw["sup_error"]), "<=",
              EXACT_TOLERANCE),
        check(f"best trained 1 x {width} net ({fit['params']} params) vs the sawtooth: sup-error", fit["sup_error"],
              ">=", SHALLOW_MIN_SUP_ERROR),
        check(f"random width-{RANDOM_WIDTH} nets: mean pieces, depth {depths[-1]} / depth {depths[0]} (x)", gain, ">=",
              RANDOM_DEPTH_GAIN),
    ]
    results = {"sawtooth": saw, "random": rand, "random_deep_over_shallow": [
                   dm / sm for dm, sm in zip(rand["deep_mean"], rand["shallow_mean"])],
               "shallow_fit": {k: v for k, v in fit.items() if not k.startswith("_")}}
    summary = (f"sawtooth depth k has exactly 2^k pieces for k = 1..{saw['depth'][-1]} "
               f"({saw['pieces'][-1]} from {saw['params'][-1]} params, |net - formula| <= "
               f"{max(saw['sup_error']):.0e}); "
               f"the best trained 1 x {width} net ({fit['params']} params) misses it by {fit['sup_error']:.2f} with "
               f"{fit['pieces']} pieces; random nets: depth {depths[-1]} has {gain:.1f}x the pieces of depth "
               f"{depths[0]}, but {ratio:.2f}x those of a shallow net with equal params")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
