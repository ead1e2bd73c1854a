"""Task heads: one record per task, how the network's last layer becomes a loss, a decision
and a metric (KAUST Academy, Neural Networks, "Network Shapes for Different Tasks").

``losses.head(...)``, ``losses.HEADS`` and friends are the same objects (re-exported there).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp
from jax import Array

from jaxnn import losses, metrics
from jaxnn.activations import get as get_activation


class Head(NamedTuple):
    """One record per task: how the network's last layer becomes a loss, a decision and a
    metric (KAUST Academy, "inputs and outputs per task").

    The network outputs raw scores ``z``; ``loss`` is applied to ``z`` (the activation is
    fused into it for stability); ``output_activation`` turns ``z`` into the quantity the
    lectures draw, ``a`` (probabilities for classification); ``decide(a)`` is the
    prediction rule (``p > 1/2``, ``argmax p``, the value itself) and ``metric`` names the
    score `score` reports (``"accuracy"`` or ``"r2"``).
    """

    name: str
    output_activation: str
    loss: Callable[[Array, Array], Array]
    decide: Callable[[Array], Array]
    metric: str

    def predict(self, z: Array) -> Array:
        """The decision from raw scores: ``decide(output_activation(z))``."""
        return self.decide(get_activation(self.output_activation).fn(z))

    def output_width(self, n: int | None = None) -> int:
        """Units of the last dense layer: one per class (``n`` classes) for multiclass, one
        per target (``n`` targets) for multi-output regression, else one."""
        if self.name in ("multiclass", "multi_output_regression"):
            if n is None:
                raise ValueError(f"{self.name} head: output_width needs the number of "
                                 f"{'classes' if self.name == 'multiclass' else 'targets'}")
            return n
        return 1

    def targets(self, y) -> Array:
        """``y`` in the form `loss` takes: integer labels for multiclass, else a float
        column ``(N, 1)`` (``(N, K)`` for multi-output regression)."""
        if self.name == "multiclass":
            return jnp.asarray(y)
        y = jnp.asarray(y, jnp.result_type(float))
        return y if self.name == "multi_output_regression" else y.reshape(-1, 1)

    def score(self, a: Array, target: Array) -> Array:
        """``metric`` of the decisions on activated outputs ``a`` against ``target``."""
        decision = self.decide(a)
        if self.metric == "r2":
            return metrics.r2_score(decision, jnp.reshape(target, decision.shape))
        return metrics.accuracy(decision, target)


HEADS: dict[str, Head] = {
    "regression": Head("regression", "identity", losses.mse, lambda a: a[..., 0], "r2"),
    "multi_output_regression": Head("multi_output_regression", "identity", losses.mse, lambda a: a, "r2"),
    "binary": Head("binary", "sigmoid", losses.sigmoid_binary_cross_entropy,
                   lambda p: (p[..., 0] > 0.5).astype(jnp.int32), "accuracy"),
    "multiclass": Head("multiclass", "softmax", losses.softmax_cross_entropy, lambda p: jnp.argmax(p, axis=-1), "accuracy"),
}


def head(task: str) -> Head:
    """The `Head` for a task: regression, multi_output_regression, binary, multiclass."""
    if not isinstance(task, str) or task not in HEADS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(HEADS)}")
    return HEADS[task]


def head_for_dataset(task: str, n_classes: int | None) -> Head:
    """The head for a dataset's ``task`` (``"regression"`` or ``"classification"``)."""
    if task == "regression":
        return HEADS["regression"]
    return HEADS["binary" if n_classes == 2 else "multiclass"]


def head_of(loss: "str | Callable | losses.Loss") -> tuple[Head, bool] | None:
    """``(head, on_probabilities)`` for a registered loss, or None (custom losses, and
    ``gaussian_nll``, whose outputs are a mean and a variance).

    ``on_probabilities`` is True for the losses that take activated outputs
    (``cross_entropy`` after a softmax layer, ``binary_cross_entropy`` after a sigmoid):
    their predictions are decided directly; the others' through the head's activation.
    Regression losses report R^2 over every output column.
    """
    value = losses.get(loss).value
    name = _NAME_OF.get(getattr(value, "func", value))
    return None if name is None or name not in _TASK else _TASK[name]


_TASK: dict[str, tuple[Head, bool]] = {
    **{name: (HEADS["multi_output_regression"], False) for name in ("mse", "mae", "huber", "sum_of_squares")},
    "sigmoid_binary_cross_entropy": (HEADS["binary"], False),
    "binary_cross_entropy": (HEADS["binary"], True),
    "softmax_cross_entropy": (HEADS["multiclass"], False),
    "cross_entropy": (HEADS["multiclass"], True),
}
_NAME_OF = {fn: name for name, (fn, _) in losses._REGISTRY.items()}
