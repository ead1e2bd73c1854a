"""UMT Lahore, NN Training and Optimization, "Computational Graphs"; Rumelhart, Hinton & Williams 1986: backward through f = (x + y) z at x = 1, y = -3, z = 4 gives df/dx = df/dy = 4, df/dz = -2.

The course's graph, f = (x + y) z at x = 1, y = -3, z = 4, is built one scalar node at a
time with ``jaxnn.graph.Value`` and run forward, then backward.  The four numbers are compared
with the course notes' worked example and with ``jax.grad`` of the same function.

Run: the forward pass (q = x + y = -2, f = q z = -8) and the backward pass (df/dq = z = 4,
so df/dx = df/dy = 4 by the + node; df/dz = q = -2), printed as a trace and as graphviz DOT;
then the graph JAX itself records (its jaxpr) for a tiny MLP loss and for its gradient.

Measurement: f, df/dx, df/dy, df/dz against the course's numbers, and the largest
difference from ``jax.grad``.  Figure: ``graph.png``, the graph with each node's forward
value and gradient (also ``graph.dot``: render with ``dot -Tsvg graph.dot > graph.svg``).

Verdict: reproduced when all four numbers equal the course's and ``jax.grad`` agrees exactly.

    python experiments/computational_graph.py [--quick] [--seed 0] [--out runs/computational_graph]
"""

# %% [markdown]
# # Backpropagation on a computational graph
#
# UMT Lahore, NN Training and Optimization, "Computational Graphs": a function is a
# directed graph whose vertices are variables and operators and whose edges carry values
# forward.  The course's example is f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4.
# Backpropagation (Rumelhart, Hinton & Williams 1986) walks the same graph backwards,
# each node multiplying the gradient it receives by its local derivative (the chain rule).
#
# The script is small and exact: `--quick` runs the same thing.

# %%
from __future__ import annotations

import jax
import jax.numpy as jnp
from common import check, exit_with, figure, finish, save_figure, start

from jaxnn.graph import Value, grad_jaxpr, jaxpr, to_dot, topological_order, trace

COURSE_INPUTS = {"x": 1.0, "y": -3.0, "z": 4.0}
# The course notes' worked example: every number is an exact small integer, so the checks
# ask for equality (float64 and float32 represent them and their sums/products exactly).
COURSE_RESULTS = {"f": -8.0, "df/dx": 4.0, "df/dy": 4.0, "df/dz": -2.0}
# Value.backward and jax.grad apply the same chain rule to exact integers: no round-off.
JAX_DIFFERENCE = 0.0


# %% [markdown]
# ## Setup: the graph
#
# Each arithmetic operation on `Value`s creates a node that remembers its parents, the
# operation, and its local backward rule: `+` passes the gradient on unchanged to both
# parents, `*` passes it on multiplied by the *other* factor.

# %%
def course_graph() -> tuple[Value, dict[str, Value]]:
    """f = (x + y) z as Values; returns the output and the named nodes."""
    x, y, z = (Value(v, name) for name, v in COURSE_INPUTS.items())
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return f, {"x": x, "y": y, "z": z, "q": q}


def tiny_mlp_loss(params: dict[str, jax.Array], x: jax.Array, t: jax.Array) -> jax.Array:
    """Sum-of-squares loss of a 2-3-1 tanh MLP (z = x @ W + b: the course notes' W transposed)."""
    hidden = jnp.tanh(x @ params["W1"] + params["b1"])
    y = hidden @ params["W2"] + params["b2"]
    return 0.5 * jnp.sum((y - t) ** 2)


# %% [markdown]
# ## Figure: the graph with both passes
#
# Inputs on the left, the output on the right; each node shows its forward value (green,
# above) and the gradient of f with respect to it (red, below), as in the course's drawing.

# %%
def draw_graph(root: Value, path) -> None:
    """Nodes in columns by depth (inputs first), each annotated with its value and gradient."""
    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node.parents), default=-1)
    height: dict[int, float] = {}
    inputs = [node for node in order if not node.parents]
    for row, node in enumerate(inputs):
        height[id(node)] = float(len(inputs) - 1 - row)
    for node in order:
        if node.parents:
            height[id(node)] = sum(height[id(p)] for p in node.parents) / len(node.parents)

    fig, ax = figure("f = (x + y) z: forward values and backward gradients", "graph depth (operations from "
                     "the inputs)", "", size=(7.0, 4.5))
    position = {id(node): (2.0 * depth[id(node)], height[id(node)]) for node in order}
    for node in order:
        x, y = position[id(node)]
        for parent in node.parents:
            px, py = position[id(parent)]
            ax.annotate("", xy=(x - 0.3, y), xytext=(px + 0.3, py),
                        arrowprops={"arrowstyle": "->", "color": "0.4", "linewidth": 1.2})
        text = f"{node.op}\n{node.label}" if node.op else node.label
        ax.text(x, y, text, ha="center", va="center", fontsize=10, fontweight="bold",
                bbox={"boxstyle": "circle" if node.op else "round", "facecolor": "0.93", "edgecolor": "0.3"})
        gap = 22 if node.op else 17   # points from the node's centre to its numbers
        ax.annotate(f"{node.label} = {node.data:g}", (x, y), xytext=(0, gap), textcoords="offset points",
                    ha="center", va="bottom", color="green", fontsize=9)
        ax.annotate(f"df/d{node.label} = {node.grad:g}", (x, y), xytext=(0, -gap), textcoords="offset points",
                    ha="center", va="top", color="red", fontsize=9)
    ax.plot([], [], color="green", linestyle="-", label="forward pass: value")
    ax.plot([], [], color="red", linestyle="-", label="backward pass: gradient of f")
    columns = max(depth.values())
    ax.set(xlim=(-0.8, 2.0 * columns + 0.8), ylim=(-0.7, len(inputs) - 0.2), yticks=[],
           xticks=[2.0 * d for d in range(columns + 1)], xticklabels=[str(d) for d in range(columns + 1)])
    ax.grid(False)
    ax.legend(loc="upper right", fontsize=8)
    save_figure(fig, path)


# %% [markdown]
# ## Run, measurement, verdict
#
# Forward, then `f.backward()`; the trace lists every node with its value and gradient.
# `jax.grad` of the same function is the independent reference.  Then, for comparison,
# the graph JAX itself traces (a jaxpr) for a small MLP loss and its gradient: the same
# idea over arrays, one primitive operation per line.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    f, nodes = course_graph()
    f.backward()
    results = {"f": f.data, **{f"df/d{name}": nodes[name].grad for name in "xyz"}}
    jax_grads = [float(g) for g in jax.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2))(*COURSE_INPUTS.values())]

    print("f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4\n")
    print("Forward and backward pass, one node per line in topological order:")
    print(trace(f))
    print("\nThe same graph as graphviz DOT:")
    print(to_dot(f))
    print("\n              value   course  jax.grad")
    for (name, value), jax_value in zip(results.items(), [f.data, *jax_grads]):
        print(f"  {name:<7} {value:>9g} {COURSE_RESULTS[name]:>8g} {jax_value:>9g}")

    key_w1, key_w2 = jax.random.split(jax.random.key(run.seed))
    params = {"W1": jax.random.normal(key_w1, (2, 3)), "b1": jnp.zeros(3),
              "W2": jax.random.normal(key_w2, (3, 1)), "b2": jnp.zeros(1)}
    x, t = jnp.ones((4, 2)), jnp.zeros((4, 1))
    print("\nThe graph JAX builds for a 2-3-1 tanh MLP loss (jax.make_jaxpr):")
    print(jaxpr(tiny_mlp_loss, params, x, t))
    print("\n... and for its gradient wrt the parameters (forward, then backward):")
    print(grad_jaxpr(tiny_mlp_loss, params, x, t))

    (run.out / "graph.dot").write_text(to_dot(f))
    print(f"   -> {run.out / 'graph.dot'}")
    draw_graph(f, run.out / "graph.png")

    jax_difference = max(abs(g - results[f"df/d{name}"]) for g, name in zip(jax_grads, "xyz"))
    checks = [check(f"{name} ({'forward' if name == 'f' else 'backward'} pass)", results[name], "==", value)
              for name, value in COURSE_RESULTS.items()]
    checks.append(check("largest |Value.backward - jax.grad| over x, y, z", jax_difference, "==", JAX_DIFFERENCE))
    as_in_course = results == COURSE_RESULTS
    return finish(run, {"results": results, "course": COURSE_RESULTS, "jax_grad": dict(zip("xyz", jax_grads)),
                        "jax_difference": jax_difference},
                  "f = {f:g}, df/dx = {df/dx:g}, df/dy = {df/dy:g}, df/dz = {df/dz:g}".format_map(results)
                  + f" {'as' if as_in_course else 'NOT as'} in the course notes, and jax.grad "
                  f"{'agrees' if jax_difference == JAX_DIFFERENCE else 'DISAGREES'}", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
