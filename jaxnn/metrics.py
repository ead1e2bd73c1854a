"""Evaluation metrics as pure ``jax.numpy`` functions.

Every function takes arrays and returns arrays, so it can run inside ``jax.jit`` (pass
``n_classes`` as a static argument where there is one).  Shapes are checked eagerly,
raising ``ValueError``; label ranges are checked only when the arrays are concrete
(outside ``jit``), since a traced value cannot be inspected.

Argument order: ``(pred, target)`` everywhere, the model's output first, as in the losses
(``accuracy(pred, labels)``, ``confusion_matrix(pred, labels, n_classes)``,
``r2_score(pred, target)``, ``log_loss(probabilities, labels)``).  Note that scikit-learn
puts the ground truth first: ``sklearn.metrics.r2_score(target, pred)``.  Each one is
tested against its ``sklearn.metrics`` namesake.

Prediction forms understood by :func:`predicted_labels` (and so by ``accuracy``,
``confusion_matrix`` and ``precision_recall_f1``):

* ``(N, C)`` with ``C > 1``: scores (logits or probabilities), the label is the argmax;
* ``(N,)`` or ``(N, 1)`` of an integer or bool dtype: the labels themselves;
* ``(N,)`` or ``(N, 1)`` of a float dtype: binary scores, label ``1`` where
  ``score > threshold``.  The default ``threshold=0.5`` suits probabilities (sigmoid
  outputs); pass ``threshold=0.0`` for logits.

Label forms: integer class indices ``(N,)`` (or ``(N, 1)``), or one-hot ``(N, C)``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxnn.util import as_numeric, check_number, check_positive_int, is_concrete

__all__ = [
    "predicted_labels", "accuracy", "confusion_matrix", "precision_recall_f1",
    "PrecisionRecallF1", "mean_squared_error", "r2_score", "log_loss",
]

ArrayLike = jax.typing.ArrayLike


def _label_vector(labels: ArrayLike, what: str = "labels") -> Array:
    """Integer class indices ``(N,)`` from indices ``(N,)``/``(N, 1)`` or one-hot ``(N, C)``.

    Float indices are accepted when they are whole numbers (``0.0, 1.0, ...``); concrete ones
    that are not (``0.5``) are a ValueError rather than silently truncated.
    """
    labels = as_numeric(what, labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return jnp.argmax(labels, axis=1)
    if labels.ndim == 2:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{what} must have shape (N,), (N, 1) or one-hot (N, C); "
                         f"got shape {labels.shape}")
    if jnp.issubdtype(labels.dtype, jnp.inexact) and labels.size and is_concrete(labels) \
            and not bool(jnp.all(labels == jnp.round(labels))):
        raise ValueError(f"{what} must be class indices 0..C-1, got non-integer values such as "
                         f"{float(labels[jnp.argmax(labels != jnp.round(labels))])}; for probabilities "
                         "pass them as pred, not as labels")
    return labels.astype(jnp.int32)


def _check_same_length(a: Array, b: Array, a_name: str, b_name: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{a_name} and {b_name} must have the same number of examples; "
                         f"got {a.shape[0]} and {b.shape[0]}")


def _check_label_range(labels: Array, n_classes: int, what: str) -> None:
    """Raise if a concrete label lies outside ``[0, n_classes)``."""
    if labels.size and is_concrete(labels):
        low, high = int(jnp.min(labels)), int(jnp.max(labels))
        if low < 0 or high >= n_classes:
            raise ValueError(f"{what} must lie in [0, {n_classes - 1}] for n_classes="
                             f"{n_classes}; got values in [{low}, {high}]")


def _safe_divide(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator`` where the denominator is positive, else 0
    (scikit-learn's ``zero_division=0``)."""
    positive = denominator > 0
    return jnp.where(positive, numerator / jnp.where(positive, denominator, 1), 0.0)


def predicted_labels(pred: ArrayLike, *, threshold: float = 0.5) -> Array:
    """Class labels ``(N,)`` (int32) from a model's predictions.

    ``pred`` of shape ``(N, C)``, ``C > 1``: ``argmax`` over classes.
    ``pred`` of shape ``(N,)``/``(N, 1)``: integer or bool values are taken as labels;
    float values as binary scores, giving ``1`` where ``pred > threshold``, else ``0``
    (0.5 for probabilities, use 0.0 for logits).
    """
    pred = as_numeric("pred", pred)
    check_number("threshold", threshold)
    if pred.ndim == 2 and pred.shape[1] > 1:
        return jnp.argmax(pred, axis=1).astype(jnp.int32)
    if pred.ndim == 2:
        pred = pred[:, 0]
    if pred.ndim != 1:
        raise ValueError(f"predictions must have shape (N, C), (N, 1) or (N,); "
                         f"got shape {pred.shape}")
    if jnp.issubdtype(pred.dtype, jnp.integer) or pred.dtype == jnp.bool_:
        return pred.astype(jnp.int32)
    return (pred > threshold).astype(jnp.int32)


def accuracy(pred: ArrayLike, labels: ArrayLike, *, threshold: float = 0.5) -> Array:
    """Fraction of correct predictions, ``mean(predicted_labels(pred) == labels)``.

    pred: ``(N, C)`` scores, ``(N,)``/``(N, 1)`` binary scores or integer labels
    (see :func:`predicted_labels`; ``threshold`` applies to float binary scores).
    labels: ``(N,)`` integer labels or ``(N, C)`` one-hot.  Returns a float scalar.
    """
    predicted = predicted_labels(pred, threshold=threshold)
    labels = _label_vector(labels)
    _check_same_length(predicted, labels, "pred", "labels")
    return jnp.mean((predicted == labels).astype(jnp.result_type(float)))


def confusion_matrix(pred: ArrayLike, labels: ArrayLike, n_classes: int, *,
                     threshold: float = 0.5) -> Array:
    """Counts ``M[i, j]`` of examples with true class ``i`` predicted as class ``j``.

    pred: any form of :func:`predicted_labels`; labels: ``(N,)`` or one-hot.
    Returns an int32 array ``(n_classes, n_classes)``: rows are true classes, columns
    predicted classes (scikit-learn's convention); ``M.sum() == N``, ``trace(M)`` counts
    the correct ones.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    labels = _label_vector(labels)
    predicted = predicted_labels(pred, threshold=threshold)
    _check_same_length(predicted, labels, "pred", "labels")
    _check_label_range(labels, n_classes, "labels")
    _check_label_range(predicted, n_classes, "predicted labels")
    counts = jnp.zeros((n_classes, n_classes), dtype=jnp.int32)
    return counts.at[labels, predicted].add(1)


class PrecisionRecallF1(NamedTuple):
    """Per-class scores ``(C,)`` and their unweighted (macro) means."""
    precision: Array   # tp / (tp + fp)
    recall: Array      # tp / (tp + fn)
    f1: Array          # 2 tp / (2 tp + fp + fn), the harmonic mean of the two
    support: Array     # number of true examples of each class, tp + fn
    macro_precision: Array
    macro_recall: Array
    macro_f1: Array


def precision_recall_f1(pred: ArrayLike, labels: ArrayLike, n_classes: int, *,
                        threshold: float = 0.5) -> PrecisionRecallF1:
    """Precision, recall and F1 for each class, and their macro averages.

    With ``M = confusion_matrix(pred, labels, n_classes)``: ``tp = diag(M)``,
    ``tp + fp = M.sum(0)`` (predicted as the class), ``tp + fn = M.sum(1)`` (truly the
    class).  A ratio whose denominator is 0 is 0, as scikit-learn's ``zero_division=0``;
    the macro average is the plain mean over all ``n_classes`` classes.
    """
    counts = confusion_matrix(pred, labels, n_classes, threshold=threshold)
    true_positives = jnp.diag(counts)
    predicted_count = counts.sum(axis=0)
    support = counts.sum(axis=1)
    precision = _safe_divide(true_positives, predicted_count)
    recall = _safe_divide(true_positives, support)
    f1 = _safe_divide(2 * true_positives, predicted_count + support)
    return PrecisionRecallF1(precision, recall, f1, support,
                             precision.mean(), recall.mean(), f1.mean())


def _check_regression_shapes(pred: Array, target: Array) -> None:
    if target.shape != pred.shape:
        raise ValueError(f"pred and target must have the same shape; got "
                         f"{pred.shape} and {target.shape} (reshape one, e.g. "
                         f"pred.reshape(target.shape), rather than broadcast)")
    if target.ndim not in (1, 2) or target.shape[0] == 0:
        raise ValueError(f"target must have shape (N,) or (N, K) with N > 0; "
                         f"got {target.shape}")


def mean_squared_error(pred: ArrayLike, target: ArrayLike) -> Array:
    """``mean((pred - target)**2)`` over all elements.

    pred, target: same shape, ``(N,)`` or ``(N, K)``.  Returns a scalar.
    """
    pred, target = as_numeric("pred", pred), as_numeric("target", target)
    _check_regression_shapes(pred, target)
    return jnp.mean((pred - target) ** 2)


def r2_score(pred: ArrayLike, target: ArrayLike) -> Array:
    """Coefficient of determination ``R² = 1 - SS_res / SS_tot``.

    ``SS_res = Σ (t - p)²``, ``SS_tot = Σ (t - mean(t))²``, per output column; for
    ``(N, K)`` the K scores are averaged (scikit-learn's ``"uniform_average"``).
    A constant target (``SS_tot = 0``) scores 1 if predicted exactly, else 0
    (scikit-learn's ``force_finite=True``).  1 is perfect, 0 is as good as predicting
    the mean, negative is worse.
    """
    pred, target = as_numeric("pred", pred), as_numeric("target", target)
    _check_regression_shapes(pred, target)
    ss_res = jnp.sum((target - pred) ** 2, axis=0)
    ss_tot = jnp.sum((target - jnp.mean(target, axis=0)) ** 2, axis=0)
    ratio = ss_res / jnp.where(ss_tot > 0, ss_tot, 1)
    per_output = jnp.where(ss_tot > 0, 1 - ratio, jnp.where(ss_res == 0, 1.0, 0.0))
    return jnp.mean(per_output)


def log_loss(probabilities: ArrayLike, labels: ArrayLike, eps: float | None = None) -> Array:
    """Mean negative log-likelihood ``-mean_n log p[n, labels[n]]``.

    probabilities: ``(N, C)`` rows of class probabilities, or ``(N,)``/``(N, 1)`` the
    probability of class 1 in a binary problem (class 0 gets ``1 - p``).
    labels: ``(N,)`` integer classes or ``(N, C)`` one-hot.
    Probabilities are clipped to ``[eps, 1 - eps]`` so that ``log 0`` never occurs;
    ``eps`` defaults to the machine epsilon of their dtype, as in scikit-learn.
    """
    labels = _label_vector(labels)
    probabilities = as_numeric("probabilities", probabilities)
    if eps is not None:
        check_number("log_loss: eps", eps, 0, 0.5, high_open=True)
    if not jnp.issubdtype(probabilities.dtype, jnp.floating):
        probabilities = probabilities.astype(jnp.result_type(float))
    if probabilities.ndim == 1:
        probabilities = probabilities[:, None]
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must have shape (N, C), (N, 1) or (N,); "
                         f"got {probabilities.shape}")
    if probabilities.shape[1] == 1:
        probabilities = jnp.concatenate([1 - probabilities, probabilities], axis=1)
    _check_same_length(probabilities, labels, "probabilities", "labels")
    _check_label_range(labels, probabilities.shape[1], "labels")
    eps = float(jnp.finfo(probabilities.dtype).eps) if eps is None else eps
    clipped = jnp.clip(probabilities, eps, 1 - eps)
    picked = jnp.take_along_axis(clipped, labels[:, None], axis=1)[:, 0]
    return -jnp.mean(jnp.log(picked))

