"""Linear and logistic regression (`jaxnn.linear`) against numpy, scikit-learn and each other."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from jaxnn import models
from jaxnn.linear import (
    LogisticModel, fit_least_squares, fit_least_squares_gd, fit_logistic_regression,
    squared_error_lipschitz, squared_error_objective,
)


def regression_data(n=60, d=4, k=None, seed=0):
    """Well-conditioned: standardized-ish Gaussian features, noisy linear targets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + np.array([1.0, -2.0, 0.5, 3.0])[:d]
    shape = (d,) if k is None else (d, k)
    y = x @ rng.normal(size=shape) + 0.7 + 0.3 * rng.normal(size=(n,) + shape[1:])
    return jnp.asarray(x), jnp.asarray(y)


def standardized(x):
    return (x - x.mean(0)) / x.std(0)


@pytest.fixture(scope="module")
def breast_cancer():
    """Binary, not linearly separable with these 3 standardized features."""
    x, y = load_breast_cancer(return_X_y=True)
    return jnp.asarray(standardized(x[:, [0, 1, 4]])), jnp.asarray(y)


@pytest.fixture(scope="module")
def wine():
    """3 classes, not linearly separable with alcohol and malic acid (standardized)."""
    x, y = load_wine(return_X_y=True)
    return jnp.asarray(standardized(x[:, [0, 1]])), jnp.asarray(y)


# ------------------------------------------------------------------------ least squares

@pytest.mark.parametrize("k", [None, 2])
def test_least_squares_matches_numpy_and_sklearn(k):
    x, y = regression_data(k=k)
    model = fit_least_squares(x, y)
    design = np.hstack([np.asarray(x), np.ones((x.shape[0], 1))])
    coef = np.linalg.lstsq(design, np.asarray(y), rcond=None)[0]
    np.testing.assert_allclose(model.W, coef[:-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.b, coef[-1], rtol=1e-10, atol=1e-12)
    sk = LinearRegression().fit(x, y)
    np.testing.assert_allclose(model.W, sk.coef_.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.b, sk.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.predict(x), sk.predict(x), rtol=1e-10, atol=1e-12)


def test_least_squares_without_intercept_matches_numpy():
    x, y = regression_data()
    model = fit_least_squares(x, y, fit_intercept=False)
    np.testing.assert_allclose(model.W, np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10)
    assert float(model.b) == 0.0


def test_ridge_matches_sklearn_and_normal_equations():
    x, y = regression_data(k=3)
    l2 = 2.5
    model = fit_least_squares(x, y, l2=l2)
    sk = Ridge(alpha=l2).fit(x, y)
    np.testing.assert_allclose(model.W, sk.coef_.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.b, sk.intercept_, rtol=1e-10, atol=1e-12)
    xc, yc = x - x.mean(0), y - y.mean(0)       # (X_c^T X_c + l2 I) W = X_c^T y_c
    expected = np.linalg.solve(xc.T @ xc + l2 * np.eye(4), xc.T @ yc)
    np.testing.assert_allclose(model.W, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("l2, k", [(0.0, None), (1.5, 2)])
def test_gradient_descent_fit_agrees_with_closed_form(l2, k):
    x, y = regression_data(k=k)
    closed = fit_least_squares(x, y, l2=l2)
    model, result = fit_least_squares_gd(x, y, l2=l2, tol=1e-11)
    assert bool(result.converged) and int(result.n_iter) < 10_000
    np.testing.assert_allclose(model.W, closed.W, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(model.b, closed.b, rtol=1e-8, atol=1e-9)
    assert np.all(np.diff(result.history[: int(result.n_iter) + 1]) <= 1e-15)   # 1/L step


def test_gradient_descent_without_intercept():
    x, y = regression_data()
    model, result = fit_least_squares_gd(x, y, fit_intercept=False, tol=1e-11)
    assert bool(result.converged) and float(model.b) == 0.0
    np.testing.assert_allclose(model.W, fit_least_squares(x, y, fit_intercept=False).W,
                               rtol=1e-8, atol=1e-9)


def test_lipschitz_constant_is_largest_hessian_eigenvalue():
    x, y = regression_data(k=2)
    l2 = 0.8
    params = {"W": jnp.zeros((4, 2)), "b": jnp.zeros(2)}
    flat_hessian = jax.jit(jax.hessian(lambda p: squared_error_objective(p, x, y, l2)))(params)
    blocks = [[flat_hessian[r][c].reshape(8 if r == "W" else 2, 8 if c == "W" else 2)
               for c in ("W", "b")] for r in ("W", "b")]
    largest = np.linalg.eigvalsh(np.block(blocks)).max()
    np.testing.assert_allclose(squared_error_lipschitz(x, l2=l2), largest, rtol=1e-12)


def test_lecture_decrease_test_stops_gradient_descent_early():
    x, y = regression_data()
    _, early = fit_least_squares_gd(x, y, f_tol=1e-3)
    n = int(early.n_iter)
    assert bool(early.converged) and float(early.grad_norm) > 1e-10
    assert abs(float(early.history[n - 1] - early.history[n])) < 1e-3


# ------------------------------------------------------------------ logistic regression

def sklearn_unpenalized(x, y):
    return LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x, y)


def test_binary_newton_matches_sklearn(breast_cancer):
    x, y = breast_cancer
    model, result = fit_logistic_regression(x, y, method="newton")
    assert bool(result.converged) and float(result.grad_norm) <= 1e-10
    sk = sklearn_unpenalized(x, y)
    assert model.W.shape == (3,) and model.b.shape == ()
    np.testing.assert_allclose(model.W, sk.coef_[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.b, sk.intercept_[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(x), sk.predict_proba(x)[:, 1], atol=1e-7)
    np.testing.assert_array_equal(model.predict(x), sk.predict(x))


def test_multinomial_newton_matches_sklearn(wine):
    x, y = wine
    model, result = fit_logistic_regression(x, y, method="newton")
    assert bool(result.converged)
    sk = sklearn_unpenalized(x, y)
    np.testing.assert_allclose(model.W.sum(1), 0.0, atol=1e-12)
    np.testing.assert_allclose(model.W, sk.coef_.T, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.b, sk.intercept_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(x), sk.predict_proba(x), atol=1e-7)
    np.testing.assert_array_equal(model.predict(x), sk.predict(x))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["breast_cancer", "wine"])
def test_adam_agrees_with_newton(dataset, request):
    x, y = request.getfixturevalue(dataset)
    newton, _ = fit_logistic_regression(x, y, method="newton")
    adam_model, result = fit_logistic_regression(x, y, method="adam")
    assert bool(result.converged) and result.history.shape == (5001,)
    np.testing.assert_allclose(adam_model.W, newton.W, rtol=0, atol=1e-7)
    np.testing.assert_allclose(adam_model.b, newton.b, rtol=0, atol=1e-7)
    np.testing.assert_allclose(adam_model.predict_proba(x), newton.predict_proba(x), atol=1e-8)


def test_newton_step_is_irls(breast_cancer):
    """One Newton step from 0 is the IRLS weighted least-squares solve
    (X^T S X) w_1 = X^T S z, S = diag(p (1 - p)), z = X w_0 + S^{-1} (y - p)."""
    x, y = breast_cancer
    _, one = fit_logistic_regression(x, y, method="newton", max_iter=1, tol=1e-10)
    design = np.hstack([np.asarray(x), np.ones((x.shape[0], 1))])
    p = np.full(x.shape[0], 0.5)
    s = p * (1 - p)
    z = (np.asarray(y) - p) / s
    w1 = np.linalg.solve(design.T @ (s[:, None] * design), design.T @ (s * z))
    np.testing.assert_allclose(one.x["W"], w1[:-1], rtol=1e-12)
    np.testing.assert_allclose(one.x["b"], w1[-1], rtol=1e-12, atol=1e-14)


def test_fitted_weights_are_a_zero_hidden_layer_mlp(wine, breast_cancer):
    x, y = wine
    model, _ = fit_logistic_regression(x, y)
    net = models.mlp([3])
    np.testing.assert_allclose(net.apply((model._asdict(),), x), model.logits(x), rtol=1e-14)
    xb, yb = breast_cancer
    binary, _ = fit_logistic_regression(xb, yb)
    params = ({"W": binary.W[:, None], "b": binary.b[None]},)
    np.testing.assert_allclose(models.mlp([1]).apply(params, xb)[:, 0], binary.logits(xb),
                               rtol=1e-14)


def test_predict_proba_is_softmax_of_logits():
    model = LogisticModel(W=jnp.array([[1.0, -1.0], [0.5, 2.0]]), b=jnp.array([0.1, -0.1]))
    x = jnp.array([[0.3, -0.2], [1.0, 1.0]])
    z = np.asarray(x) @ np.asarray(model.W) + np.asarray(model.b)
    expected = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-14)
    np.testing.assert_array_equal(model.predict(x), expected.argmax(1))


def test_follows_float32_input():
    x, y = regression_data()
    model = fit_least_squares(x.astype(jnp.float32), y.astype(jnp.float32))
    assert model.W.dtype == jnp.float32 and model.b.dtype == jnp.float32
    np.testing.assert_allclose(model.W, fit_least_squares(x, y).W, rtol=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda x, y: fit_least_squares(x[:, 0], y), r"x must have shape \(N, D\)"),
    (lambda x, y: fit_least_squares(x, y[:-1]), r"y must have shape \(60,\)"),
    (lambda x, y: fit_least_squares(x, y, l2=-1.0), "l2 must be a non-negative"),
    (lambda x, y: fit_logistic_regression(x, (y > 0).astype(int), method="lbfgs"),
     "expected one of newton, adam"),
    (lambda x, y: fit_logistic_regression(x, y), "must be integer class labels"),
    (lambda x, y: fit_logistic_regression(x, jnp.zeros(60, int)), "num_classes >= 2"),
    (lambda x, y: fit_logistic_regression(x, jnp.arange(60) % 3, num_classes=2),
     r"labels in \[0, 2\] and num_classes=2"),
    (lambda x, y: fit_logistic_regression(x, jnp.arange(60) % 3, multinomial=False),
     "multinomial=False needs 2 classes"),
])
def test_bad_input_raises(call, message):
    x, y = regression_data()
    with pytest.raises(ValueError, match=message):
        call(x, y)
