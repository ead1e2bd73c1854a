"""IIT Mandi, Introduction to Neural Networks, 2.4 "Training of NNs (Learning the Weights): Backpropagation"; Rumelhart, Hinton & Williams 1986: backpropagation by hand computes the exact gradient.

Setup: a few models and losses, float64.  Run and measurement: the gradient of
``loss(model(x), t) + l2/2 sum ||W||^2`` computed four ways:

* ``jaxnn.backprop.value_and_grad``: the deltas and chain rule written by hand, layer by layer;
* ``jax.grad`` of the same objective (reverse-mode autodiff);
* central finite differences on random coordinates (``backprop.check_grads``, CS231n style),
  applied to both of the above;
* PyTorch autograd on the same network with the same weights (``nn.Linear`` stores the
  course notes' ``W``, ours transposed), when torch is installed and the model maps onto it.

Prints a markdown table the README can include; the figure ``errors.png`` shows the errors
per model beside the verdict's tolerances.

    python experiments/gradient_check.py [--out runs/gradient_check]

Errors: "vs jax.grad" and "vs PyTorch" are ``max |g - g_ref| / max |g_ref|`` over the entries
of each parameter, maximized over parameters; "vs FD" is ``check_grads``' elementwise relative
error ``|g - g_num| / max(|g|, |g_num|)``, maximized over the checked coordinates.  Finite
differences with ``eps = 1e-6`` are accurate to ~1e-8 relative where the gradient is not tiny
(an absolute error ~1e-11, so coordinates with |g| ~ 1e-7 show ~1e-4); agreement between the
analytic gradients is at float64 round-off (~1e-15).  Verdict: reproduced when every
error is within its tolerance below.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import figure, finish, save_figure, start  # noqa: E402

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


def torch_grads(case: Case, params, x):
    """The same network in PyTorch (float64), its autograd gradients in our layout."""
    try:
        import torch
    except ImportError:
        return None
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


def run_case(case: Case) -> dict[str, float | None]:
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
        "backprop vs FD": max(backprop.check_grads(objective, params, grads, num_checks=FD_CHECKS).values()),
        "jax.grad vs FD": max(backprop.check_grads(objective, params, auto_grads, num_checks=FD_CHECKS).values()),
        "vs PyTorch": None,
    }
    if case.torch is not None:
        reference = torch_grads(case, params, x)
        if reference is not None:
            result["vs PyTorch"] = max_relative_error(grads, reference)
    return result


def plot_errors(rows: list[tuple[str, dict]], path) -> None:
    """Horizontal bars: each model's errors (log scale; exact zeros drawn at 1e-17)."""
    columns = ["vs jax.grad", "backprop vs FD", "jax.grad vs FD", "vs PyTorch"]
    fig, ax = figure("Hand-derived backprop: max relative gradient error", "max relative error "
                     "(dimensionless, log scale)", "model, loss", xscale="log", size=(10.0, 5.0))
    height = 0.8 / len(columns)
    for k, column in enumerate(columns):
        values = [r[column] for _, r in rows]
        positions = [i + k * height for i, v in enumerate(values) if v is not None]
        if positions:  # no PyTorch column without torch
            ax.barh(positions, [max(v, 1e-17) for v in values if v is not None], height, left=1e-18,
                    label=column, color=f"C{k}")
    ax.axvline(EXACT_TOLERANCE, color="k", linestyle=":", linewidth=0.8, label="tolerance, exact gradients")
    ax.axvline(FD_TOLERANCE, color="k", linestyle="--", linewidth=0.8, label="tolerance vs FD")
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))], [name for name, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    rows = [(case.name, run_case(case)) for case in cases()]
    print(f"Gradient check, float64, batch {N}, L2 {L2} (weights only): max relative error of the "
          "hand-derived backprop gradient\n")
    print("| model, loss | vs jax.grad | backprop vs FD | jax.grad vs FD | vs PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        torch_cell = "n/a" if r["vs PyTorch"] is None else f"{r['vs PyTorch']:.1e}"
        print(f"| {name} | {r['vs jax.grad']:.1e} | {r['backprop vs FD']:.1e} | {r['jax.grad vs FD']:.1e} "
              f"| {torch_cell} |")
    print(f"\nFD: central differences, eps = 1e-6, {FD_CHECKS} random coordinates per parameter. "
          "Relative error |g - g_fd| / max(|g|, |g_fd|, 1e-6 max|g_leaf|): the finite difference's "
          "own truncation and rounding error (~1e-11 absolute) sets the FD columns' level, the same "
          "for both analytic gradients, which agree with each other and with PyTorch to round-off.\n")
    plot_errors(rows, run.out / "errors.png")

    worst_exact = max(max(r["vs jax.grad"], r["value"]) for _, r in rows)
    worst_fd = max(r["backprop vs FD"] for _, r in rows)
    torch_errors = [r["vs PyTorch"] for _, r in rows if r["vs PyTorch"] is not None]
    worst_torch = max(torch_errors, default=0.0)
    reproduced = worst_exact <= EXACT_TOLERANCE and worst_fd <= FD_TOLERANCE and worst_torch <= EXACT_TOLERANCE
    return finish(run, {"rows": dict(rows), "exact_tolerance": EXACT_TOLERANCE, "fd_tolerance": FD_TOLERANCE},
                  f"hand backprop vs jax.grad <= {worst_exact:.1e}, vs PyTorch "
                  f"{f'<= {worst_torch:.1e}' if torch_errors else 'n/a (torch not installed)'} "
                  f"(tolerance {EXACT_TOLERANCE:.0e}), vs finite differences <= {worst_fd:.1e} "
                  f"(tolerance {FD_TOLERANCE:.0e}); {len(rows)} models and losses", reproduced)


if __name__ == "__main__":
    raise SystemExit(main())
