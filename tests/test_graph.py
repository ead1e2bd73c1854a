"""jaxnn.graph: the explicit scalar computational graph, checked against jax.grad."""
from __future__ import annotations

import math
import operator
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import assert_trees_close
from jaxnn.graph import Value, grad_jaxpr, jaxpr, print_graph, to_dot, topological_order, trace

RTOL = 1e-12


def lecture_example() -> tuple[Value, Value, Value, Value, Value]:
    """UMT Lahore, "Computational Graphs": f(x, y, z) = (x + y) z at x = 1, y = -3, z = 4."""
    x, y, z = Value(1.0, "x"), Value(-3.0, "y"), Value(4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return x, y, z, q, f


def tanh(a):
    """tanh of a Value (its method) or of a jnp scalar (the oracle)."""
    return a.tanh() if isinstance(a, Value) else jnp.tanh(a)


def exp(a):
    return a.exp() if isinstance(a, Value) else jnp.exp(a)


def sigmoid(a):
    return a.sigmoid() if isinstance(a, Value) else jax.nn.sigmoid(a)


def value_grads(fn, *points: float) -> tuple[float, list[float]]:
    """Run ``fn`` on Values at ``points``, backward, return (output, input grads)."""
    inputs = [Value(p) for p in points]
    out = fn(*inputs)
    out.backward()
    return out.data, [v.grad for v in inputs]


def jax_grads(fn, *points: float) -> tuple[float, list[float]]:
    """The oracle: jax.value_and_grad of the same expression in float64."""
    args = tuple(jnp.float64(p) for p in points)
    out, grads = jax.value_and_grad(fn, argnums=tuple(range(len(args))))(*args)
    return float(out), [float(g) for g in grads]


def assert_matches_jax(value_fn, jax_fn, *points: float, rtol: float = RTOL, atol: float = 0.0):
    out, grads = value_grads(value_fn, *points)
    expected_out, expected_grads = jax_grads(jax_fn, *points)
    np.testing.assert_allclose(out, expected_out, rtol=rtol, atol=atol, err_msg="forward")
    np.testing.assert_allclose(grads, expected_grads, rtol=rtol, atol=atol, err_msg="grads")


# ---- the lecture example ------------------------------------------------------------------

def test_lecture_002_forward_and_backward():
    x, y, z, q, f = lecture_example()
    assert (q.data, f.data) == (-2.0, -8.0)
    f.backward()
    assert (x.grad, y.grad, z.grad, q.grad, f.grad) == (4.0, 4.0, -2.0, 4.0, 1.0)
    _, expected = jax_grads(lambda a, b, c: (a + b) * c, 1.0, -3.0, 4.0)
    assert expected == [4.0, 4.0, -2.0]


def test_graph_structure_records_parents_and_ops():
    x, y, z, q, f = lecture_example()
    assert f.parents == (q, z) and f.op == "*"
    assert q.parents == (x, y) and q.op == "+"
    assert x.parents == () and x.op == ""
    assert topological_order(f) == [x, y, q, z, f]


def test_backward_is_idempotent_and_zero_grad_clears():
    x, y, z, q, f = lecture_example()
    f.backward()
    f.backward()
    assert (x.grad, y.grad, z.grad) == (4.0, 4.0, -2.0)
    f.zero_grad()
    assert [n.grad for n in (x, y, z, q, f)] == [0.0] * 5


def test_backward_of_a_subgraph_gives_its_own_derivatives():
    x, y, z, q, f = lecture_example()
    f.backward()
    q.backward()
    assert (x.grad, y.grad, q.grad) == (1.0, 1.0, 1.0)


# ---- every operation against jax.grad ------------------------------------------------------

UNARY_CASES = {
    "neg": (operator.neg, operator.neg),
    "tanh": (Value.tanh, jnp.tanh),
    "exp": (Value.exp, jnp.exp),
    "log": (Value.log, jnp.log),
    "relu": (Value.relu, jax.nn.relu),
    "sigmoid": (Value.sigmoid, jax.nn.sigmoid),
    "square": (lambda a: a ** 2, lambda a: a ** 2),
    "cube": (lambda a: a ** 3, lambda a: a ** 3),
    "inverse": (lambda a: a ** -1, lambda a: a ** -1),
    "sqrt": (lambda a: a ** 0.5, lambda a: a ** 0.5),
    "pow_2.5": (lambda a: a ** 2.5, lambda a: a ** 2.5),
    "pow_0": (lambda a: a ** 0, lambda a: a ** 0),
    "radd": (lambda a: 2.5 + a, lambda a: 2.5 + a),
    "rsub": (lambda a: 1 - a, lambda a: 1 - a),
    "rmul": (lambda a: 2 * a, lambda a: 2 * a),
    "rdiv": (lambda a: 1 / a, lambda a: 1 / a),
    "add_number": (lambda a: a + 3, lambda a: a + 3),
    "sub_number": (lambda a: a - 0.5, lambda a: a - 0.5),
    "div_number": (lambda a: a / 7, lambda a: a / 7),
}

BINARY_CASES = {
    "add": (operator.add,) * 2,
    "sub": (operator.sub,) * 2,
    "mul": (operator.mul,) * 2,
    "div": (operator.truediv,) * 2,
}


@pytest.mark.parametrize("name", sorted(UNARY_CASES))
def test_unary_op_matches_jax_grad(name):
    value_fn, jax_fn = UNARY_CASES[name]
    rng = np.random.default_rng(sorted(UNARY_CASES).index(name))
    positive_only = name in {"log", "sqrt", "pow_2.5"}
    for point in rng.uniform(0.1 if positive_only else -3.0, 3.0, size=5):
        assert_matches_jax(value_fn, jax_fn, float(point))


@pytest.mark.parametrize("name", sorted(BINARY_CASES))
def test_binary_op_matches_jax_grad(name):
    value_fn, jax_fn = BINARY_CASES[name]
    rng = np.random.default_rng(7)
    for a, b in rng.uniform(-3.0, 3.0, size=(5, 2)):
        assert_matches_jax(value_fn, jax_fn, float(a), float(b))


def test_relu_at_zero_and_sigmoid_far_out_match_jax():
    assert_matches_jax(Value.relu, jax.nn.relu, 0.0)
    for point in (-800.0, -40.0, 40.0, 800.0):
        assert_matches_jax(Value.sigmoid, jax.nn.sigmoid, point)


def test_node_used_several_times_accumulates():
    fn = lambda x: x * x + x  # noqa: E731  d/dx = 2x + 1
    out, (grad,) = value_grads(fn, 1.5)
    assert (out, grad) == (3.75, 4.0)
    for point in np.random.default_rng(1).uniform(-3, 3, size=5):
        assert_matches_jax(fn, fn, float(point))


def test_shared_subexpression_diamond_matches_jax():
    def fn(x, y):
        h = tanh(x * y)              # h feeds four consumers
        return h * h / (h + 2.0) - exp(h)
    assert_matches_jax(fn, fn, 0.7, -1.3)


# ---- networks built from Values ------------------------------------------------------------

def test_one_neuron_worked_example():
    """IIT Mandi, "Worked scalar example (1 hidden neuron)": z1 = w1 x + b1, a1 = tanh(z1), s = w2 a1 + b2,
    y = sigmoid(s), L = (y - t)^2 / 2; against the hand formulas and jax.grad."""
    x, t = 0.8, 0.3
    w1, b1, w2, b2 = 0.5, -0.2, -1.1, 0.4

    def loss(w1, b1, w2, b2):
        y = sigmoid(w2 * tanh(w1 * x + b1) + b2)
        return 0.5 * (y - t) ** 2

    assert_matches_jax(loss, loss, w1, b1, w2, b2)

    z1 = w1 * x + b1
    a1 = math.tanh(z1)
    s = w2 * a1 + b2
    y = 1.0 / (1.0 + math.exp(-s))
    delta2 = (y - t) * y * (1.0 - y)              # (y - t) sigma'(s)
    delta1 = (1.0 - a1 ** 2) * w2 * delta2        # h'(z1) w2 delta2
    hand = [delta1 * x, delta1, delta2 * a1, delta2]
    _, grads = value_grads(loss, w1, b1, w2, b2)
    np.testing.assert_allclose(grads, hand, rtol=RTOL)


def dense_values(x: list[Value], W: list[list[Value]], b: list[Value]) -> list[Value]:
    """z = x @ W + b on Values, W[i][j] of shape (fan_in, fan_out)."""
    return [sum((x[i] * W[i][j] for i in range(len(x))), b[j]) for j in range(len(b))]


def test_two_layer_mlp_of_values_matches_jax_grad():
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}
    xs, ts = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))

    def jax_loss(p):
        y = jnp.tanh(xs @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return 0.5 * jnp.sum((y - ts) ** 2) / len(xs)

    vparams = {k: np.vectorize(Value, otypes=[object])(v) for k, v in params.items()}
    total = Value(0.0)
    for x, t in zip(xs, ts):
        h = [z.tanh() for z in dense_values(list(x), vparams["W1"].tolist(), list(vparams["b1"]))]
        y = dense_values(h, vparams["W2"].tolist(), list(vparams["b2"]))
        total = total + sum(((yk - tk) ** 2 for yk, tk in zip(y, t)), Value(0.0))
    loss = 0.5 * total / len(xs)
    loss.backward()

    expected_loss, expected = jax.value_and_grad(jax_loss)(
        {k: jnp.asarray(v) for k, v in params.items()})
    np.testing.assert_allclose(loss.data, float(expected_loss), rtol=RTOL)
    grads = {k: np.vectorize(lambda node: node.grad, otypes=[float])(v) for k, v in vparams.items()}
    assert_trees_close(grads, expected, rtol=RTOL, atol=1e-15, what="MLP grads")


# ---- random expression trees (hypothesis) --------------------------------------------------

N_INPUTS = 3
UNARY_TREE_OPS = {name: UNARY_CASES[name] for name in
                  ("neg", "tanh", "exp", "log", "relu", "sigmoid", "square", "sqrt", "inverse", "rsub", "rmul")}
BINARY_TREE_OPS = ("+", "-", "*", "/")
_BINARY_FNS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

# Inputs and constants stay clear of tiny magnitudes, where the oracle stops being one:
# XLA on CPU flushes subnormals to zero, and jax's d(a/b)/db computes b**-2 (inf for
# |b| < 1e-154).
scalars = st.one_of(st.just(0.0), st.floats(0.05, 2.0), st.floats(-2.0, -0.05))
expression_trees = st.recursive(
    st.one_of(st.tuples(st.just("input"), st.integers(0, N_INPUTS - 1)),
              st.tuples(st.just("const"), scalars)),
    lambda children: st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY_TREE_OPS)), children),
        st.tuples(st.sampled_from(BINARY_TREE_OPS), children, children)),
    max_leaves=10)


def evaluate(tree, inputs, use_jax: bool):
    """Evaluate a tree on Values (use_jax=False) or on jnp scalars (the oracle)."""
    kind = tree[0]
    if kind == "input":
        return inputs[tree[1]]
    if kind == "const":
        return tree[1] if use_jax else Value(tree[1])
    if kind in _BINARY_FNS:
        left, right = (evaluate(child, inputs, use_jax) for child in tree[1:])
        return _BINARY_FNS[kind](left, right)
    return UNARY_TREE_OPS[kind][use_jax](evaluate(tree[1], inputs, use_jax))


@settings(max_examples=60, deadline=None)
@given(tree=expression_trees,
       points=st.lists(scalars, min_size=N_INPUTS, max_size=N_INPUTS))
def test_random_expression_trees_match_jax_grad(tree, points):
    inputs = [Value(p) for p in points]
    try:
        out = evaluate(tree, inputs, use_jax=False)
        out.backward()
    except ValueError:                      # a domain error: log(-1), 0 ** -1, x / 0...
        return
    args = [jnp.float64(p) for p in points]
    expected_out, expected = jax.value_and_grad(
        lambda *a: jnp.asarray(evaluate(tree, a, use_jax=True), dtype=jnp.float64),
        argnums=tuple(range(N_INPUTS)))(*args)
    expected = np.array([float(g) for g in expected])
    grads = np.array([v.grad for v in inputs])
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(out.data, float(expected_out), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads, expected, rtol=1e-9, atol=1e-12 * scale)


# ---- deep graphs, display, jaxpr -----------------------------------------------------------

def test_deep_chain_does_not_hit_recursion_limit():
    depth = 5000
    assert sys.getrecursionlimit() < 10 * depth
    x = Value(0.5, "x")
    out = x
    for _ in range(depth):
        out = out + x
    out.backward()
    assert x.grad == depth + 1.0
    assert out.data == 0.5 * (depth + 1)
    assert len(topological_order(out)) == depth + 1
    assert len(trace(out).splitlines()) == depth + 1
    assert to_dot(out).count("->") == 3 * depth


def test_deep_tanh_chain_matches_closed_form():
    x = Value(0.3)
    out, expected_grad = x, 1.0
    for _ in range(3000):
        expected_grad *= 1.0 - math.tanh(out.data) ** 2
        out = out.tanh()
    out.backward()
    np.testing.assert_allclose(x.grad, expected_grad, rtol=RTOL)


def test_trace_of_lecture_example():
    *_, f = lecture_example()
    f.backward()
    assert trace(f) == "\n".join([
        "x = 1      data=1   grad=4",
        "y = -3     data=-3  grad=4",
        "q = x + y  data=-2  grad=4",
        "z = 4      data=4   grad=-2",
        "f = q * z  data=-8  grad=1",
    ])


def test_print_graph_prints_the_trace(capsys):
    *_, f = lecture_example()
    print_graph(f)
    assert capsys.readouterr().out == trace(f) + "\n"


def test_trace_names_unlabeled_nodes_and_shows_definitions():
    x = Value(2.0, "x")
    out = (-(x ** 2)).exp() / (1 - x).sigmoid()
    lines = trace(out).splitlines()
    definitions = [line.split("  ")[0].strip() for line in lines]
    assert definitions == ["x = 2", "v1 = x ** 2", "v2 = -v1", "v3 = exp(v2)",
                           "v4 = 1", "v5 = v4 - x", "v6 = sigmoid(v5)", "v7 = v3 / v6"]


def parse_dot(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node id -> label, and the list of edges, from DOT text."""
    nodes = dict(re.findall(r'^\s*(\w+) \[[^\]]*label="((?:[^"\\]|\\.)*)"\];$', dot, re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+);$", dot, re.M)
    return nodes, edges


def test_to_dot_contains_every_node_and_edge():
    x, y = Value(1.5, "x"), Value(-0.5, "y")
    h = (x * y).tanh()
    out = h * x + h / y
    out.label = "out"
    out.backward()
    dot = to_dot(out)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes, edges = parse_dot(dot)
    order = topological_order(out)
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    expected_nodes = {ids[id(n)] for n in order} | {ids[id(n)] + "_op" for n in order if n.op}
    assert set(nodes) == expected_nodes
    expected_edges = sorted([(ids[id(p)], ids[id(n)] + "_op") for n in order for p in n.parents]
                            + [(ids[id(n)] + "_op", ids[id(n)]) for n in order if n.op])
    assert sorted(edges) == expected_edges
    for n in order:
        assert f"data {n.data:.6g}" in nodes[ids[id(n)]]
        assert f"grad {n.grad:.6g}" in nodes[ids[id(n)]]
        if n.op:
            assert nodes[ids[id(n)] + "_op"] == n.op
    assert nodes[ids[id(x)]] == f"{{ x | data 1.5 | grad {x.grad:.6g} }}"
    assert nodes[ids[id(out)]].startswith("{ out |")


def test_to_dot_escapes_record_characters_in_labels():
    v = Value(1.0, 'a|b{c}"d"')
    nodes, _ = parse_dot(to_dot(v))
    assert nodes["n0"] == '{ a\\|b\\{c\\}\\"d\\" | data 1 | grad 0 }'


def test_repr():
    x, y, z, q, f = lecture_example()
    f.backward()
    assert repr(f) == "Value(data=-8.0, grad=1.0, op='*', label='f')"
    assert repr(x) == "Value(data=1.0, grad=4.0, label='x')"
    assert repr(Value(2)) == "Value(data=2.0, grad=0.0)"


def test_jaxpr_of_lecture_example_and_its_gradient():
    text = jaxpr(lambda x, y, z: (x + y) * z, 1.0, -3.0, 4.0)
    equations = [line.split("= ", 1)[1].split()[0] for line in text.splitlines() if " = " in line]
    assert equations == ["add", "mul"]
    grad_text = grad_jaxpr(lambda x, y, z: (x + y) * z, 1.0, -3.0, 4.0, argnums=(0, 1, 2))
    assert "add" in grad_text and grad_text.count("mul") >= 2


def test_jaxpr_of_mlp_loss_shows_matmuls_and_activation():
    params = {"W1": jnp.ones((3, 4)), "b1": jnp.zeros(4),
              "W2": jnp.ones((4, 1)), "b2": jnp.zeros(1)}

    def loss(p, x, t):
        y = jnp.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return 0.5 * jnp.sum((y - t) ** 2)

    x, t = jnp.ones((2, 3)), jnp.zeros((2, 1))
    text = jaxpr(loss, params, x, t)
    assert text.count("dot_general") == 2 and text.count("tanh") == 1
    grad_text = grad_jaxpr(loss, params, x, t)
    assert grad_text.count("dot_general") >= 4     # forward 2, backward 2 or more


# ---- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: Value(0.0).log(), r"log.*positive.*0\.0"),
    (lambda: Value(-1.5).log(), r"log.*-1\.5"),
    (lambda: Value(0.0) ** -1, r"\*\*.*0\.0 \*\* -1"),
    (lambda: Value(-8.0) ** 0.5, r"\*\*.*-8\.0 \*\* 0\.5.*not a real"),
    (lambda: Value(3.0) / 0, r"/: division by zero \(3\.0 / 0\.0\)"),
    (lambda: Value(3.0) / Value(0.0), r"/: division by zero"),
    (lambda: 1 / Value(0.0), r"/: division by zero \(1\.0 / 0\.0\)"),
    (lambda: Value(1000.0).exp(), r"exp.*1000\.0.*overflow"),
    (lambda: Value(10.0) ** 400.0, r"\*\*.*overflow"),
])
def test_domain_errors_name_op_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_infinite_derivative_of_fractional_power_at_zero_raises():
    out = Value(0.0) ** 0.5
    assert out.data == 0.0
    with pytest.raises(ValueError, match=r"derivative of x \*\* 0\.5 is infinite at x = 0\.0"):
        out.backward()


def test_pow_at_zero_with_integer_and_zero_exponent():
    assert_matches_jax(lambda a: a ** 3, lambda a: a ** 3, 0.0)
    assert_matches_jax(lambda a: a ** 0, lambda a: a ** 0, 0.0)


def test_type_errors():
    with pytest.raises(TypeError, match="exponent must be an int or float"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="cannot combine a Value with str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        "a" + Value(1.0)
