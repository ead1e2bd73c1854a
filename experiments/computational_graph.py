"""Lecture 002, "Computational Graphs": f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4.

Builds the lecture's graph with ``jaxnn.graph.Value``, runs the forward pass (q = x + y = -2,
f = q z = -8) and the backward pass (df/dx = df/dy = z = 4, df/dz = q = -2), prints both as
a trace and as graphviz DOT, checks the numbers against the lecture and ``jax.grad``, and
then prints the graph JAX itself records (its jaxpr) for a tiny MLP loss and its gradient.

    python experiments/computational_graph.py
    python experiments/computational_graph.py | sed -n '/^digraph/,/^}/p' | dot -Tsvg > f.svg
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnn.graph import Value, grad_jaxpr, jaxpr, to_dot, trace

LECTURE_INPUTS = {"x": 1.0, "y": -3.0, "z": 4.0}
LECTURE_RESULTS = {"f": -8.0, "df/dx": 4.0, "df/dy": 4.0, "df/dz": -2.0}


def lecture_graph() -> tuple[Value, dict[str, Value]]:
    """f = (x + y) z as Values; returns the output and the named nodes."""
    x, y, z = (Value(v, name) for name, v in LECTURE_INPUTS.items())
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return f, {"x": x, "y": y, "z": z, "q": q}


def tiny_mlp_loss(params: dict[str, jax.Array], x: jax.Array, t: jax.Array) -> jax.Array:
    """Sum-of-squares loss of a 2-3-1 tanh MLP (z = x @ W + b, lecture 001's W transposed)."""
    hidden = jnp.tanh(x @ params["W1"] + params["b1"])
    y = hidden @ params["W2"] + params["b2"]
    return 0.5 * jnp.sum((y - t) ** 2)


def main() -> dict[str, float]:
    f, nodes = lecture_graph()
    f.backward()
    results = {"f": f.data, **{f"df/d{name}": nodes[name].grad for name in "xyz"}}
    jax_grads = jax.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2))(
        *LECTURE_INPUTS.values())

    print("Lecture 002: f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4\n")
    print("Forward and backward pass, one node per line in topological order:")
    print(trace(f))
    print("\nThe same graph as graphviz DOT:")
    print(to_dot(f))
    print("\n              value  lecture  jax.grad")
    for (name, value), jax_value in zip(results.items(), [f.data, *map(float, jax_grads)]):
        print(f"  {name:<7} {value:>9g} {LECTURE_RESULTS[name]:>8g} {jax_value:>9g}")
    claim_holds = results == LECTURE_RESULTS
    print(f"claim reproduced: {claim_holds}")

    key_w1, key_w2 = jax.random.split(jax.random.key(0))
    params = {"W1": jax.random.normal(key_w1, (2, 3)), "b1": jnp.zeros(3),
              "W2": jax.random.normal(key_w2, (3, 1)), "b2": jnp.zeros(1)}
    x, t = jnp.ones((4, 2)), jnp.zeros((4, 1))
    print("\nThe graph JAX builds for a 2-3-1 tanh MLP loss (jax.make_jaxpr):")
    print(jaxpr(tiny_mlp_loss, params, x, t))
    print("\n... and for its gradient wrt the parameters (forward, then backward):")
    print(grad_jaxpr(tiny_mlp_loss, params, x, t))
    if not claim_holds:
        raise SystemExit(f"computational_graph: lecture 002 numbers not reproduced: {results} != {LECTURE_RESULTS}")
    print("\ncomputational_graph: f = {f:g}, df/dx = {df/dx:g}, df/dy = {df/dy:g}, df/dz = {df/dz:g} "
          "as in lecture 002, and jax.grad agrees".format_map(results))
    return results


if __name__ == "__main__":
    main()
