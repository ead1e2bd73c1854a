"""IIT Mandi, Introduction to Neural Networks, "Practical notes & numerical stability" (proper initialization: Xavier/He); Glorot & Bengio 2010; He et al. 2015: the initial weight scale decides whether the signal survives depth: with the "standard" U[-1/sqrt(n), 1/sqrt(n)] tanh activations collapse within 10 layers while Glorot's init keeps them; ReLU needs He's (Glorot's shrinks them a thousandfold over 30 layers); a 30-layer ReLU MLP trains from He's init, not from the standard one.

Setup: 500 random inputs x ~ N(0, I) pushed through 30 dense layers of width 512 (zero
biases) with tanh or ReLU, the weights drawn by ``jaxnn.initializers``: ``uniform(1/sqrt(n))``
(the "standard" init, Var[W] = 1/(3n)), ``glorot_uniform`` (1/n here) or ``he_normal`` (2/n).
Then a 30-layer ReLU MLP (29 hidden layers of width 64, 10 logits) trained on the bundled 8x8
digits (``datasets.load("digits")``) from each init, with Adam (1e-3), batch 64, 20 epochs,
three seeds.

Run: the forward pass layer by layer (``model.children``), keeping every hidden layer's
activations; the training with ``train.fit``.

Measurement: the standard deviation of the activations after each layer, and its ratio
to layer 1's (tanh: layer 10 / layer 1; ReLU: layer 30 / layer 1); the test accuracy after
training.  Figures: ``activation_std.png`` (std per layer, log scale, with the linear-regime
prediction ``(n Var[W] g)^((l-1)/2)``, g = 1 for tanh near 0 and 1/2 for ReLU),
``histograms.png`` (activation values at layers 1, 10, 20, 30) and ``training.png``
(validation accuracy per epoch).

Verdict: reproduced when tanh's ratio is below ``TANH_STANDARD_MAX_RATIO`` with the standard
init and above ``TANH_GLOROT_MIN_RATIO`` with Glorot's; ReLU's below ``RELU_GLOROT_MAX_RATIO``
with Glorot's and within ``RELU_HE_RATIO_RANGE`` with He's; and when every He-initialized
network reaches ``TRAINS_MIN_ACCURACY`` on the test split while every standard-initialized
one stays at or below ``STUCK_MAX_ACCURACY``.  Glorot's init for the ReLU MLP is trained and
shown, not judged.

    python experiments/initialization.py [--quick] [--seed 0] [--out runs/initialization]
"""
# %% [markdown]
# # Initialization: keep the variance of the activations constant through depth
#
# A dense layer ``z = a W`` with ``n`` inputs and independent, zero-mean weights gives
# ``Var[z] = n Var[W] E[a^2]``.  So every layer multiplies the signal's variance by
# ``n Var[W]`` times what the activation keeps of it: about all of it for tanh near 0, half
# of it for ReLU (it zeroes the negative half).  Over ``L`` layers this factor is raised to
# the power ``L``: below 1 the signal dies away, above 1 it explodes (or saturates tanh).
# The fixes (IIT Mandi, "Practical notes & numerical stability": "proper initialization
# (Xavier/He)") choose ``Var[W]`` so the factor is 1: Glorot & Bengio 2010 take
# ``Var[W] = 2 / (n_in + n_out)`` (1/n for a square layer) for tanh, He et al. 2015
# ``Var[W] = 2 / n_in`` for ReLU.  The "standard" heuristic ``U[-1/sqrt(n), 1/sqrt(n)]``
# has variance ``1/(3n)``: a factor 1/3 per tanh layer, 1/6 per ReLU layer.

# %%
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from common import check, exit_with, figure, finish, save_figure, start, timed

from jaxnn import datasets, evaluation, initializers, models, optim, train

# The standard init's factor per tanh layer is ~1/3 in variance, so (1/sqrt(3))^9 ~ 0.007
# at layer 10 (measured 0.0065 for seeds 0 to 5); 0.05 says "collapsed" with a factor 7 of margin.
TANH_STANDARD_MAX_RATIO = 0.05
# Glorot's factor is 1 in tanh's linear regime; tanh's curvature alone shrinks the signal
# slowly (measured 0.36 to 0.37 at layer 10): 0.2 says "held", 30 times the collapsed 0.0065.
TANH_GLOROT_MIN_RATIO = 0.2
# ReLU with Glorot's 1/n keeps half the variance per layer: 2^(-29/2) ~ 4e-5 at layer 30
# (measured 3.8e-5 to 5.4e-5 for seeds 0 to 5); "shrinks by more than 1e3" has a factor 18 of margin.
RELU_GLOROT_MAX_RATIO = 1e-3
# He's 2/n makes the factor exactly 1 on average; the finite width (512) leaves a random
# drift over 30 layers (measured 0.83 to 1.25 for seeds 0 to 5): within a factor 2 either way.
RELU_HE_RATIO_RANGE = (0.5, 2.0)
# Chance on 10 balanced classes is 10%.  From He's init the 30-layer net reaches 84% to 87%
# after 20 epochs (seeds 0 to 2): 70% is seven times chance, 14 points below the worst seed.
TRAINS_MIN_ACCURACY = 0.70
# From the standard init its logits start ~1e-12 and it predicts one class (measured 10.0%):
# 20% is twice chance.
STUCK_MAX_ACCURACY = 0.20

N_POINTS, WIDTH, DEPTH = 500, 512, 30          # the signal-propagation study
TANH_LAYER = 10                                # where tanh's ratio is read
HISTOGRAM_LAYERS = (1, 10, 20, 30)
MLP_WIDTH, MLP_DEPTH = 64, 30                  # the trained ReLU MLP: dense layers, hidden width
SEEDS, EPOCHS = 3, 20
BATCH_SIZE, LEARNING_RATE = 64, 1e-3
LOSS = "softmax_cross_entropy"
CHANCE = 0.1
# --quick: checks the script, not the claim
QUICK = {"N_POINTS": 200, "WIDTH": 128, "DEPTH": 12, "HISTOGRAM_LAYERS": (1, 6, 12), "MLP_DEPTH": 6,
         "SEEDS": 1, "EPOCHS": 2}


# %% [markdown]
# ## Setup: the three initializers
#
# ``initializers.uniform(scale)`` draws ``U(-scale, scale)``; with ``scale = 1/sqrt(n)`` it is
# the "standard" init of Glorot & Bengio's paper.  ``glorot_uniform`` and ``he_normal`` are
# the variance-scaling schemes.  Each ``(activation, init)`` pair is one ``models.mlp``.

# %%
def standard(n: int):
    """The "standard" init U[-1/sqrt(n), 1/sqrt(n)], ``n`` the fan-in (Glorot & Bengio 2010, eq. 1)."""
    return initializers.uniform(1.0 / math.sqrt(n))


def inits(n: int) -> dict:
    """name -> (initializer, Var[W] for a square n x n layer)."""
    return {"standard": (standard(n), 1.0 / (3 * n)), "Glorot": (initializers.glorot_uniform, 1.0 / n),
            "He": (initializers.he_normal, 2.0 / n)}


# The propagation study: (activation, init), and what each activation keeps of the variance
# in its linear regime (tanh ~ the identity near 0; ReLU zeroes half).
SIGNAL_CASES = (("tanh", "standard"), ("tanh", "Glorot"), ("relu", "standard"), ("relu", "Glorot"), ("relu", "He"))
GAIN = {"tanh": 1.0, "relu": 0.5}
STYLE = {("tanh", "standard"): ("tab:red", "--"), ("tanh", "Glorot"): ("tab:orange", "--"),
         ("relu", "standard"): ("tab:purple", "-"), ("relu", "Glorot"): ("tab:green", "-"),
         ("relu", "He"): ("tab:blue", "-")}


# %% [markdown]
# ## Run 1: push random inputs through 30 layers
#
# A ``serial`` model's ``children`` are its layers, ``dense, tanh, dense, tanh, ...``; we
# apply them one by one and keep the output of every activation layer.

# %%
def hidden_activations(model, params, x) -> list:
    """The output of each activation layer of ``model`` (a ``models.mlp``) on ``x``, input side first."""
    outputs = []
    for layer, p in zip(model.children, params):
        x = layer.apply(p, x)
        if layer.name != "dense":
            outputs.append(x)
    return outputs


def propagate(activation: str, init_name: str, x, depth: int, width: int, seed: int, keep: tuple) -> dict:
    """Activation std per layer through ``depth`` layers of ``width``, and the values at the layers ``keep``."""
    init, variance = inits(width)[init_name]
    model = models.mlp([width] * depth + [10], activation=activation, kernel_init=init)
    _, params = model.init(jax.random.key(seed), (width,))
    outputs = hidden_activations(model, params, x)
    stds = [float(jnp.std(a)) for a in outputs]
    factor = width * variance * GAIN[activation]  # the linear-regime variance factor per layer
    return {"std": stds, "ratio_to_layer_1": [s / stds[0] for s in stds], "variance_factor": factor,
            "predicted_ratio": [factor ** (l / 2) for l in range(depth)],
            "_values": {l: np.asarray(outputs[l - 1]).ravel() for l in keep}}


# %% [markdown]
# ## Run 2: train a 30-layer ReLU MLP from each init
#
# The init only decides where training starts; the network is the same.  So we build the
# model once (its compiled training step serves every run) and draw its starting
# parameters from ``models.mlp(..., kernel_init=...)`` with each initializer (``mlp``
# Glorot-initializes its linear output layer in every case).

# %%
def train_from_each_init(ds, depth: int, seeds: range, epochs: int) -> dict:
    x_train, y_train = ds.train
    sizes = [MLP_WIDTH] * (depth - 1) + [10]
    network = models.mlp(sizes, activation="relu")
    optimizer = optim.adam(LEARNING_RATE)
    out = {}
    for name, (init, _) in inits(MLP_WIDTH).items():
        out[name] = []
        for seed in seeds:
            _, params = models.mlp(sizes, activation="relu", kernel_init=init).init(
                jax.random.key(seed), (x_train.shape[1],))
            logits_std = float(jnp.std(network.apply(params, jnp.asarray(x_train))))
            (params, history), seconds = timed(
                train.fit, network, params, LOSS, optimizer, x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE,
                key=jax.random.key(1000 + seed), validation=ds.val, progress=False)
            test = evaluation.evaluate(network, params, LOSS, *ds.test)
            out[name].append({"seed": seed, "test_accuracy": test["accuracy"], "logits_std_at_init": logits_std,
                              "val_accuracy_per_epoch": history["val_accuracy"], "seconds": seconds})
            print(f"ReLU MLP, {depth} layers, {name:>8} init, seed {seed}: logits std at init {logits_std:.1e}, "
                  f"test accuracy {test['accuracy']:.3f} ({seconds:.1f} s)")
    return out


# %% [markdown]
# ## Figures
#
# On a log scale a constant factor per layer is a straight line; the dotted lines are the
# linear-regime prediction ``(n Var[W] g)^((l-1)/2)`` for the std ratio.  ReLU follows it
# exactly (ReLU is positively homogeneous, so the factor holds at any scale); tanh follows
# it while its inputs are small.

# %%
def std_figure(signals: dict, depth: int, width: int, path) -> None:
    fig, ax = figure(f"Activation std through {depth} layers of width {width} (random inputs)",
                     "layer l", "std of the activations at layer l (log scale)", yscale="log", size=(7.5, 4.8))
    layers = np.arange(1, depth + 1)
    for (activation, init_name), s in signals.items():
        color, style = STYLE[activation, init_name]
        ax.plot(layers, s["std"], color=color, linestyle=style, marker="o", markersize=3,
                label=f"{activation}, {init_name} init (x {s['variance_factor']:.2g} in variance per layer)")
        ax.plot(layers, s["std"][0] * np.array(s["predicted_ratio"]), color=color, linestyle=":", linewidth=1)
    ax.plot([], [], color="gray", linestyle=":", label="linear-regime prediction")
    ax.legend(fontsize=8, loc="lower left")
    save_figure(fig, path)


def histogram_figure(signals: dict, layers: tuple, path) -> None:
    cases = [c for c in SIGNAL_CASES if c != ("relu", "standard")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, case in zip(axes.ravel(), cases):
        activation, init_name = case
        values = signals[case]["_values"]
        bins = np.linspace(-1, 1, 81) if activation == "tanh" else np.linspace(0, 3, 61)
        for i, layer in enumerate(layers):
            v = values[layer] if activation == "tanh" else values[layer][values[layer] > 0]
            std = signals[case]["std"][layer - 1]
            where = "; all within one bin of 0" if np.abs(v).max() < bins[1] - bins[0] else ""
            ax.hist(v, bins=bins, density=True, histtype="step", color=plt.cm.viridis(i / max(1, len(layers) - 1)),
                    linewidth=1.4, label=f"layer {layer} (std {std:.2g}{where})")
        what = "activation value" if activation == "tanh" else "activation value (positive ones; ~half are 0)"
        fate = "held" if signals[case]["ratio_to_layer_1"][-1] > 0.1 else "shrinks to a spike at 0"
        ax.set(title=f"{activation}, {init_name} init: {fate}", xlabel=what, ylabel="density (log scale)",
               yscale="log")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    fig.suptitle("Activation values at a few depths (Glorot & Bengio 2010, fig. 6)")
    save_figure(fig, path)


def training_figure(runs: dict, depth: int, epochs: int, path) -> None:
    fig, ax = figure(f"{depth}-layer ReLU MLP on digits: Adam {LEARNING_RATE:g}, batch {BATCH_SIZE}", "epoch",
                     "validation accuracy (%)", size=(8.0, 4.0))
    colors = {"standard": "tab:purple", "Glorot": "tab:green", "He": "tab:blue"}
    ax.axhline(100 * CHANCE, color="k", linestyle=":", linewidth=0.8, label="chance (10%)")
    for name, seeds in runs.items():
        for i, r in enumerate(seeds):
            ax.plot(range(1, epochs + 1), 100 * np.array(r["val_accuracy_per_epoch"]), color=colors[name],
                    alpha=0.8, linewidth=2.0 if name == "standard" else 1.2,
                    label=f"{name} init ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})" if i == 0 else None)
    ax.set_ylim(0, 100)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)


# %% [markdown]
# ## Verdict

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    size = {"N_POINTS": N_POINTS, "WIDTH": WIDTH, "DEPTH": DEPTH, "HISTOGRAM_LAYERS": HISTOGRAM_LAYERS,
            "MLP_DEPTH": MLP_DEPTH, "SEEDS": SEEDS, "EPOCHS": EPOCHS}
    if run.quick:
        size.update(QUICK)
    depth, width = size["DEPTH"], size["WIDTH"]

    x = jax.random.normal(jax.random.key(run.seed), (size["N_POINTS"], width))
    signals = {}
    for activation, init_name in SIGNAL_CASES:
        s = signals[activation, init_name] = propagate(activation, init_name, x, depth, width, run.seed,
                                                         size["HISTOGRAM_LAYERS"])
        print(f"{activation:>4}, {init_name:>8} init: std at layer 1 {s['std'][0]:.3f}, layer {TANH_LAYER} "
              f"{s['std'][TANH_LAYER - 1]:.2e}, layer {depth} {s['std'][-1]:.2e} "
              f"(layer {depth} / layer 1 = {s['ratio_to_layer_1'][-1]:.2e}; predicted {s['predicted_ratio'][-1]:.2e})")
    std_figure(signals, depth, width, run.out / "activation_std.png")
    histogram_figure(signals, size["HISTOGRAM_LAYERS"], run.out / "histograms.png")

    ds = datasets.load("digits")
    print()
    runs = train_from_each_init(ds, size["MLP_DEPTH"], range(run.seed, run.seed + size["SEEDS"]), size["EPOCHS"])
    training_figure(runs, size["MLP_DEPTH"], size["EPOCHS"], run.out / "training.png")

    tanh_standard = signals["tanh", "standard"]["ratio_to_layer_1"][TANH_LAYER - 1]
    tanh_glorot = signals["tanh", "Glorot"]["ratio_to_layer_1"][TANH_LAYER - 1]
    relu_glorot = signals["relu", "Glorot"]["ratio_to_layer_1"][-1]
    relu_he = signals["relu", "He"]["ratio_to_layer_1"][-1]
    he_accuracy = min(r["test_accuracy"] for r in runs["He"])
    standard_accuracy = max(r["test_accuracy"] for r in runs["standard"])
    glorot_accuracy = float(np.median([r["test_accuracy"] for r in runs["Glorot"]]))
    low, high = RELU_HE_RATIO_RANGE
    checks = [
        check(f"tanh, standard init: std at layer {TANH_LAYER} / layer 1 (ratio)", tanh_standard, "<",
              TANH_STANDARD_MAX_RATIO),
        check(f"tanh, Glorot init: std at layer {TANH_LAYER} / layer 1 (ratio)", tanh_glorot, ">",
              TANH_GLOROT_MIN_RATIO),
        check(f"ReLU, Glorot init: std at layer {depth} / layer 1 (ratio)", relu_glorot, "<", RELU_GLOROT_MAX_RATIO),
        check(f"ReLU, He init: std at layer {depth} / layer 1 (ratio), lower bound", relu_he, ">=", low),
        check(f"ReLU, He init: std at layer {depth} / layer 1 (ratio), upper bound", relu_he, "<=", high),
        check(f"{size['MLP_DEPTH']}-layer ReLU MLP from He init: test accuracy, worst seed (fraction)", he_accuracy,
              ">=", TRAINS_MIN_ACCURACY),
        check(f"{size['MLP_DEPTH']}-layer ReLU MLP from standard init: test accuracy, best seed (fraction)",
              standard_accuracy, "<=", STUCK_MAX_ACCURACY),
    ]
    results = {
        "signal_propagation": {f"{a}, {i}": {k: v for k, v in s.items() if not k.startswith("_")}
                               for (a, i), s in signals.items()},
        "training": runs, "n_points": size["N_POINTS"], "width": width, "depth": depth,
        "mlp_depth": size["MLP_DEPTH"], "mlp_width": MLP_WIDTH, "epochs": size["EPOCHS"],
        "learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE}
    summary = (f"std at layer {TANH_LAYER} / layer 1: tanh standard {tanh_standard:.1e}, Glorot {tanh_glorot:.2f}; "
               f"at layer {depth} / layer 1: ReLU Glorot {relu_glorot:.1e}, He {relu_he:.2f}; "
               f"{size['MLP_DEPTH']}-layer ReLU MLP test accuracy: He >= {he_accuracy:.3f}, "
               f"Glorot median {glorot_accuracy:.3f}, standard <= {standard_accuracy:.3f}")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
