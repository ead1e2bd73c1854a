"""Losses ``loss(pred, target) -> scalar``, their hand gradients, and task heads.

Reductions: ``mse``, ``mae``, ``huber``, ``binary_cross_entropy``,
``sigmoid_binary_cross_entropy`` and ``gaussian_nll`` average over *all* elements (the
PyTorch/Keras convention); ``cross_entropy`` and ``softmax_cross_entropy`` average over
the batch (each example's loss sums over classes); ``sum_of_squares`` is the lectures'
regression loss ``E = 1/2 sum_n ||y_n - t_n||^2``, a sum over everything, whose
gradient is the output delta ``y - t`` (IIT Mandi, "Recall: Error (Loss) Function").

Each loss has its gradient with respect to the predictions written by hand next to it,
``<name>_grad(pred, target)``; the fused ones are the lectures' collapsed deltas:
softmax + cross-entropy on logits gives ``(softmax(z) - t) / N``, sigmoid + binary
cross-entropy gives ``(sigmoid(z) - t) / size``.  `get` returns ``Loss(value, grad)``.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
import numpy as np

from jaxnn.activations import log_softmax, sigmoid, softmax
from jaxnn.util import as_numeric, check_number, is_concrete
from jaxnn.util import is_weight  # noqa: F401  (losses.is_weight kept)


PROBABILITY_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] before the log


class Loss(NamedTuple):
    """A loss ``value(pred, target) -> scalar`` and its hand gradient ``grad(pred, target) -> dL/dpred``."""

    value: Callable[[Array, Array], Array]
    grad: Callable[[Array, Array], Array]


def _numeric_inputs(loss_fn: Callable) -> Callable:
    """``loss_fn`` taking its ``(pred, target)`` as numeric jax arrays: lists and numpy arrays
    are converted, strings and None are a ValueError naming the loss (before any tracing)."""
    name = loss_fn.__name__.removesuffix("_grad")

    @functools.wraps(loss_fn)
    def checked(pred, target, *args, **kwargs):
        return loss_fn(as_numeric(f"{name}: predictions", pred), as_numeric(f"{name}: targets", target),
                       *args, **kwargs)

    return checked


def _check_same_shape(name: str, pred: Array, target: Array) -> None:
    if pred.shape != target.shape:
        hint = (f"; reshape the targets, target.reshape{pred.shape}" if pred.size == target.size else "")
        raise ValueError(f"{name}: predictions {pred.shape} and targets {target.shape} must have the same shape{hint}")


def _check_probabilities(name: str, prob: Array, logits_loss: str) -> None:
    """ValueError when concrete ``prob`` leaves [0, 1]: logits given to a loss on probabilities
    would give a silently wrong (even negative) loss.  Traced values cannot be checked."""
    if is_concrete(prob) and prob.size and not bool(jnp.all((prob >= 0) & (prob <= 1))):
        raise ValueError(f"{name} takes probabilities in [0, 1], got values in [{float(jnp.min(prob)):g}, "
                         f"{float(jnp.max(prob)):g}]; for raw scores (logits) use {logits_loss}")


# --- regression -----------------------------------------------------------------------

@_numeric_inputs
def mse(pred: Array, target: Array) -> Array:
    """Mean squared error ``mean((y - t)^2)`` over all elements."""
    _check_same_shape("mse", pred, target)
    return jnp.mean((pred - target) ** 2)


@_numeric_inputs
def mse_grad(pred: Array, target: Array) -> Array:
    """``2 (y - t) / size``."""
    return 2 * (pred - target) / pred.size


@_numeric_inputs
def mae(pred: Array, target: Array) -> Array:
    """Mean absolute error (L1) ``mean(|y - t|)`` over all elements."""
    _check_same_shape("mae", pred, target)
    return jnp.mean(jnp.abs(pred - target))


@_numeric_inputs
def mae_grad(pred: Array, target: Array) -> Array:
    """``sign(y - t) / size``, with +1 where y = t: the subgradient JAX's autodiff of |.|
    picks at 0 (PyTorch's L1Loss picks 0 there)."""
    return jnp.where(pred >= target, 1.0, -1.0) / pred.size


@_numeric_inputs
def huber(pred: Array, target: Array, delta: float = 1.0) -> Array:
    """Huber loss: ``r^2/2`` for ``|r| <= delta``, else ``delta (|r| - delta/2)``; mean over elements."""
    _check_same_shape("huber", pred, target)
    check_number("huber: delta", delta, 0, low_open=True)
    r = jnp.abs(pred - target)
    return jnp.mean(jnp.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)))


@_numeric_inputs
def huber_grad(pred: Array, target: Array, delta: float = 1.0) -> Array:
    """``clip(y - t, -delta, delta) / size``."""
    check_number("huber: delta", delta, 0, low_open=True)
    return jnp.clip(pred - target, -delta, delta) / pred.size


@_numeric_inputs
def sum_of_squares(pred: Array, target: Array) -> Array:
    """The lectures' ``E = 1/2 sum (y - t)^2`` over every element (no averaging)."""
    _check_same_shape("sum_of_squares", pred, target)
    return 0.5 * jnp.sum((pred - target) ** 2)


@_numeric_inputs
def sum_of_squares_grad(pred: Array, target: Array) -> Array:
    """The output delta ``y - t`` (IIT Mandi, "Output-layer delta: examples")."""
    return pred - target


def _split_mean_log_variance(pred: Array) -> tuple[Array, Array]:
    if pred.shape[-1] % 2:
        raise ValueError(f"gaussian_nll: predictions need an even last axis [mean | log_variance], got {pred.shape}")
    half = pred.shape[-1] // 2
    return pred[..., :half], pred[..., half:]


@_numeric_inputs
def gaussian_nll(pred: Array, target: Array, full: bool = False) -> Array:
    """Gaussian negative log-likelihood with a mean head and a log-variance head.

    ``pred`` is ``[mu | log sigma^2]`` along the last axis (2D outputs for D targets);
    loss ``mean(1/2 (log sigma^2 + (t - mu)^2 / sigma^2))`` over the D-sized elements,
    plus ``1/2 log(2 pi)`` when ``full`` (PyTorch's GaussianNLLLoss convention).
    Predicting the log-variance keeps sigma^2 > 0 with no constraint (aleatoric
    uncertainty: Liverpool, "Limitations of neural networks: data").
    """
    mean, log_var = _split_mean_log_variance(pred)
    _check_same_shape("gaussian_nll (mean head)", mean, target)
    nll = 0.5 * (log_var + (target - mean) ** 2 * jnp.exp(-log_var))
    return jnp.mean(nll) + (0.5 * math.log(2 * math.pi) if full else 0.0)


@_numeric_inputs
def gaussian_nll_grad(pred: Array, target: Array, full: bool = False) -> Array:
    """d/dmu = -(t - mu)/sigma^2 / M; d/dlog sigma^2 = (1 - (t - mu)^2/sigma^2) / (2M), M = target.size."""
    mean, log_var = _split_mean_log_variance(pred)
    inv_var = jnp.exp(-log_var)
    d_mean = -(target - mean) * inv_var / target.size
    d_log_var = 0.5 * (1 - (target - mean) ** 2 * inv_var) / target.size
    return jnp.concatenate([d_mean, d_log_var], axis=-1)


# --- binary classification -------------------------------------------------------------

@_numeric_inputs
def binary_cross_entropy(prob: Array, target: Array) -> Array:
    """``-mean(t log p + (1 - t) log(1 - p))`` on probabilities clipped to [eps, 1 - eps]."""
    _check_same_shape("binary_cross_entropy", prob, target)
    _check_probabilities("binary_cross_entropy", prob, "sigmoid_binary_cross_entropy")
    p = jnp.clip(prob, PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    return -jnp.mean(target * jnp.log(p) + (1 - target) * jnp.log1p(-p))


@_numeric_inputs
def binary_cross_entropy_grad(prob: Array, target: Array) -> Array:
    """``(p - t) / (p (1 - p)) / size`` inside the clip range, 0 where the clip is active."""
    inside = (prob >= PROBABILITY_EPS) & (prob <= 1 - PROBABILITY_EPS)
    p = jnp.clip(prob, PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    return jnp.where(inside, (p - target) / (p * (1 - p)), 0.0) / prob.size


@_numeric_inputs
def sigmoid_binary_cross_entropy(logits: Array, target: Array) -> Array:
    """Binary cross-entropy on logits: ``mean(softplus(z) - t z)``, stable for any |z|.

    ``softplus(z) = logaddexp(0, z)`` never overflows.  (The common rewrite
    ``max(z, 0) + log1p(e^{-|z|})`` is equal in value but its autodiff gradient at
    z = 0 is wrong, because the kinks of max and |.| do not cancel there.)
    """
    _check_same_shape("sigmoid_binary_cross_entropy", logits, target)
    return jnp.mean(jnp.logaddexp(0.0, logits) - target * logits)


@_numeric_inputs
def sigmoid_binary_cross_entropy_grad(logits: Array, target: Array) -> Array:
    """The fused delta ``(sigmoid(z) - t) / size``."""
    return (sigmoid(logits) - target) / logits.size


# --- multiclass classification -------------------------------------------------------------

def check_labels(name: str, labels, n_classes: int) -> None:
    """Raise ValueError unless concrete integer ``labels`` all lie in ``[0, n_classes)``."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers in [0, {n_classes}), got dtype {labels.dtype}; "
                         f"pass one-hot targets for soft labels")
    lo, hi = int(labels.min(initial=0)), int(labels.max(initial=0))
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"{name}: labels must lie in [0, {n_classes}), got values in [{lo}, {hi}]")


def _checked_target(name: str, scores: Array, target: Array) -> Array:
    """Integer labels (N,) in [0, C) or one-hot/soft targets (N, C), else ValueError."""
    if scores.ndim < 1:
        raise ValueError(f"{name}: expected class scores of shape (N, C), got a scalar")
    n_classes = scores.shape[-1]
    if target.shape == scores.shape:
        return target
    if target.shape == scores.shape[:-1]:
        if not jnp.issubdtype(target.dtype, jnp.integer):
            raise ValueError(f"{name}: labels of shape {target.shape} must be integers in [0, {n_classes}), "
                             f"got dtype {target.dtype}; cast whole-number labels with y.astype(int), or pass "
                             f"one-hot targets of shape {scores.shape} for soft labels")
        if is_concrete(target):  # concrete labels: check on the host
            check_labels(name, target, n_classes)
        return target
    raise ValueError(f"{name}: targets must be integer labels of shape {scores.shape[:-1]} or one-hot of shape "
                     f"{scores.shape}, got {target.shape}")


def _as_one_hot(name: str, scores: Array, target: Array) -> Array:
    """Integer labels (N,) -> one-hot (N, C); one-hot/soft targets (N, C) pass through.

    Under jit (no host check) the row of an out-of-range label is NaN, as in `_target_dot`.
    """
    target = _checked_target(name, scores, target)
    if target.shape == scores.shape:
        return target.astype(scores.dtype)
    n_classes = scores.shape[-1]
    one_hot = jax.nn.one_hot(target, n_classes, dtype=scores.dtype)
    if not is_concrete(target):
        in_range = (target >= 0) & (target < n_classes)
        one_hot = jnp.where(in_range[..., None], one_hot, jnp.nan)
    return one_hot


def _target_dot(name: str, values: Array, target: Array) -> Array:
    """``<t_n, v_n> = sum_k t_nk v_nk`` per example: for integer labels simply ``v_n[label_n]``,
    a gather (on XLA:CPU ~10% faster in a whole training step than the one-hot product).
    Under jit (no host check) an out-of-range label, negative ones included, gathers NaN
    (``mode="fill"``), so the loss shows it."""
    target = _checked_target(name, values, target)
    if target.shape == values.shape:
        return jnp.sum(target.astype(values.dtype) * values, axis=-1)
    index = jnp.where(target < 0, values.shape[-1], target)  # out of range too: no wrap-around
    return jnp.take_along_axis(values, index[..., None], axis=-1, mode="fill")[..., 0]


def _floor_at_eps(prob: Array) -> Array:
    # where(), not clip(): clip's autodiff halves the gradient at a tie with its bound, and a
    # saturated softmax gives p = 1.0 exactly.
    return jnp.where(prob >= PROBABILITY_EPS, prob, PROBABILITY_EPS)


@_numeric_inputs
def cross_entropy(prob: Array, target: Array) -> Array:
    """``-1/N sum_n sum_k t_nk log p_nk`` on probabilities floored at eps; labels or one-hot."""
    _check_probabilities("cross_entropy", prob, "softmax_cross_entropy")
    return -jnp.sum(_target_dot("cross_entropy", jnp.log(_floor_at_eps(prob)), target)) / math.prod(prob.shape[:-1])


@_numeric_inputs
def cross_entropy_grad(prob: Array, target: Array) -> Array:
    """``-t / p / N`` where p >= eps, 0 where the floor is active."""
    t = _as_one_hot("cross_entropy", prob, target)
    return jnp.where(prob >= PROBABILITY_EPS, -t / _floor_at_eps(prob), 0.0) / math.prod(prob.shape[:-1])


@_numeric_inputs
def softmax_cross_entropy(logits: Array, target: Array) -> Array:
    """Cross-entropy of ``softmax(z)``: ``1/N sum_n (logsumexp(z_n) - <t_n, z_n>)``.

    Integer labels (N,) or one-hot/soft targets (N, C); log-sum-exp with the max
    subtracted, so logits of 1e4 are fine.
    """
    if logits.ndim < 1:
        raise ValueError("softmax_cross_entropy: expected logits of shape (N, C), got a scalar")
    return -jnp.sum(_target_dot("softmax_cross_entropy", log_softmax(logits), target)) / math.prod(logits.shape[:-1])


@_numeric_inputs
def softmax_cross_entropy_grad(logits: Array, target: Array) -> Array:
    """The fused delta ``(softmax(z) - t) / N`` (IIT Mandi, "Softmax+Cross-Entropy: derivation": y - t).

    For soft targets that do not sum to one it is ``(softmax(z) sum_k t_k - t) / N``.
    """
    t = _as_one_hot("softmax_cross_entropy", logits, target)
    return (softmax(logits) * jnp.sum(t, axis=-1, keepdims=True) - t) / math.prod(logits.shape[:-1])


# --- registry --------------------------------------------------------------------------

_REGISTRY: dict[str, tuple[Callable, Callable]] = {
    "mse": (mse, mse_grad),
    "mae": (mae, mae_grad),
    "huber": (huber, huber_grad),
    "sum_of_squares": (sum_of_squares, sum_of_squares_grad),
    "gaussian_nll": (gaussian_nll, gaussian_nll_grad),
    "binary_cross_entropy": (binary_cross_entropy, binary_cross_entropy_grad),
    "sigmoid_binary_cross_entropy": (sigmoid_binary_cross_entropy, sigmoid_binary_cross_entropy_grad),
    "cross_entropy": (cross_entropy, cross_entropy_grad),
    "softmax_cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_grad),
}
NAMES: tuple[str, ...] = tuple(_REGISTRY)
_BY_FUNCTION = {fn: grad for fn, grad in _REGISTRY.values()}


def get(loss: "str | Callable | Loss", **hyperparameters) -> Loss:
    """``Loss(value, grad)`` for a name (``"mse"``), a registered function (``losses.mse``),
    or a `Loss` pair.  Hyper-parameters bind to both (``get("huber", delta=2.0)``).

    A custom callable that is not registered gets ``jax.grad`` of itself as ``grad``: the
    hand-derived backprop path still differentiates every layer by hand, but not the loss.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in _REGISTRY:
            raise ValueError(f"unknown loss {loss!r}; known: {', '.join(NAMES)}")
        value, grad = _REGISTRY[loss]
    elif callable(loss):
        value = loss
        grad = _BY_FUNCTION.get(loss) or jax.grad(loss)
    else:
        raise ValueError(f"loss must be a name, a function or a Loss, got {type(loss).__name__}")
    if hyperparameters:
        _check_hyperparameters(loss if isinstance(loss, str) else getattr(value, "__name__", "loss"), value,
                               hyperparameters)
        value = functools.partial(value, **hyperparameters)
        grad = functools.partial(grad, **hyperparameters)
    return Loss(value, grad)


def _check_hyperparameters(name: str, value: Callable, hyperparameters: dict) -> None:
    """ValueError naming the keywords ``value(pred, target, ...)`` does not take."""
    try:
        accepted = list(inspect.signature(value).parameters.values())[2:]
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted):
        return
    names = [p.name for p in accepted if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unexpected = sorted(set(hyperparameters) - set(names))
    if unexpected:
        raise ValueError(f"loss {name!r} got unexpected hyper-parameters {unexpected}; it accepts: "
                         f"{names or 'none'}")


# --- regularization --------------------------------------------------------------------

def l2_penalty(params) -> Array:
    """``1/2 sum ||W||^2`` over the weights only (IIT Mandi, "Add L2 regularization (weight decay)": biases are not regularized)."""
    squares = [jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(params) if is_weight(leaf)]
    return 0.5 * sum(squares) if squares else jnp.zeros(())


def l2_penalty_grad(params):
    """``W`` for each weight, 0 for each bias."""
    return jax.tree_util.tree_map(lambda leaf: leaf if is_weight(leaf) else jnp.zeros_like(leaf), params)


# --- heads: one record per task, in jaxnn.heads (re-exported here) ------------------------------

from jaxnn.heads import HEADS, Head, head, head_for_dataset, head_of  # noqa: E402,F401  (heads build on the losses)
