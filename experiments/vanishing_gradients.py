"""IIT Mandi, Introduction to Neural Networks, "Activation Functions (2)" and "Practical notes & numerical stability"; KAUST Academy, Neural Networks, "Activation functions"; Glorot & Bengio 2010; Hochreiter 1991: through a deep network the sigmoid's gradient vanishes (it saturates, sigma' <= 1/4) and the network does not train, while ReLU and ELU (no saturation for x > 0) keep the gradient and train.

Setup: a 20-layer MLP (19 hidden layers of width 64, then 10 logits) on the bundled 8x8
digits (``datasets.load("digits")``: 1077 / 360 / 360 images, standardized pixels), built
four times, with sigmoid, tanh, ReLU and ELU, each with its matching initialization
(``models.mlp(..., activation=name)`` picks it: Glorot for sigmoid and tanh, He for ReLU
and ELU).  Training: Adam (1e-3), batch 64, 20 epochs, softmax cross-entropy, three seeds.

Run: for each activation and seed, the gradient of the training loss (mean softmax
cross-entropy over the whole training split) with respect to each of the 20 weight
matrices, at initialization by ``jax.grad`` and by the hand-derived backpropagation
(``backprop.value_and_grad``), then after every epoch of training.

Measurement: the per-layer gradient norms ``||dL/dW_l||`` (Frobenius), the ratio
``||dL/dW_1|| / ||dL/dW_20||`` (first layer over last), the largest relative difference
between the hand and the autodiff gradients, and the test accuracy after the fixed budget.
Figures: ``gradient_norms.png`` (norm per layer at init and after training, log scale) and
``training.png`` (validation accuracy and the first/last ratio per epoch).

Verdict: reproduced when at init the sigmoid's ratio is below ``SIGMOID_MAX_RATIO`` for
every seed and ReLU's above ``RELU_MIN_RATIO``; when ReLU and ELU reach
``TRAINS_MIN_ACCURACY`` on the test split for every seed while the sigmoid stays at or below
``STUCK_MAX_ACCURACY``; and when the two gradient paths agree to ``HAND_VS_AUTODIFF_TOLERANCE``.
Tanh is measured and shown, not judged: with Glorot's init its gradient survives 20 layers
(its slope is 1 at 0, the sigmoid's 1/4); its failure under a badly scaled init is the
``initialization`` experiment's subject.

    python experiments/vanishing_gradients.py [--quick] [--seed 0] [--out runs/vanishing_gradients]
"""
# %% [markdown]
# # Vanishing gradients: sigmoid saturates, ReLU does not
#
# Backpropagation multiplies, layer after layer, by ``W^T`` and by the activation's slope
# ``sigma'(z)`` (IIT Mandi, "Backpropagation for general L layers":
# ``delta^(l) = (W^(l+1))^T delta^(l+1) * sigma'(z^(l))``).  The sigmoid's slope is at most
# 1/4 (at z = 0) and smaller still wherever it saturates, so 19 hidden layers shrink the gradient
# reaching the first layer by roughly ``(1/4)^19 ~ 4e-12``: the lectures' "vanishing
# gradients" (IIT Mandi, "Activation Functions (2)"; Hochreiter 1991).  ReLU's slope is
# exactly 1 wherever the unit is active ("no saturation for x > 0"), and He's
# initialization keeps the signal's scale, so its gradient reaches the first layer intact.
# We measure the gradient of every layer, then train all four networks on the same budget.

# %%
from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from common import check, exit_with, finish, save_figure, start, timed

from jaxnn import backprop, callbacks, datasets, evaluation, losses, models, optim, train

# Sigmoid: (1/4)^19 ~ 4e-12 is the shrinkage of 19 sigmoid layers (measured 1.9e-12 to
# 3.2e-12 for seeds 0 to 5); 1e-3 calls it "vanished" with eight decades of margin.
SIGMOID_MAX_RATIO = 1e-3
# ReLU + He: the ratio stays of order 1 (measured 0.18 to 0.46 for seeds 0 to 5); 0.1 says
# "did not vanish" and leaves room for the seed-to-seed spread of a 20-layer product.
RELU_MIN_RATIO = 0.1
# Chance on 10 balanced classes is 10%.  ReLU and ELU reach 87.8% to 92.2% after 20 epochs
# (seeds 0 to 5); 70% is seven times chance and leaves 17 points for the seed spread.
TRAINS_MIN_ACCURACY = 0.70
# The sigmoid network predicts one class (measured 10.0% to 10.3% for seeds 0 to 5): 20% is twice chance.
STUCK_MAX_ACCURACY = 0.20
# Hand backprop and jax.grad compute the same float32 numbers in a different order:
# they differ by float32 round-off (~1e-7 relative, measured up to 7e-7); 1e-4 fails any real error.
HAND_VS_AUTODIFF_TOLERANCE = 1e-4

ACTIVATIONS = ("sigmoid", "tanh", "relu", "elu")
COLORS = {"sigmoid": "tab:red", "tanh": "tab:orange", "relu": "tab:blue", "elu": "tab:green"}
DEPTH, WIDTH = 20, 64                  # dense layers (19 hidden + the output layer), hidden width
QUICK_DEPTH, QUICK_WIDTH = 4, 16       # --quick: checks the script, not the claim
SEEDS, EPOCHS = 3, 20
QUICK_SEEDS, QUICK_EPOCHS = 1, 2
BATCH_SIZE, LEARNING_RATE = 64, 1e-3
LOSS = "softmax_cross_entropy"
CHANCE = 0.1


# %% [markdown]
# ## Setup: one depth, four activations
#
# ``models.mlp`` pairs each activation with the initializer made for it
# (``models.default_kernel_init``): Glorot's ``Var[W] = 2 / (fan_in + fan_out)`` for sigmoid
# and tanh, He's ``Var[W] = 2 / fan_in`` for ReLU and ELU.  So every network starts with its
# best-known scale, and what differs is the activation's slope.

# %%
def build(activation: str, depth: int, width: int):
    """``depth`` dense layers: ``depth - 1`` hidden ones of ``width`` with ``activation``, then 10 logits."""
    return models.mlp([width] * (depth - 1) + [10], activation=activation)


def weight_gradients(grads) -> list:
    """The ``dL/dW`` of each dense layer, input side first (activation layers have no params)."""
    return [g["W"] for g in grads if isinstance(g, dict) and "W" in g]


def gradient_functions(model, x, y):
    """Compiled ``params -> [dL/dW_l]`` by ``jax.grad`` and by the hand-derived backprop.

    ``L`` is the mean softmax cross-entropy over ``(x, y)``, the whole training split.
    """
    def loss(params):
        return losses.softmax_cross_entropy(model.apply(params, x), y)

    hand_value_and_grad = backprop.value_and_grad(model, LOSS)
    autodiff = jax.jit(lambda p: weight_gradients(jax.grad(loss)(p)))
    by_hand = jax.jit(lambda p: weight_gradients(hand_value_and_grad(p, x, y)[1]))
    return autodiff, by_hand


def norms(gradients) -> list[float]:
    """The Frobenius norm ``||dL/dW_l||`` of each layer's gradient."""
    return [float(np.linalg.norm(g)) for g in jax.device_get(gradients)]


# %% [markdown]
# ## Run: gradients at init, then training
#
# At init we take the gradient twice, by ``jax.grad`` and by the hand-written backward
# pass, and compare them.  During training a small callback (``callbacks.Callback``)
# records the per-layer gradient norms after every epoch, so we can watch whether
# training repairs the first layers' gradient.

# %%
def norm_recorder(gradients) -> callbacks.Callback:
    """A callback adding ``grad_norms`` (one per dense layer) to each epoch's record."""
    def on_epoch_end(state, epoch, record, train_state):
        return state, train_state, {**record, "grad_norms": norms(gradients(train_state.params))}, False

    return callbacks.Callback(init=lambda train_state: None, on_epoch_end=on_epoch_end)


def study(activation: str, ds, depth: int, width: int, seeds: range, epochs: int) -> dict:
    """Gradients at init (two ways) and training, for one activation and every seed."""
    x_train, y_train = ds.train
    model = build(activation, depth, width)  # one model object: its compiled functions serve every seed
    autodiff, by_hand = gradient_functions(model, jnp.asarray(x_train), jnp.asarray(y_train))
    optimizer = optim.adam(LEARNING_RATE)
    runs = []
    for seed in seeds:
        _, params = model.init(jax.random.key(seed), (x_train.shape[1],))
        auto, hand = autodiff(params), by_hand(params)
        init_norms, hand_norms = norms(auto), norms(hand)
        difference = max(float(jnp.linalg.norm(h - a) / jnp.linalg.norm(a)) for h, a in zip(hand, auto))
        (params, history), seconds = timed(
            train.fit, model, params, LOSS, optimizer, x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE,
            key=jax.random.key(1000 + seed), validation=ds.val, callbacks=[norm_recorder(autodiff)], progress=False)
        test = evaluation.evaluate(model, params, LOSS, *ds.test)
        per_epoch = [init_norms] + history["grad_norms"]
        ratios = [n[0] / n[-1] for n in per_epoch]
        runs.append({
            "seed": seed, "init_grad_norms": init_norms, "hand_init_grad_norms": hand_norms,
            "hand_vs_autodiff": difference, "final_grad_norms": per_epoch[-1],
            "ratio_at_init": ratios[0], "ratio_per_epoch": ratios,
            "val_accuracy_per_epoch": history["val_accuracy"], "test_accuracy": test["accuracy"],
            "seconds": seconds})
        r = runs[-1]
        print(f"{activation:>7}, seed {seed}: ||dL/dW_1|| / ||dL/dW_{depth}|| = {r['ratio_at_init']:.2e} at init, "
              f"{r['ratio_per_epoch'][-1]:.2e} after training; hand vs jax.grad {difference:.1e}; "
              f"test accuracy {r['test_accuracy']:.3f} ({seconds:.1f} s training)")
    return {"runs": runs, "init": models.default_kernel_init(activation).__doc__.split(":")[0]}


# %% [markdown]
# ## Figures: the gradient per layer, and training
#
# The left panel is the claim: on a log scale the sigmoid's gradient falls by a constant
# factor per layer (a straight line) from the output back to the input; ReLU and ELU stay
# flat.  The crosses are the hand-derived backprop, on top of ``jax.grad``'s lines.

# %%
def gradient_figure(studies: dict, depth: int, epochs: int, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    layers = np.arange(1, depth + 1)
    for name, s in studies.items():
        r = s["runs"][0]
        label = f"{name} ({s['init']} init)"
        axes[0].plot(layers, r["init_grad_norms"], color=COLORS[name], marker="o", markersize=3, label=label)
        axes[0].plot(layers, r["hand_init_grad_norms"], color="k", marker="x", markersize=5, linestyle="none",
                     label="hand-derived backprop" if name == ACTIVATIONS[-1] else None)
        axes[1].plot(layers, r["final_grad_norms"], color=COLORS[name], marker="o", markersize=3, label=label)
    titles = ("at initialization", f"after {epochs} epochs of Adam")
    for ax, title in zip(axes, titles):
        ax.set(title=f"{title} (seed {studies[ACTIVATIONS[0]]['runs'][0]['seed']})", yscale="log",
               xlabel="dense layer l (1 = next to the input)", xticks=layers[::max(1, depth // 10)])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("||dL/dW_l|| (Frobenius norm, log scale)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Gradient of the training loss per layer, {depth}-layer MLP on digits")
    save_figure(fig, path)


def training_figure(studies: dict, depth: int, epochs: int, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, s in studies.items():
        for i, r in enumerate(s["runs"]):
            label = name if i == 0 else None
            axes[0].plot(range(1, epochs + 1), 100 * np.array(r["val_accuracy_per_epoch"]), color=COLORS[name],
                         alpha=0.8, linewidth=1.2, label=label)
            axes[1].plot(range(0, epochs + 1), r["ratio_per_epoch"], color=COLORS[name], alpha=0.8,
                         linewidth=1.2, label=label)
    axes[0].axhline(100 * CHANCE, color="k", linestyle=":", linewidth=0.8, label="chance (10%)")
    n_seeds = len(s["runs"])
    axes[0].set(title=f"Validation accuracy ({n_seeds} seed{'s' if n_seeds > 1 else ''} each)", xlabel="epoch",
                ylabel="validation accuracy (%)", ylim=(0, 100))
    axes[1].axhline(SIGMOID_MAX_RATIO, color="tab:red", linestyle="--", linewidth=0.8,
                    label=f"sigmoid threshold at init ({SIGMOID_MAX_RATIO:g})")
    axes[1].axhline(RELU_MIN_RATIO, color="tab:blue", linestyle="--", linewidth=0.8,
                    label=f"ReLU threshold at init ({RELU_MIN_RATIO:g})")
    axes[1].set(title="First-layer over last-layer gradient", xlabel="epoch (0 = initialization)",
                ylabel=f"||dL/dW_1|| / ||dL/dW_{depth}|| (log scale)", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=8, loc="center right")
    axes[1].legend(fontsize=8, loc="center right", bbox_to_anchor=(1.0, 0.4))
    fig.suptitle(f"{depth}-layer MLPs on digits: Adam {LEARNING_RATE:g}, batch {BATCH_SIZE}")
    save_figure(fig, path)


# %% [markdown]
# ## Verdict
#
# The sigmoid's first layer must get less than a thousandth of the last layer's gradient
# and its network must stay near chance; ReLU's gradient must reach the first layer, and
# ReLU and ELU must train.  Tanh is printed and plotted, not judged.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    depth, width = (QUICK_DEPTH, QUICK_WIDTH) if run.quick else (DEPTH, WIDTH)
    n_seeds, epochs = (QUICK_SEEDS, QUICK_EPOCHS) if run.quick else (SEEDS, EPOCHS)
    seeds = range(run.seed, run.seed + n_seeds)

    ds = datasets.load("digits")
    print(f"digits: {len(ds.train[0])} training, {len(ds.test[0])} test images; {depth} dense layers of width "
          f"{width}, {epochs} epochs, seeds {list(seeds)}\n")
    studies = {name: study(name, ds, depth, width, seeds, epochs) for name in ACTIVATIONS}
    gradient_figure(studies, depth, epochs, run.out / "gradient_norms.png")
    training_figure(studies, depth, epochs, run.out / "training.png")

    def over_seeds(name: str, key: str, reduce) -> float:
        return float(reduce([r[key] for r in studies[name]["runs"]]))

    sigmoid_ratio = over_seeds("sigmoid", "ratio_at_init", max)
    relu_ratio = over_seeds("relu", "ratio_at_init", min)
    relu_accuracy, elu_accuracy = over_seeds("relu", "test_accuracy", min), over_seeds("elu", "test_accuracy", min)
    sigmoid_accuracy = over_seeds("sigmoid", "test_accuracy", max)
    agreement = max(r["hand_vs_autodiff"] for s in studies.values() for r in s["runs"])
    checks = [
        check("sigmoid: ||dL/dW_1|| / ||dL/dW_L|| at init, largest over seeds (ratio)", sigmoid_ratio, "<",
              SIGMOID_MAX_RATIO),
        check("ReLU + He: ||dL/dW_1|| / ||dL/dW_L|| at init, smallest over seeds (ratio)", relu_ratio, ">",
              RELU_MIN_RATIO),
        check("ReLU: test accuracy, worst seed (fraction)", relu_accuracy, ">=", TRAINS_MIN_ACCURACY),
        check("ELU: test accuracy, worst seed (fraction)", elu_accuracy, ">=", TRAINS_MIN_ACCURACY),
        check("sigmoid: test accuracy, best seed (fraction)", sigmoid_accuracy, "<=", STUCK_MAX_ACCURACY),
        check("hand backprop vs jax.grad, max ||g_hand - g_auto|| / ||g_auto|| over layers (relative)", agreement,
              "<=", HAND_VS_AUTODIFF_TOLERANCE),
    ]
    results = {"activations": {name: s["runs"] for name, s in studies.items()},
               "inits": {name: s["init"] for name, s in studies.items()},
               "depth": depth, "width": width, "epochs": epochs, "seeds": list(seeds),
               "learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE}
    tanh_ratio = over_seeds("tanh", "ratio_at_init", np.median)
    tanh_accuracy = over_seeds("tanh", "test_accuracy", np.median)
    summary = (f"first/last layer gradient at init: sigmoid <= {sigmoid_ratio:.1e}, ReLU >= {relu_ratio:.2f} "
               f"(tanh median {tanh_ratio:.2f}); test accuracy after {epochs} epochs: ReLU >= {relu_accuracy:.3f}, "
               f"ELU >= {elu_accuracy:.3f}, tanh median {tanh_accuracy:.3f}, sigmoid <= {sigmoid_accuracy:.3f}; "
               f"hand backprop = jax.grad to {agreement:.1e}")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
