"""UMT Lahore, NN Training and Optimization, "Computational Graphs"; Rumelhart, Hinton & Williams 1986: backward through f = (x + y) z at x = 1, y = -3, z = 4 gives df/dx = df/dy = 4, df/dz = -2.

Setup: the course's graph built with ``jaxnn.graph.Value``.  Run: the forward pass
(q = x + y = -2, f = q z = -8) and the backward pass (df/dx = df/dy = z = 4, df/dz = q = -2),
printed as a trace and as graphviz DOT.  Measurement: the numbers against the course notes'
and ``jax.grad``'s; then the graph JAX itself records (its jaxpr) for a tiny MLP loss and
its gradient.  Figure: ``graph.dot`` (render with ``dot -Tsvg graph.dot > graph.svg``).
Verdict: reproduced when all four numbers equal the course's.

    python experiments/computational_graph.py [--out runs/computational_graph]
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from common import finish, start

from jaxnn.graph import Value, grad_jaxpr, jaxpr, to_dot, trace

COURSE_INPUTS = {"x": 1.0, "y": -3.0, "z": 4.0}
COURSE_RESULTS = {"f": -8.0, "df/dx": 4.0, "df/dy": 4.0, "df/dz": -2.0}   # the notes' worked example


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


def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    f, nodes = course_graph()
    f.backward()
    results = {"f": f.data, **{f"df/d{name}": nodes[name].grad for name in "xyz"}}
    jax_grads = jax.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2))(*COURSE_INPUTS.values())

    print("f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4\n")
    print("Forward and backward pass, one node per line in topological order:")
    print(trace(f))
    print("\nThe same graph as graphviz DOT:")
    print(to_dot(f))
    print("\n              value   course  jax.grad")
    for (name, value), jax_value in zip(results.items(), [f.data, *map(float, jax_grads)]):
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

    jax_agrees = [float(g) for g in jax_grads] == [results[f"df/d{name}"] for name in "xyz"]
    reproduced = results == COURSE_RESULTS and jax_agrees
    return finish(run, {"results": results, "course": COURSE_RESULTS, "jax_grad_agrees": jax_agrees},
                  "f = {f:g}, df/dx = {df/dx:g}, df/dy = {df/dy:g}, df/dz = {df/dz:g}".format_map(results)
                  + f" {'as' if results == COURSE_RESULTS else 'NOT as'} in the course notes, and jax.grad "
                  f"{'agrees' if jax_agrees else 'DISAGREES'}",
                  reproduced)


if __name__ == "__main__":
    raise SystemExit(main())
