"""Scalar reverse-mode autodiff over an explicit computational graph (for teaching).

UMT Lahore, "Computational Graphs", draws a function as a directed graph whose vertices
are variables and operators and whose edges carry values forward; Liverpool,
"Backpropagation", adds that autodiff "decomposes the algorithm into primitive operations"
and "explicitly constructs a computation graph".  This module builds that graph one scalar at a time, in the spirit of
micrograd's ``engine.py``::

    x, y, z = Value(1.0, "x"), Value(-3.0, "y"), Value(4.0, "z")
    q = x + y;  q.label = "q"            # forward pass: q = -2
    f = q * z;  f.label = "f"            # f = -8
    f.backward()                         # backward pass: chain rule, output to inputs
    x.grad, y.grad, z.grad               # (4.0, 4.0, -2.0)

Every operation creates a new node that remembers its parents, the name of the operation
and its local ``_backward``: the chain rule for that one node, which adds
``out.grad * d(out)/d(parent)`` into each parent's ``.grad``.  ``backward()`` visits the
nodes from the output back to the inputs (reverse topological order), so each node's
``grad`` is complete before it is passed on; a node used several times receives the sum
of its contributions (the multivariate chain rule).

Re-use semantics: ``backward()`` first resets the ``grad`` of every node of the graph to
0, so after it ``node.grad`` is exactly d(root)/d(node), however many times it is called.
To get the gradient of a sum of losses, call ``backward()`` on their sum.

``trace`` and ``to_dot`` show the graph (forward values and gradients) as text and as
graphviz DOT; ``jaxpr`` and ``grad_jaxpr`` show the graph JAX itself records for a
function and for its gradient.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import jax

Number = int | float
_INFIX_OPS = ("+", "-", "*", "/")


class Value:
    """A scalar node of a computational graph: ``data`` (forward), ``grad`` (backward).

    ``parents`` are the nodes this one was computed from and ``op`` the operation that
    made it (``""`` for an input).  Values combine with each other and with Python numbers
    through ``+ - * / **``, unary ``-``, and the methods ``tanh exp log relu sigmoid``.
    Equality is identity: two nodes with the same data are still different nodes.
    """

    __slots__ = ("data", "grad", "label", "op", "parents", "_backward")

    def __init__(self, data: Number, label: str = "", *,
                 parents: tuple[Value, ...] = (), op: str = "") -> None:
        self.data: float = float(data)
        self.grad: float = 0.0
        self.label: str = label
        self.op: str = op
        self.parents: tuple[Value, ...] = parents
        self._backward: Callable[[], None] = _no_backward

    def __repr__(self) -> str:
        extras = "".join(f", {name}={text!r}" for name, text in
                         (("op", self.op), ("label", self.label)) if text)
        return f"Value(data={self.data!r}, grad={self.grad!r}{extras})"

    # ---- binary operations -------------------------------------------------------------

    def __add__(self, other: Value | Number) -> Value:
        """out = a + b;  d(out)/da = d(out)/db = 1."""
        other = _as_value(other)
        out = Value(self.data + other.data, parents=(self, other), op="+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        """out = a - b;  d(out)/da = 1, d(out)/db = -1."""
        other = _as_value(other)
        out = Value(self.data - other.data, parents=(self, other), op="-")

        def _backward() -> None:
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        """out = a b;  d(out)/da = b, d(out)/db = a (UMT Lahore, computational graphs: df/dz = x + y)."""
        other = _as_value(other)
        out = Value(self.data * other.data, parents=(self, other), op="*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        """out = a / b;  d(out)/da = 1/b, d(out)/db = -a/b^2.  Raises ValueError if b = 0."""
        other = _as_value(other)
        if other.data == 0.0:
            raise ValueError(f"/: division by zero ({self.data!r} / {other.data!r}); "
                             "the divisor must be non-zero")
        out = Value(self.data / other.data, parents=(self, other), op="/")

        def _backward() -> None:
            self.grad += out.grad / other.data
            other.grad -= out.grad * out.data / other.data     # -g a / b^2, no underflow
        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        """out = a^p for a number p;  d(out)/da = p a^(p-1).

        Raises ValueError for 0 to a negative power and for a negative base with a
        non-integer exponent (not a real number).
        """
        if not isinstance(exponent, numbers.Real):
            raise TypeError(f"**: the exponent must be an int or float, got "
                            f"{type(exponent).__name__}; for a Value exponent p write "
                            "(p * a.log()).exp()")
        base = self.data
        if base == 0.0 and exponent < 0:
            raise ValueError(f"**: 0.0 ** {exponent!r} is undefined (division by zero)")
        if base < 0.0 and not float(exponent).is_integer():
            raise ValueError(f"**: {base!r} ** {exponent!r} is not a real number "
                             "(negative base, non-integer exponent)")
        try:
            result = base ** exponent
        except OverflowError:
            raise ValueError(f"**: {base!r} ** {exponent!r} overflows float64") from None
        out = Value(result, parents=(self,), op=f"**{exponent}")

        def _backward() -> None:
            self.grad += _power_derivative(base, exponent) * out.grad
        out._backward = _backward
        return out

    # ---- the same operations with a Python number on the left: 2 * v, 1 - v, 1 / v ----

    def __radd__(self, other: Number) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return _as_value(other) / self

    # ---- unary operations ---------------------------------------------------------------

    def __neg__(self) -> Value:
        """out = -a;  d(out)/da = -1."""
        out = Value(-self.data, parents=(self,), op="neg")

        def _backward() -> None:
            self.grad -= out.grad
        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """out = tanh(a);  d(out)/da = 1 - tanh(a)^2 (IIT Mandi, common activation derivatives)."""
        t = math.tanh(self.data)
        out = Value(t, parents=(self,), op="tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def exp(self) -> Value:
        """out = e^a;  d(out)/da = e^a.  Raises ValueError if e^a overflows float64."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise ValueError(f"exp: exp({self.data!r}) overflows float64 "
                             "(arguments above ~709.78)") from None
        out = Value(e, parents=(self,), op="exp")

        def _backward() -> None:
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self) -> Value:
        """out = ln(a);  d(out)/da = 1/a.  Raises ValueError unless a > 0."""
        if self.data <= 0.0:
            raise ValueError(f"log: the argument must be positive, got {self.data!r}")
        out = Value(math.log(self.data), parents=(self,), op="log")

        def _backward() -> None:
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def relu(self) -> Value:
        """out = max(0, a);  d(out)/da = 1 if a > 0 else 0 (0 at a = 0, as jax.nn.relu)."""
        out = Value(self.data if self.data > 0.0 else 0.0, parents=(self,), op="relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0.0 else 0.0) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """out = 1 / (1 + e^-a);  d(out)/da = s (1 - s) (IIT Mandi: sigma' = sigma(1 - sigma))."""
        s = _stable_sigmoid(self.data)
        out = Value(s, parents=(self,), op="sigmoid")

        def _backward() -> None:
            self.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    # ---- the backward pass ---------------------------------------------------------------

    def zero_grad(self) -> None:
        """Set ``grad = 0`` on this node and every node it was computed from."""
        for node in topological_order(self):
            node.grad = 0.0

    def backward(self) -> None:
        """Fill ``node.grad = d(self)/d(node)`` for every node of the graph of ``self``.

        Resets all grads to 0, seeds d(self)/d(self) = 1, then runs each node's local
        chain rule from the output back to the inputs (reverse topological order).
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def _no_backward() -> None:
    """The local backward of an input node: it has no parents to pass gradient to."""


def _as_value(x: Value | Number) -> Value:
    """Wrap a Python number as a constant input node; Values pass through."""
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):
        return Value(x)
    raise TypeError(f"cannot combine a Value with {type(x).__name__}; "
                    "use a Value or an int/float")


def _power_derivative(base: float, exponent: Number) -> float:
    """d(base^p)/d(base) = p base^(p-1); 0 for p = 0; ValueError where it is infinite."""
    if exponent == 0:
        return 0.0
    if base == 0.0 and exponent < 1:
        raise ValueError(f"**: the derivative of x ** {exponent!r} is infinite at x = 0.0")
    try:
        return exponent * base ** (exponent - 1)
    except OverflowError:
        raise ValueError(f"**: the derivative of x ** {exponent!r} at x = {base!r} "
                         "overflows float64") from None


def _stable_sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow: e^x / (1 + e^x) for negative x."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def topological_order(root: Value) -> list[Value]:
    """The nodes ``root`` depends on, each listed after all of its parents; ``root`` last.

    An iterative depth-first search (an explicit stack instead of recursion), so graphs
    thousands of nodes deep do not hit Python's recursion limit.  Parents are visited left
    to right, so ``f = (x + y) * z`` lists ``x, y, x + y, z, f``.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((parent, False) for parent in reversed(node.parents)
                     if id(parent) not in visited)
    return order


# ---- display ------------------------------------------------------------------------------

def _format_number(x: float) -> str:
    return f"{x:.6g}"


def _node_names(order: list[Value]) -> dict[int, str]:
    """A display name per node: its label, or ``v<i>`` with i its topological index."""
    return {id(node): node.label or f"v{i}" for i, node in enumerate(order)}


def _definition(node: Value, names: dict[int, str]) -> str:
    """How ``node`` was computed, in terms of its parents' names: ``x + y``, ``tanh(q)``."""
    args = [names[id(parent)] for parent in node.parents]
    if not node.parents:
        return _format_number(node.data)
    if node.op in _INFIX_OPS:
        return f" {node.op} ".join(args)
    if node.op.startswith("**"):
        return f"{args[0]} ** {node.op[2:]}"
    if node.op == "neg":
        return f"-{args[0]}"
    return f"{node.op}({', '.join(args)})"


def trace(root: Value) -> str:
    """The graph of ``root`` as text, one node per line in topological order.

    Each line gives the node's name, how it was computed (its definition), its forward
    value and its gradient, so both passes can be read off.  For UMT Lahore's example,
    ``f = (x + y) z`` at ``x = 1, y = -3, z = 4``, after ``f.backward()``::

        x = 1      data=1   grad=4
        y = -3     data=-3  grad=4
        q = x + y  data=-2  grad=4
        z = 4      data=4   grad=-2
        f = q * z  data=-8  grad=1
    """
    order = topological_order(root)
    names = _node_names(order)
    heads = [f"{names[id(node)]} = {_definition(node, names)}" for node in order]
    datas = [f"data={_format_number(node.data)}" for node in order]
    head_width = max(len(head) for head in heads)
    data_width = max(len(data) for data in datas)
    return "\n".join(f"{head:<{head_width}}  {data:<{data_width}}  grad={_format_number(node.grad)}"
                     for head, data, node in zip(heads, datas, order))


def print_graph(root: Value) -> None:
    """Print ``trace(root)``."""
    print(trace(root))


def _dot_escape(text: str) -> str:
    """Escape the characters that are special inside a graphviz record label."""
    return "".join("\\" + ch if ch in '{}|<>"\\' else ch for ch in text)


def to_dot(root: Value) -> str:
    """The graph of ``root`` as graphviz DOT text (render with ``dot -Tsvg``).

    Every value is a record node ``n<i>`` showing ``name | data | grad``; every operation
    is a round node ``n<i>_op`` (the op that made ``n<i>``), with an edge from each operand
    to the op and one from the op to its result.  A node used twice has two edges.
    """
    order = topological_order(root)
    names = _node_names(order)
    ids = {id(node): f"n{i}" for i, node in enumerate(order)}
    lines = ["digraph computational_graph {", "  rankdir=LR;"]
    for node in order:
        node_id = ids[id(node)]
        label = (f"{{ {_dot_escape(names[id(node)])} | data {_format_number(node.data)} "
                 f"| grad {_format_number(node.grad)} }}")
        lines.append(f'  {node_id} [shape=record, label="{label}"];')
        if node.op:
            lines.append(f'  {node_id}_op [shape=circle, label="{_dot_escape(node.op)}"];')
            lines.append(f"  {node_id}_op -> {node_id};")
            lines.extend(f"  {ids[id(parent)]} -> {node_id}_op;" for parent in node.parents)
    lines.append("}")
    return "\n".join(lines)


# ---- the graph JAX builds ------------------------------------------------------------------

def jaxpr(fn: Callable[..., Any], *args: Any) -> str:
    """The computational graph JAX traces for ``fn(*args)``, as jaxpr text.

    Each line of the jaxpr is one primitive operation (``add``, ``mul``, ``dot_general``,
    ``tanh``...) on named intermediate values: the same graph as ``trace`` shows for
    Values, but over arrays (Liverpool, "Backpropagation": autodiff decomposes into primitive operations).
    """
    return str(jax.make_jaxpr(fn)(*args))


def grad_jaxpr(fn: Callable[..., Any], *args: Any, argnums: int | tuple[int, ...] = 0) -> str:
    """The jaxpr of ``jax.grad(fn, argnums)(*args)``: forward pass, then the backward pass."""
    return str(jax.make_jaxpr(jax.grad(fn, argnums=argnums))(*args))
