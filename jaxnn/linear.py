"""Linear and logistic regression as 0-hidden-layer networks, fitted several ways.

IIT Mandi, "Recap: Regression and Classification", gives ordinary least squares,
``w = (X^T X)^{-1} X^T y``, and multinomial logistic regression,
``P(y = k | x) = softmax(x^T w_k)``, whose parameters "are found using iterative
optimization methods (e.g., gradient descent, Adam, Newton-Raphson etc.)"; Liverpool,
"Example: least squares fitting" and "Gradient descent", fits least squares by gradient
descent. Both models are the network ``z = x @ W + b`` (a ``models.mlp([K])``) with
``W: (D, K)`` -- the notes' ``W`` transposed -- and differ only in the loss:

* least squares: squared error, solved in closed form (`fit_least_squares`, via a stable
  least-squares solver, never an explicit inverse) or by gradient descent
  (`fit_least_squares_gd`);
* logistic regression: sigmoid (binary) or softmax (multinomial) cross-entropy, mean over
  examples, no penalty, fitted by Newton's method (= IRLS for this loss) or by Adam
  (`fit_logistic_regression`).

Fitted models are small NamedTuples of arrays (pytrees) with prediction methods.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxnn import losses
from jaxnn.optim.first_order import adam
from jaxnn.optim.base import apply_updates
from jaxnn.optim.schedules import cosine_decay
from jaxnn.optim.solvers import MinimizeResult, minimize


class LinearModel(NamedTuple):
    """Regression ``y_hat = x @ W + b``.

    W: (D,) for a 1-D target, (D, K) for K targets; b: () or (K,). ``W`` is the lectures'
    weight matrix transposed (batch-first convention).
    """

    W: Array
    b: Array

    def predict(self, x: Array) -> Array:
        """x: (N, D) -> (N,) or (N, K)."""
        return x @ self.W + self.b


class LogisticModel(NamedTuple):
    """Classifier with logits ``z = x @ W + b``.

    Binary: W (D,), b (), ``P(y = 1 | x) = sigmoid(z)``.
    Multinomial over C classes: W (D, C), b (C,), ``P(y = k | x) = softmax(z)_k``; the
    softmax is unchanged by adding one vector to every column, and the fitted model is the
    representative with ``W.sum(1) = 0`` and ``b.sum() = 0`` (as scikit-learn reports it).
    """

    W: Array
    b: Array

    def logits(self, x: Array) -> Array:
        """x: (N, D) -> z: (N,) binary or (N, C) multinomial."""
        return x @ self.W + self.b

    def predict_proba(self, x: Array) -> Array:
        """Binary: (N,) probabilities of class 1. Multinomial: (N, C) class probabilities."""
        z = self.logits(x)
        return jax.nn.sigmoid(z) if self.W.ndim == 1 else jax.nn.softmax(z, axis=-1)

    def predict(self, x: Array) -> Array:
        """Most probable class, (N,) ints."""
        z = self.logits(x)
        return (z > 0).astype(jnp.int32) if self.W.ndim == 1 else jnp.argmax(z, axis=-1)


# ----------------------------------------------------------------------- input checking

def _check_xy(x: Array, y: Array) -> tuple[Array, Array]:
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x must be floating point, got dtype {x.dtype}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have shape ({x.shape[0]},) or ({x.shape[0]}, K) to match x "
                         f"of shape {x.shape}, got {y.shape}")
    return x, y


def _check_l2(l2: float) -> None:
    if not float(l2) >= 0.0:
        raise ValueError(f"l2 must be a non-negative number, got {l2!r}")


# ------------------------------------------------------------------------ least squares

def fit_least_squares(x: Array, y: Array, *, fit_intercept: bool = True,
                      l2: float = 0.0) -> LinearModel:
    """Closed-form (ridge) least squares: argmin_{W,b} ||x W + b - y||^2 + l2 ||W||^2.

    The lectures' normal equations ``W = (X^T X + l2 I)^{-1} X^T y`` are solved without
    forming an inverse (or even ``X^T X``, which squares the condition number): with an
    intercept the columns are centred (then ``b = mean(y) - mean(x) @ W``, the bias being
    unpenalized), and ``W`` is the least-squares solution of the stacked system
    ``[X_c; sqrt(l2) I] W = [y_c; 0]`` by `jnp.linalg.lstsq` (SVD; the minimum-norm
    solution when ``X`` is rank deficient).
    x: (N, D); y: (N,) or (N, K). Returns `LinearModel` with W (D,) or (D, K).
    """
    x, y = _check_xy(x, y)
    _check_l2(l2)
    y = y.astype(x.dtype)
    x_mean = jnp.mean(x, axis=0) if fit_intercept else jnp.zeros(x.shape[1], x.dtype)
    y_mean = jnp.mean(y, axis=0) if fit_intercept else jnp.zeros(y.shape[1:], x.dtype)
    design, target = x - x_mean, y - y_mean
    if l2 > 0:
        n_features = x.shape[1]
        design = jnp.concatenate([design, jnp.sqrt(l2) * jnp.eye(n_features, dtype=x.dtype)])
        target = jnp.concatenate([target, jnp.zeros((n_features,) + y.shape[1:], x.dtype)])
    weights = jnp.linalg.lstsq(design, target)[0]
    return LinearModel(W=weights, b=y_mean - x_mean @ weights)


def squared_error_objective(params: dict, x: Array, y: Array, l2: Array) -> Array:
    """``J(W, b) = (||x W + b - y||^2 + l2 ||W||^2) / N``: the mean squared error per example
    (Liverpool's ``J`` up to the factor 1/2) plus the ridge penalty, same minimizer as
    `fit_least_squares`. params: {"W": (D,) or (D, K), "b": () or (K,)}."""
    residual = x @ params["W"] + params["b"] - y
    return (jnp.sum(residual**2) + l2 * jnp.sum(params["W"] ** 2)) / x.shape[0]


def squared_error_lipschitz(x: Array, *, fit_intercept: bool = True, l2: float = 0.0) -> Array:
    """Largest Hessian eigenvalue ``L`` of `squared_error_objective`:
    ``L = 2 lambda_max(A^T A + l2 P) / N`` with ``A = [x, 1]`` (or ``x``) and ``P`` the
    identity on the weights only. Gradient descent converges for ``lr < 2 / L``."""
    design = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1) \
        if fit_intercept else x
    penalty = jnp.ones(design.shape[1], x.dtype).at[x.shape[1]:].set(0.0) * l2
    gram = design.T @ design + jnp.diag(penalty)
    return 2.0 * jnp.linalg.eigvalsh(gram)[-1] / x.shape[0]


def _objective_without_intercept(params: dict, x: Array, y: Array, l2: Array) -> Array:
    return squared_error_objective({"W": params["W"], "b": jnp.zeros_like(y[0])}, x, y, l2)


def fit_least_squares_gd(x: Array, y: Array, *, fit_intercept: bool = True, l2: float = 0.0,
                         learning_rate: float | None = None, tol: float = 1e-10,
                         f_tol: float = 0.0, max_iter: int = 10_000
                         ) -> tuple[LinearModel, MinimizeResult]:
    """Least squares by gradient descent on `squared_error_objective` from W = 0, b = 0.

    ``minimize(method="gd")``: ``(W, b) <- (W, b) - lr grad J`` until ``||grad J|| <= tol``
    or (Liverpool's convergence test, "Gradient descent: remarks") ``J`` changes by less
    than ``f_tol`` in one iteration (off by
    default: it stops long before the coefficients are accurate). ``learning_rate``
    defaults to ``1 / L`` (`squared_error_lipschitz`), a step that always converges.
    Returns ``(model, result)``; ``result.converged`` says whether the tolerance was met.
    """
    x, y = _check_xy(x, y)
    _check_l2(l2)
    y = y.astype(x.dtype)
    if learning_rate is None:
        learning_rate = 1.0 / squared_error_lipschitz(x, fit_intercept=fit_intercept, l2=l2)
    params = {"W": jnp.zeros(x.shape[1:] + y.shape[1:], x.dtype),
              "b": jnp.zeros(y.shape[1:], x.dtype)}
    if fit_intercept:
        result = minimize(squared_error_objective, params, "gd", args=(x, y, l2), tol=tol,
                          f_tol=f_tol, max_iter=max_iter, learning_rate=learning_rate)
        return LinearModel(**result.x), result
    result = minimize(_objective_without_intercept, {"W": params["W"]}, "gd",
                      args=(x, y, l2), tol=tol, f_tol=f_tol, max_iter=max_iter,
                      learning_rate=learning_rate)
    return LinearModel(W=result.x["W"], b=params["b"]), result


# ------------------------------------------------------------------ logistic regression

def binary_logistic_objective(params: dict, x: Array, y: Array) -> Array:
    """Mean sigmoid cross-entropy ``mean(softplus(z) - y z)`` of ``z = x @ W + b``
    (= ``-mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))``, overflow-free);
    params {"W": (D,), "b": ()}, y: (N,) in {0, 1}. Its gradient is exactly
    ``X^T (sigmoid(z) - y) / N``, also at ``z = 0`` (where Newton starts)."""
    z = x @ params["W"] + params["b"]
    return jnp.mean(jax.nn.softplus(z) - y * z)


def multinomial_logistic_objective(params: dict, x: Array, y: Array) -> Array:
    """Mean softmax cross-entropy of ``z = x @ W + b``; params {"W": (D, C), "b": (C,)},
    y: (N,) integer labels."""
    return losses.softmax_cross_entropy(x @ params["W"] + params["b"], y)


def _reference_class_objective(params: dict, x: Array, y: Array) -> Array:
    """Multinomial loss with class 0's logit pinned to 0 (W: (D, C-1), b: (C-1,)): the same
    model without the softmax's redundant direction, so the Hessian is non-singular."""
    z = x @ params["W"] + params["b"]
    return losses.softmax_cross_entropy(jnp.concatenate([jnp.zeros_like(z[:, :1]), z], 1), y)


def _centred(weights: Array, bias: Array) -> LogisticModel:
    """The sum-to-zero representative of a multinomial model (identical probabilities)."""
    return LogisticModel(W=weights - jnp.mean(weights, axis=1, keepdims=True),
                         b=bias - jnp.mean(bias))


def _adam_fit_impl(objective, num_steps: int, params: dict, args: tuple, learning_rate,
                   tol) -> MinimizeResult:
    """``num_steps`` full-batch Adam steps with a cosine-decayed learning rate, one
    `lax.scan` under jit, reported as a `MinimizeResult` (history: the loss before each
    step, then the final loss)."""
    optimizer = adam(cosine_decay(learning_rate, num_steps))
    value_and_grad = jax.value_and_grad(objective)

    def step(carry, _):
        current, state = carry
        value, grads = value_and_grad(current, *args)
        updates, state = optimizer.update(grads, state, current)
        return (apply_updates(current, updates), state), value

    (final, _), values = jax.lax.scan(step, (params, optimizer.init(params)), None,
                                      length=num_steps)
    value, grads = value_and_grad(final, *args)
    grad_norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
    return MinimizeResult(x=final, fun=value, grad_norm=grad_norm, n_iter=jnp.asarray(num_steps),
                          converged=grad_norm <= tol, history=jnp.append(values, value))


_adam_fit = jax.jit(_adam_fit_impl, static_argnames=("objective", "num_steps"))

LOGISTIC_METHODS = ("newton", "adam")


def _check_logistic_labels(y: Array, n_examples: int, method: str, num_classes: int | None,
                           multinomial: bool | None) -> tuple[int, bool]:
    """Checks ``method`` and the labels y: (N,) integers in ``[0, C)``, ``C >= 2`` (``C`` is
    ``num_classes``, by default ``max(y) + 1``). Returns ``(C, multinomial)``, multinomial
    by default when ``C > 2``."""
    if method not in LOGISTIC_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of "
                         f"{', '.join(LOGISTIC_METHODS)}")
    if y.ndim != 1 or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"y must be integer class labels of shape ({n_examples},), got shape "
                         f"{y.shape} and dtype {y.dtype}")
    classes = int(jnp.max(y)) + 1 if num_classes is None else num_classes
    if classes < 2 or int(jnp.min(y)) < 0 or int(jnp.max(y)) >= classes:
        raise ValueError(f"y must hold labels in [0, num_classes) with num_classes >= 2; got "
                         f"labels in [{int(jnp.min(y))}, {int(jnp.max(y))}] and "
                         f"num_classes={classes}")
    multinomial = classes > 2 if multinomial is None else multinomial
    if not multinomial and classes > 2:
        raise ValueError(f"multinomial=False needs 2 classes, got num_classes={classes}")
    return classes, multinomial


def _minimize_logistic(objective, params: dict, args: tuple, method: str, *, tol: float,
                       max_iter: int, learning_rate: float, num_steps: int) -> MinimizeResult:
    """Minimizes a logistic objective from ``params``.

    ``"newton"``: ``minimize(method="newton")``, at most ``max_iter`` iterations to
    ``||grad|| <= tol``; on the cross-entropy the Newton step is IRLS, a weighted least-squares
    solve with ``H = X^T diag(p(1 - p)) X / N``, ``g = X^T (p - y) / N`` (Bishop, "Pattern
    Recognition and Machine Learning", 2006, sec. 4.3.3). ``"adam"``: `_adam_fit`,
    ``num_steps`` full-batch steps from ``learning_rate`` with cosine decay.
    """
    if method == "newton":
        return minimize(objective, params, "newton", args=args, tol=tol, max_iter=max_iter)
    return _adam_fit(objective, num_steps, params, args, learning_rate, tol)


def _fit_binary_logistic(x: Array, y: Array, method: str,
                         **solver) -> tuple[LogisticModel, MinimizeResult]:
    """Binary fit of `binary_logistic_objective` from W = 0 (D,), b = 0 (); y: (N,) in {0, 1}.
    ``solver``: the options of `_minimize_logistic`."""
    params = {"W": jnp.zeros(x.shape[1], x.dtype), "b": jnp.zeros((), x.dtype)}
    result = _minimize_logistic(binary_logistic_objective, params, (x, y.astype(x.dtype)),
                                method, **solver)
    return LogisticModel(**result.x), result


def _with_reference_class(weights: Array, bias: Array) -> tuple[Array, Array]:
    """W (D, C-1), b (C-1,) of `_reference_class_objective` -> W (D, C), b (C,) with class 0's
    column and entry zero."""
    weights = jnp.concatenate([jnp.zeros((weights.shape[0], 1), weights.dtype), weights], axis=1)
    bias = jnp.concatenate([jnp.zeros(1, bias.dtype), bias])
    return weights, bias


def _fit_multinomial_logistic(x: Array, y: Array, classes: int, method: str,
                              **solver) -> tuple[LogisticModel, MinimizeResult]:
    """Multinomial fit over ``classes`` = C classes from zero, reported as the sum-to-zero
    representative (`_centred`); y: (N,) integer labels.

    Newton fits `_reference_class_objective` (W (D, C-1): class 0's logits pinned to zero,
    since along the softmax's redundant direction ``H`` is singular); Adam fits
    `multinomial_logistic_objective` (W (D, C)). ``solver``: options of `_minimize_logistic`.
    """
    if method == "newton":
        objective, n_free = _reference_class_objective, classes - 1
    else:
        objective, n_free = multinomial_logistic_objective, classes
    params = {"W": jnp.zeros((x.shape[1], n_free), x.dtype), "b": jnp.zeros(n_free, x.dtype)}
    result = _minimize_logistic(objective, params, (x, y), method, **solver)
    weights, bias = result.x["W"], result.x["b"]
    if method == "newton":
        weights, bias = _with_reference_class(weights, bias)
    model = _centred(weights, bias)
    return model, result._replace(x=model._asdict())


def fit_logistic_regression(x: Array, y: Array, *, method: str = "newton",
                            num_classes: int | None = None, multinomial: bool | None = None,
                            tol: float = 1e-10, max_iter: int = 100,
                            learning_rate: float = 0.05, num_steps: int = 5000
                            ) -> tuple[LogisticModel, MinimizeResult]:
    """Unpenalized logistic regression by maximum likelihood (mean cross-entropy).

    Binary (2 classes, unless ``multinomial=True``): ``P(y=1|x) = sigmoid(x @ W + b)``.
    Multinomial (C classes): ``P(y=k|x) = softmax(x @ W + b)_k`` (IIT Mandi, "Classification
    Models"; UMT Lahore, "Logistic Regression", for the binary loss).

    method:
      ``"newton"``: ``minimize(method="newton")`` from zero, ``||grad|| <= tol`` within
        ``max_iter`` iterations. For this loss the Newton step is IRLS (iteratively
        reweighted least squares; Bishop, PRML, sec. 4.3.3): ``H = X^T diag(p(1 - p)) X / N``,
        ``g = X^T (p - y) / N``.
        The multinomial fit pins class 0's logits to zero (the softmax is otherwise
        invariant along one direction, making ``H`` singular), then reports the
        sum-to-zero representative.
      ``"adam"``: ``num_steps`` full-batch steps of ``jaxnn.optim.first_order.adam`` with a
        cosine-decayed learning rate from ``learning_rate``, on the plain network
        parameters from zero; converged when the final ``||grad|| <= tol``.

    x: (N, D) floating (standardized features help Adam); y: (N,) integer labels in
    ``[0, C)``. Returns ``(model, result)`` with ``result`` a `MinimizeResult` of the
    optimisation (for adam: history = loss at each step).
    The maximum-likelihood estimate exists only when the classes are not linearly
    separable; on separable data ``W`` grows without bound and ``converged`` stays False.
    """
    x, y = _check_xy(x, y)
    classes, multinomial = _check_logistic_labels(y, x.shape[0], method, num_classes,
                                                  multinomial)
    solver = dict(tol=tol, max_iter=max_iter, learning_rate=learning_rate, num_steps=num_steps)
    if multinomial:
        return _fit_multinomial_logistic(x, y, classes, method, **solver)
    return _fit_binary_logistic(x, y, method, **solver)
