"""IIT Mandi, Introduction to Neural Networks, 2.4 "Training of NNs (Learning the Weights): Backpropagation"; Rumelhart, Hinton & Williams 1986: backpropagation by hand computes the exact gradient.

Seven small float64 networks (MLPs with tanh, ReLU, sigmoid, GELU + softmax and ELU, a
PReLU-residual-maxout stack, an MLP with dropout), each with its loss plus an L2 weight penalty,
on a batch of 8 random inputs.  The gradient of that objective computed by the hand-derived
backprop of ``jaxnn.backprop`` is compared with ``jax.grad``, with central finite
differences and, where torch is installed, with PyTorch autograd on the same weights.

Run and measurement: the gradient of ``loss(model(x), t) + l2/2 sum ||W||^2`` computed four ways:

* ``jaxnn.backprop.value_and_grad``: the deltas and chain rule written by hand, layer by layer;
* ``jax.grad`` of the same objective (reverse-mode autodiff);
* central finite differences on random coordinates (``backprop.check_grads``, CS231n style),
  applied to both of the above;
* PyTorch autograd on the same network with the same weights (``nn.Linear`` stores the
  course notes' ``W``, ours transposed), when torch is installed and the model maps onto it
  (the PReLU-residual-maxout stack and the dropout MLP have no PyTorch counterpart here).

Errors: "vs jax.grad" and "vs PyTorch" are ``max |g - g_ref| / max |g_ref|`` over the entries
of each parameter, maximized over parameters; "vs FD" is ``check_grads``' elementwise relative
error ``|g - g_num| / max(|g|, |g_num|)``, maximized over the checked coordinates.  Finite
differences with ``eps = 1e-6`` are accurate to ~1e-8 relative where the gradient is not tiny
(an absolute error ~1e-11, so coordinates with |g| ~ 1e-7 show ~1e-4); agreement between the
analytic gradients is at float64 round-off (~1e-15).  The script prints a markdown table the
README can include; the figure ``errors.png`` shows the errors per model beside the tolerances.

Verdict: reproduced when every measured error is within its tolerance (without torch, the
PyTorch comparison is reported as not measured and does not count).

    python experiments/gradient_check.py [--quick] [--seed 0] [--out runs/gradient_check]
"""

# %% [markdown]
# # Backpropagation by hand gives the exact gradient
#
# IIT Mandi, Introduction to Neural Networks, 2.4 "Backpropagation" derives the gradient
# layer by layer: an output delta, then for each layer `dW = a^T delta`, `db = sum delta`,
# and the delta passed back through the weights and the activation's derivative
# (Rumelhart, Hinton & Williams 1986).  `jaxnn.backprop` implements exactly those formulas
# for every layer.  Are they right?  Three independent references say so or not:
# JAX's automatic differentiation, finite differences (no calculus at all), and PyTorch.
#
# float64 throughout, so that "exact" can be tested to ~1e-15.

# %%
from __future__ import annotations

from typing import Callable, NamedTuple

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import check, exit_with, figure, finish, save_figure, start  # noqa: E402

from jaxnn import backprop, losses, models  # noqa: E402
from jaxnn.layers import activation, dense, maxout, prelu, residual, serial  # noqa: E402

# Two exact gradients agree to float64 round-off (~1e-15) times the depth of the graph:
# 1e-10 leaves a wide margin and still fails any real error (a wrong term is ~1e-2 or more).
EXACT_TOLERANCE = 1e-10
# Central differences with eps = 1e-6 are exact to ~1e-8 relative, ~1e-4 on tiny entries.
FD_TOLERANCE = 1e-3
N, D_IN = 8, 5
L2 = 1e-2
FD_CHECKS = 5  # random coordinates per parameter
# --quick: two of the models (one with a PyTorch counterpart, the dropout one without),
# fewer finite-difference coordinates: every code path, in a few seconds.
QUICK_CASES, QUICK_FD_CHECKS = (0, 6), 2
COLUMNS = ("vs jax.grad", "backprop vs FD", "jax.grad vs FD", "vs PyTorch")


# %% [markdown]
# ## Setup: the models and losses
#
# Each case is a model, a loss and a target; `torch` says how to build the same network in
# PyTorch (hidden activation, output activation, PyTorch loss), or `None` when the model
# has no direct counterpart.  The dropout case runs in training mode with a key: the hand
# backward must use the same masks as the forward pass.

# %%
class Case(NamedTuple):
    name: str
    model: object
    loss: Callable
    target: jax.Array
    torch: tuple | None = None   # (hidden activation, output activation, torch loss name) or None
    key: jax.Array | None = None


def cases() -> list[Case]:
    rng = np.random.default_rng(0)
    labels = jnp.asarray(rng.integers(0, 3, N))
    binary = jnp.asarray(rng.integers(0, 2, (N, 2)).astype(np.float64))
    real = jnp.asarray(rng.standard_normal((N, 2)))
    return [
        Case("mlp 5-16-3 tanh, softmax cross-entropy", models.mlp([16, 3], "tanh"),
             losses.softmax_cross_entropy, labels, ("tanh", None, "cross_entropy")),
        Case("mlp 5-16-16-2 relu, mse", models.mlp([16, 16, 2], "relu"), losses.mse, real,
             ("relu", None, "mse")),
        Case("mlp 5-8-2 sigmoid, sigmoid BCE on logits", models.mlp([8, 2], "sigmoid"),
             losses.sigmoid_binary_cross_entropy, binary, ("sigmoid", None, "bce_with_logits")),
        Case("mlp 5-8-3 gelu + softmax layer, cross-entropy",
             models.mlp([8, 3], "gelu", output_activation="softmax"), losses.cross_entropy, labels,
             ("gelu", "softmax", "nll_of_probabilities")),
        Case("mlp 5-12-4 elu, gaussian NLL", models.mlp([12, 4], "elu"), losses.gaussian_nll, real,
             ("elu", None, "gaussian_nll")),
        Case("dense-prelu-residual-maxout, softmax CE",
             serial(dense(8), prelu(0.2), residual(serial(dense(8), activation("tanh"))), maxout(2), dense(3)),
             losses.softmax_cross_entropy, labels),
        Case("mlp 5-16-16-3 relu + dropout 0.3 (train), softmax CE",
             models.mlp([16, 16, 3], "relu", dropout_rate=0.3), losses.softmax_cross_entropy, labels,
             key=jax.random.key(7)),
    ]


def import_torch():
    """The ``torch`` module, or None when it is not installed (its comparison is then not measured)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# %% [markdown]
# ## The objective and the error measure
#
# The same objective for every method: the loss plus `l2/2` times the squared weights
# (biases and PReLU slopes not regularized, as in the course).  Two gradients are compared
# per parameter by their largest difference relative to the reference's largest entry.

# %%
def weight_penalty(params) -> jax.Array:
    """1/2 sum ||W||^2 over the leaves named "W" (biases and PReLU slopes are not regularized)."""
    total = jnp.zeros(())
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if isinstance(path[-1], jax.tree_util.DictKey) and path[-1].key == "W":
            total = total + 0.5 * jnp.sum(leaf**2)
    return total


def max_relative_error(grads, reference) -> float:
    worst = 0.0
    for g, r in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(reference)):
        g, r = np.asarray(g), np.asarray(r)
        if r.size:
            worst = max(worst, float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-300)))
    return worst


# %% [markdown]
# ## The PyTorch reference
#
# The same network written with `torch.nn.functional`, the same weights (transposed:
# PyTorch's `Linear` stores the course's `W`), the same loss and penalty; `backward()`
# fills the `.grad` of every tensor, which we transpose back into our layout.

# %%
def torch_grads(torch, case: Case, params, x):
    """The same network in PyTorch (float64), its autograd gradients in our layout."""
    F = torch.nn.functional
    hidden, output, loss_name = case.torch
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "gelu": lambda h: F.gelu(h), "elu": F.elu}
    dense_params = [p for p in params if p != ()]
    weights = [torch.tensor(np.asarray(p["W"]).T, requires_grad=True) for p in dense_params]  # (out, in)
    biases = [torch.tensor(np.asarray(p["b"]), requires_grad=True) for p in dense_params]
    h = torch.tensor(np.asarray(x))
    for i, (W, b) in enumerate(zip(weights, biases)):
        h = F.linear(h, W, b)
        if i < len(weights) - 1:
            h = acts[hidden](h)
    if output == "softmax":
        h = torch.softmax(h, dim=-1)
    t = torch.tensor(np.asarray(case.target))
    if loss_name == "cross_entropy":
        loss = F.cross_entropy(h, t)
    elif loss_name == "nll_of_probabilities":
        loss = F.nll_loss(torch.log(h), t)
    elif loss_name == "mse":
        loss = F.mse_loss(h, t)
    elif loss_name == "bce_with_logits":
        loss = F.binary_cross_entropy_with_logits(h, t)
    else:  # gaussian_nll: [mu | log var]
        half = h.shape[-1] // 2
        loss = F.gaussian_nll_loss(h[:, :half], t, torch.exp(h[:, half:]))
    loss = loss + L2 * 0.5 * sum((W**2).sum() for W in weights)
    loss.backward()
    grads, k = [], 0
    for p in params:
        if p == ():
            grads.append(())
        else:
            grads.append({"W": weights[k].grad.numpy().T, "b": biases[k].grad.numpy()})
            k += 1
    return tuple(grads)


# %% [markdown]
# ## Run: one case, four gradients
#
# The parameters are the model's init, shifted a little so that no ReLU starts exactly on
# its kink (where the derivative is a convention, not a number finite differences can
# check).  Both exact gradients are also checked against finite differences.

# %%
def run_case(case: Case, torch, fd_checks: int) -> dict[str, float | None]:
    _, params = case.model.init(jax.random.key(0), (D_IN,))
    # move the biases off zero so that no pre-activation starts exactly on a kink
    params = jax.tree_util.tree_map(lambda p: p + 0.05 * jnp.cos(jnp.arange(p.size).reshape(p.shape)), params)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((N, D_IN)))
    train = case.key is not None

    def objective(p):
        y = case.model.apply(p, x, key=case.key, train=train)
        return case.loss(y, case.target) + L2 * weight_penalty(p)

    hand = jax.jit(backprop.value_and_grad(case.model, case.loss, l2=L2))
    value, grads = hand(params, x, case.target, key=case.key)
    auto_value, auto_grads = jax.jit(jax.value_and_grad(objective))(params)
    result = {
        "value": abs(float(value) - float(auto_value)) / abs(float(auto_value)),
        "vs jax.grad": max_relative_error(grads, auto_grads),
        "backprop vs FD": max(backprop.check_grads(objective, params, grads, num_checks=fd_checks).values()),
        "jax.grad vs FD": max(backprop.check_grads(objective, params, auto_grads, num_checks=fd_checks).values()),
        "vs PyTorch": None,
    }
    if case.torch is not None and torch is not None:
        result["vs PyTorch"] = max_relative_error(grads, torch_grads(torch, case, params, x))
    return result


# %% [markdown]
# ## Figure: the errors per model
#
# A log axis, since the errors span 15 decades: the exact comparisons (vs `jax.grad`,
# vs PyTorch) sit at round-off, ~1e-16, far below their tolerance; the finite-difference
# comparisons sit at the finite difference's own error, ~1e-8, for *both* exact gradients.
# A comparison that was not made is written in the plot, not drawn as a zero.

# %%
def plot_errors(rows: list[tuple[str, dict]], torch_missing: bool, path) -> None:
    """Horizontal bars: each model's errors (log scale; exact zeros drawn at 1e-17)."""
    from matplotlib.patches import Rectangle

    fig, ax = figure("Hand-derived backprop: max relative gradient error", "max relative error "
                     "(dimensionless, log scale; 0 drawn at 1e-17)", "model, loss", xscale="log",
                     size=(9.0, 2.2 + 0.75 * len(rows)))
    height = 0.8 / len(COLUMNS)
    for k, column in enumerate(COLUMNS):
        measured = [(i, r[column]) for i, (_, r) in enumerate(rows) if r[column] is not None]
        if measured:
            ax.barh([i + k * height for i, _ in measured], [max(v, 1e-17) for _, v in measured], height,
                    left=1e-18, label=column, color=f"C{k}")
        else:  # a legend entry all the same, saying why there are no bars
            ax.add_patch(Rectangle((0, 0), 0, 0, color=f"C{k}", label=f"{column}: not measured"))
        for i, (_, r) in enumerate(rows):
            if r[column] is None:
                why = "not measured: torch not installed" if torch_missing else "n/a: no PyTorch counterpart"
                ax.text(2e-18, i + k * height, why, va="center", fontsize=7, color=f"C{k}")
    ax.axvline(EXACT_TOLERANCE, color="k", linestyle=":", linewidth=0.8,
               label=f"tolerance, exact gradients ({EXACT_TOLERANCE:.0e})")
    ax.axvline(FD_TOLERANCE, color="k", linestyle="--", linewidth=0.8, label=f"tolerance vs FD ({FD_TOLERANCE:.0e})")
    ax.set_xlim(1e-18, 1e-1)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))], [name for name, _ in rows], fontsize=7)
    ax.invert_yaxis()
    handles, labels = ax.get_legend_handles_labels()   # the four comparisons first, then the tolerances
    order = sorted(range(len(labels)), key=lambda j: [labels[j].startswith(c) for c in COLUMNS].index(True)
                   if labels[j].startswith(COLUMNS) else len(COLUMNS))
    ax.legend([handles[j] for j in order], [labels[j] for j in order], fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.1), ncol=3)
    save_figure(fig, path)


# %% [markdown]
# ## Measurement and verdict
#
# The worst error over the models, per comparison, against its tolerance.  Without torch
# the PyTorch comparison is a check with no value: "not measured", not "passed".

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    torch = import_torch()
    chosen = [cases()[i] for i in QUICK_CASES] if run.quick else cases()
    fd_checks = QUICK_FD_CHECKS if run.quick else FD_CHECKS
    rows = [(case.name, run_case(case, torch, fd_checks)) for case in chosen]
    print(f"Gradient check, float64, batch {N}, L2 {L2} (weights only): max relative error of the "
          f"hand-derived backprop gradient{'' if torch else '; torch not installed: no PyTorch comparison'}\n")
    print("| model, loss | vs jax.grad | backprop vs FD | jax.grad vs FD | vs PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        torch_cell = ("not measured" if torch is None else "n/a") if r["vs PyTorch"] is None else f"{r['vs PyTorch']:.1e}"
        print(f"| {name} | {r['vs jax.grad']:.1e} | {r['backprop vs FD']:.1e} | {r['jax.grad vs FD']:.1e} "
              f"| {torch_cell} |")
    print(f"\nFD: central differences, eps = 1e-6, {fd_checks} random coordinates per parameter. "
          "Relative error |g - g_fd| / max(|g|, |g_fd|, 1e-6 max|g_leaf|): the finite difference's "
          "own truncation and rounding error (~1e-11 absolute) sets the FD columns' level, the same "
          f"for both analytic gradients, which agree with each other{' and with PyTorch' if torch else ''} "
          "to round-off.\n")
    plot_errors(rows, torch is None, run.out / "errors.png")

    worst = {column: max(r[column] for _, r in rows) for column in ("value", *COLUMNS[:3])}
    torch_errors = [r["vs PyTorch"] for _, r in rows if r["vs PyTorch"] is not None]
    worst_torch = max(torch_errors) if torch_errors else None
    torch_name = ("hand backprop vs PyTorch autograd, worst model (max relative error; "
                  + (f"{len(torch_errors)} models with a counterpart)" if torch else "not measured: torch not installed)"))
    checks = [
        check("loss value, hand vs jax (relative difference)", worst["value"], "<=", EXACT_TOLERANCE),
        check("hand backprop vs jax.grad, worst model (max relative error)", worst["vs jax.grad"], "<=",
              EXACT_TOLERANCE),
        check(torch_name, worst_torch, "<=", EXACT_TOLERANCE),
        check("hand backprop vs finite differences, worst model (max relative error)", worst["backprop vs FD"],
              "<=", FD_TOLERANCE),
        check("jax.grad vs finite differences, worst model (max relative error)", worst["jax.grad vs FD"],
              "<=", FD_TOLERANCE),
    ]
    torch_summary = (f"vs PyTorch <= {worst_torch:.1e} (tolerance {EXACT_TOLERANCE:.0e})" if worst_torch is not None
                     else "vs PyTorch not measured: torch not installed")
    return finish(run, {"rows": dict(rows), "torch_installed": torch is not None, "exact_tolerance": EXACT_TOLERANCE,
                        "fd_tolerance": FD_TOLERANCE},
                  f"hand backprop vs jax.grad <= {worst['vs jax.grad']:.1e} (tolerance {EXACT_TOLERANCE:.0e}), "
                  f"{torch_summary}, vs finite differences <= {worst['backprop vs FD']:.1e} "
                  f"(tolerance {FD_TOLERANCE:.0e}); {len(rows)} models and losses", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
