"""Learning-rate range test (`jaxnn.optim.lr_finder`) on linear regression."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnn.optim.first_order import sgd
from jaxnn.optim.lr_finder import exponential_sweep, lr_finder, steepest_descent_lr


def mse_loss(params, xb, yb):
    return jnp.mean((xb @ params["W"] + params["b"] - yb) ** 2)


def regression_problem(n=256, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.array([1.0, 2.0, 0.5, 1.5])
    y = x @ rng.normal(size=d) + 1.0 + 0.1 * rng.normal(size=n)
    return jnp.asarray(x), jnp.asarray(y), {"W": jnp.zeros(d), "b": jnp.zeros(())}


def max_curvature(x):
    """L_max: largest Hessian eigenvalue of the full-batch mean squared error."""
    design = np.hstack([np.asarray(x), np.ones((x.shape[0], 1))])
    return 2.0 * np.linalg.eigvalsh(design.T @ design / x.shape[0]).max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggestion_lies_below_divergence_threshold(seed):
    x, y, params = regression_problem()
    result = lr_finder(mse_loss, params, x, y, sgd, key=jax.random.key(seed), min_lr=1e-6,
                       max_lr=10.0, num_steps=200, batch_size=32)
    threshold = 2.0 / max_curvature(x)          # gd on the quadratic diverges above this
    suggestion = float(result.suggestion)
    assert 1e-4 * threshold < suggestion < threshold
    recorded = ~np.isnan(np.asarray(result.losses))
    stop = int(recorded.sum())
    assert 10 < stop < 200 and recorded[:stop].all()      # stopped after diverging
    smoothed = np.asarray(result.smoothed_losses)
    assert smoothed[stop - 1] > 4.0 * np.min(smoothed[: stop - 1])
    assert np.all(smoothed[: stop - 1] <= 4.0 * np.minimum.accumulate(smoothed[: stop - 1]))
    np.testing.assert_allclose(np.asarray(result.learning_rates)[[0, -1]], [1e-6, 10.0],
                               rtol=1e-12)


def test_recorded_curve_is_the_actual_losses():
    """With full batches the sweep is plain gradient descent with lr_t: redo it by hand.

    The sweep sums each batch in a shuffled order, so the two computations differ by
    round-off, which the diverging steps (lr_t > 2 / L_max) multiply by |1 - lr_t L_max|."""
    x, y, params = regression_problem(n=64)
    num_steps, smoothing = 40, 0.2
    result = lr_finder(mse_loss, params, x, y, optax.sgd, key=jax.random.key(1), min_lr=1e-3,
                       max_lr=3.0, num_steps=num_steps, batch_size=64, smoothing=smoothing)
    lrs = 1e-3 * (3.0 / 1e-3) ** (np.arange(num_steps) / (num_steps - 1))
    np.testing.assert_allclose(result.learning_rates, lrs, rtol=1e-13)
    grad_fn = jax.jit(jax.value_and_grad(mse_loss))
    losses, smoothed, average, best = [], [], 0.0, np.inf
    for t in range(num_steps):
        loss, grads = grad_fn(params, x, y)
        loss = float(loss)
        average = (1 - smoothing) * average + smoothing * loss
        losses.append(loss)
        smoothed.append(average / (1 - (1 - smoothing) ** (t + 1)))
        best = min(best, smoothed[-1])
        if smoothed[-1] > 4.0 * best:
            break
        params = jax.tree.map(lambda p, g: p - lrs[t] * g, params, grads)
    stop = len(losses)
    assert stop < num_steps                     # lr reaches 3 > 2 / L_max: it diverges
    growth = np.maximum(1.0, np.abs(1.0 - lrs[:stop] * max_curvature(x)))
    rtol = 1e-13 * np.concatenate([[1.0], np.cumprod(growth)[:-1]])
    assert rtol[-1] > 1e-10                      # the tail really is amplified
    for name, got, want in (("losses", result.losses, losses),
                            ("smoothed", result.smoothed_losses, smoothed)):
        error = np.abs(np.asarray(got[:stop]) - np.asarray(want)) / np.abs(want)
        assert np.all(error <= rtol), (name, error / rtol)
    assert np.all(np.isnan(np.asarray(result.losses[stop:])))
    h, log_lr, s = 5, np.log(lrs[:stop]), np.asarray(smoothed)
    slopes = (s[2 * h:] - s[:-2 * h]) / (log_lr[2 * h:] - log_lr[:-2 * h])
    centres = np.arange(h, stop - h)
    slopes[centres < 10] = np.inf               # skip_start=10
    np.testing.assert_allclose(result.suggestion, lrs[centres[np.argmin(slopes)]], rtol=1e-13)


def test_minibatches_are_drawn_from_the_data():
    """Step t's batch is batch_size distinct examples drawn with fold_in(key, t)."""
    x, y, params = regression_problem(n=50)
    key = jax.random.key(2)
    result = lr_finder(mse_loss, params, x, y, optax.sgd, key=key, num_steps=3, batch_size=5,
                       half_window=1, skip_start=0)
    batch = jax.random.choice(jax.random.fold_in(key, 0), 50, (5,), replace=False)
    assert len(set(np.asarray(batch).tolist())) == 5
    expected = np.mean(np.asarray(y)[np.asarray(batch)] ** 2)     # W = 0, b = 0 at step 0
    np.testing.assert_allclose(result.losses[0], expected, rtol=1e-14)
    assert not np.isclose(expected, np.mean(np.asarray(y) ** 2))


def test_steepest_descent_lr_and_sweep_helpers():
    lrs = exponential_sweep(1e-3, 1e1, 5)(jnp.arange(5))
    np.testing.assert_allclose(lrs, [1e-3, 1e-2, 1e-1, 1.0, 10.0], rtol=1e-12)
    smoothed = jnp.array([5.0, 4.0, 3.0, 2.9, jnp.nan])
    # central slopes over +-1 step (per 2 ln 10): -2.0 at lr 1e-2, -1.1 at 1e-1, NaN at 1
    assert float(steepest_descent_lr(lrs, smoothed, half_window=1)) == pytest.approx(1e-2)
    assert float(steepest_descent_lr(lrs, smoothed, 2, half_window=1)) == pytest.approx(1e-1)
    assert np.isnan(float(steepest_descent_lr(lrs, smoothed, 3, half_window=1)))
    assert np.isnan(float(steepest_descent_lr(lrs, jnp.array([1.0] + [jnp.nan] * 4), 0, 1)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_steps=2), "num_steps must be an int >= 3"),
    (dict(num_steps=9, half_window=5), r"half_window must be an int in \[1, 4\]"),
    (dict(num_steps=20, skip_start=15), r"skip_start must be an int in \[0, 14\]"),
    (dict(batch_size=0), r"batch_size must be an int in \[1, 256\]"),
    (dict(batch_size=300), r"batch_size must be an int in \[1, 256\]"),
    (dict(min_lr=1.0, max_lr=0.1), "need 0 < min_lr < max_lr"),
    (dict(min_lr=0.0), "need 0 < min_lr < max_lr"),
    (dict(smoothing=0.0), r"smoothing must be in \(0, 1\]"),
    (dict(diverge_factor=1.0), "diverge_factor must be > 1"),
])
def test_bad_arguments_raise(kwargs, message):
    x, y, params = regression_problem()
    with pytest.raises(ValueError, match=message):
        lr_finder(mse_loss, params, x, y, sgd, key=jax.random.key(0), **kwargs)


def test_follows_float32_input():
    x, y, params = regression_problem(n=64)
    x, y = x.astype(jnp.float32), y.astype(jnp.float32)
    params = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    result = lr_finder(mse_loss, params, x, y, optax.sgd, key=jax.random.key(0), num_steps=20)
    for name in ("learning_rates", "losses", "smoothed_losses", "suggestion"):
        assert getattr(result, name).dtype == jnp.float32, name
    np.testing.assert_allclose(result.learning_rates[0], 1e-7, rtol=1e-6)


def test_mismatched_data_raises():
    x, y, params = regression_problem()
    with pytest.raises(ValueError, match="share their leading"):
        lr_finder(mse_loss, params, x, y[:-1], sgd, key=jax.random.key(0))
