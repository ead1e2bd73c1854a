"""Full-batch solvers (`jaxnn.optim.solvers.minimize`) against closed forms and optax."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from jaxnn.optim.solvers import damped_cholesky, lbfgs_direction, minimize, _LBFGSMemory
from checks import assert_trees_close


def extended_rosenbrock(x):
    """Moré-Garbow-Hillstrom extended Rosenbrock: independent 2-D pairs, minimum at ones."""
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def standard_start(n):
    return jnp.tile(jnp.array([-1.2, 1.0]), n // 2)


def quadratic(x, a, b):
    return 0.5 * x @ a @ x - b @ x


def random_spd(n, low, high, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = q @ np.diag(np.linspace(low, high, n)) @ q.T
    return jnp.asarray(0.5 * (a + a.T)), jnp.asarray(rng.normal(size=n)), rng


def assert_history_consistent(result, monotone=True):
    n = int(result.n_iter)
    hist = np.asarray(result.history)
    assert np.all(np.isfinite(hist[: n + 1]))
    assert np.all(np.isnan(hist[n + 1:]))
    assert hist[n] == float(result.fun)
    if monotone:   # line searches accept f_new <= f + 1e-6 |f| at most (approximate Wolfe)
        assert np.all(np.diff(hist[: n + 1]) <= 1e-6 * np.abs(hist[:n]))


def check_rosenbrock(method, n):
    x0 = standard_start(n)
    result = minimize(extended_rosenbrock, x0, method, tol=1e-9, max_iter=500)
    assert bool(result.converged)
    assert float(result.grad_norm) <= 1e-9
    np.testing.assert_allclose(result.x, jnp.ones(n), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.history[0], extended_rosenbrock(x0), rtol=1e-14)
    assert_history_consistent(result)
    return result


@pytest.mark.parametrize("method", ["newton", "lbfgs", "cg"])
def test_rosenbrock_2d_reaches_ones(method):
    check_rosenbrock(method, 2)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["newton", "lbfgs", "cg"])
def test_rosenbrock_10d_reaches_ones(method):
    check_rosenbrock(method, 10)


def test_lbfgs_backtracking_option_reaches_ones():
    result = minimize(extended_rosenbrock, standard_start(2), "lbfgs", tol=1e-9,
                      line_search="backtracking")
    assert bool(result.converged)
    np.testing.assert_allclose(result.x, jnp.ones(2), rtol=0, atol=1e-6)
    assert_history_consistent(result)


def test_newton_from_indefinite_hessian():
    x0 = jnp.array([0.0, 1.0])            # Rosenbrock's Hessian is diag(-398, 200) here
    assert jnp.linalg.eigvalsh(jax.jit(jax.hessian(extended_rosenbrock))(x0)).min() < 0
    result = minimize(extended_rosenbrock, x0, "newton", tol=1e-9, max_iter=500)
    assert bool(result.converged)
    np.testing.assert_allclose(result.x, jnp.ones(2), rtol=0, atol=1e-6)
    assert_history_consistent(result)


def test_newton_damping_rises_when_steps_fail():
    """With one line-search trial per iteration, a rejected full step leaves x in place and
    raises tau (Levenberg); the damped, shorter steps still reach the minimizer."""
    result = minimize(extended_rosenbrock, standard_start(2), "newton", tol=1e-9,
                      max_iter=500, max_line_search_steps=1)
    assert bool(result.converged)
    np.testing.assert_allclose(result.x, jnp.ones(2), rtol=0, atol=1e-6)
    history = np.asarray(result.history[: int(result.n_iter) + 1])
    assert np.sum(np.diff(history) == 0.0) > 0          # rejected steps: f unchanged
    assert_history_consistent(result)


def test_damped_cholesky_shift_is_minimal_in_doubling_sequence():
    hess = jnp.array([[2.0, 0.0, 0.0], [0.0, -3.0, 1.0], [0.0, 1.0, 5.0]])
    factor = jax.jit(damped_cholesky)
    chol, tau, ok = factor(hess, jnp.array(0.0))
    assert bool(ok)
    eye = jnp.eye(3)
    np.testing.assert_allclose(chol @ chol.T, hess + tau * eye, rtol=1e-12, atol=1e-12)
    lam_min = float(jnp.linalg.eigvalsh(hess).min())
    assert float(tau) > -lam_min                       # H + tau I positive definite ...
    tau0 = 1e-3 + 3.0                                  # N&W Alg. 3.3: beta - min(diag H)
    assert np.isclose(float(tau), tau0) or float(tau) / 2 <= -lam_min   # ... and tau/2 not
    chol_pd, tau_pd, ok_pd = factor(jnp.eye(3) * 2.0, jnp.array(0.0))
    assert bool(ok_pd) and float(tau_pd) == 0.0


def test_newton_one_step_solves_spd_quadratic():
    a, b, _ = random_spd(6, 0.5, 40.0, seed=1)
    result = minimize(quadratic, jnp.zeros(6), "newton", args=(a, b), tol=1e-10)
    assert int(result.n_iter) == 1 and bool(result.converged)
    np.testing.assert_allclose(result.x, jnp.linalg.solve(a, b), rtol=1e-12, atol=1e-12)


def test_gd_iterates_follow_closed_form():
    """On f = x.Ax/2 - b.x, gd gives x_k - x* = (I - lr A)^k (x0 - x*) exactly."""
    a, b, _ = random_spd(5, 1.0, 2.0, seed=2)
    lr = 0.4
    x_star = jnp.linalg.solve(a, b)
    result = minimize(quadratic, jnp.zeros(5), "gd", args=(a, b), learning_rate=lr,
                      tol=1e-11, f_tol=0.0, max_iter=200)
    assert bool(result.converged) and float(result.grad_norm) <= 1e-11
    np.testing.assert_allclose(result.x, x_star, rtol=0, atol=1e-10)
    assert_history_consistent(result, monotone=False)   # round-off wobble at the minimum
    contraction = jnp.eye(5) - lr * a
    expected, err = [], -x_star
    for _ in range(int(result.n_iter) + 1):
        expected.append(quadratic(x_star + err, a, b))
        err = contraction @ err
    np.testing.assert_allclose(result.history[: int(result.n_iter) + 1], jnp.stack(expected),
                               rtol=1e-12, atol=1e-14)


def test_gd_stops_when_decrease_below_f_tol():
    """Liverpool, "Gradient descent: remarks": declare convergence when the loss decreases by less than 1e-3."""
    a, b, _ = random_spd(5, 0.05, 2.0, seed=3)
    result = minimize(quadratic, jnp.zeros(5), "gd", args=(a, b), learning_rate=0.4,
                      tol=1e-12, f_tol=1e-3, max_iter=500)
    n = int(result.n_iter)
    decreases = -np.diff(np.asarray(result.history[: n + 1]))
    assert bool(result.converged) and 1 < n < 500
    assert float(result.grad_norm) > 1e-12          # stopped by the decrease test
    assert np.all(decreases[:-1] >= 1e-3) and 0.0 <= decreases[-1] < 1e-3


def test_lbfgs_iterates_match_optax():
    """Where both line searches accept the unit step (here: every step), the iterates agree."""
    a, b, rng = random_spd(8, 0.2, 1.5, seed=0)
    x_star = jnp.linalg.solve(a, b)
    x0 = x_star + 0.5 * jnp.asarray(rng.normal(size=8)) / np.sqrt(8)
    f = lambda x: quadratic(x, a, b)  # noqa: E731
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    @jax.jit
    def optax_step(x, state):
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        return optax.apply_updates(x, updates), state

    steps = 12
    x, state, values = x0, opt.init(x0), [f(x0)]
    for _ in range(steps):
        x, state = optax_step(x, state)
        values.append(f(x))
    ours = minimize(f, x0, "lbfgs", tol=1e-300, max_iter=steps)
    assert int(ours.n_iter) == steps
    np.testing.assert_allclose(ours.history, jnp.stack(values), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.x, x, rtol=1e-12, atol=1e-13)


def test_lbfgs_direction_matches_optax_scale_by_lbfgs():
    """The two-loop recursion on the same (s, y) memory as optax gives the same direction."""
    rng = np.random.default_rng(4)
    n, m = 6, 3
    xs = [jnp.asarray(rng.normal(size=n)) for _ in range(5)]
    grad_at = jax.jit(jax.grad(extended_rosenbrock))
    transform = optax.scale_by_lbfgs(memory_size=m)
    optax_update = jax.jit(transform.update)
    direction = jax.jit(lbfgs_direction)
    state = transform.init(xs[0])
    memory = _LBFGSMemory(jnp.zeros((m, n)), jnp.zeros((m, n)), jnp.zeros(m))
    x_prev = None
    for x in xs:
        g = grad_at(x)
        if x_prev is not None:
            s, y = x - x_prev, g - grad_at(x_prev)
            memory = _LBFGSMemory(jnp.concatenate([memory.s[1:], s[None]]),
                                  jnp.concatenate([memory.y[1:], y[None]]),
                                  jnp.concatenate([memory.rho[1:], jnp.array([1.0 / (s @ y)])]))
        theirs, state = optax_update(g, state, x)
        np.testing.assert_allclose(direction(g, memory), -theirs, rtol=1e-11, atol=1e-13)
        x_prev = x


@pytest.mark.slow
def test_lbfgs_rosenbrock_solution_matches_optax():
    x0 = standard_start(2)
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(extended_rosenbrock)

    @jax.jit
    def optax_step(x, state):
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad,
                                    value_fn=extended_rosenbrock)
        return optax.apply_updates(x, updates), state

    x, state = x0, opt.init(x0)
    for _ in range(100):
        x, state = optax_step(x, state)
    ours = minimize(extended_rosenbrock, x0, "lbfgs", tol=1e-10)
    np.testing.assert_allclose(ours.x, x, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.x, jnp.ones(2), rtol=0, atol=1e-9)


def tree_objective(tree, target):
    """A non-quadratic function of a dict of arrays; minimum at tree == target."""
    diff = ravel_pytree(tree)[0] - ravel_pytree(target)[0]
    return jnp.sum(jnp.cosh(diff)) + 0.5 * jnp.sum(diff**2) + jnp.sum(diff[:-1] * diff[1:]) * 0.3


@pytest.mark.parametrize("method", [pytest.param("newton", marks=pytest.mark.slow),
                                    "lbfgs", pytest.param("cg", marks=pytest.mark.slow), "gd"])
def test_pytree_input_matches_raveled_vector(method):
    key_w, key_t = jax.random.split(jax.random.key(5))
    x0 = {"w": jax.random.normal(key_w, (2, 3)), "b": jnp.array([0.5, -1.0])}
    target = {"w": jax.random.normal(key_t, (2, 3)), "b": jnp.array([1.0, 2.0])}
    flat0, unravel = ravel_pytree(x0)
    options = dict(tol=1e-10, max_iter=300, learning_rate=0.3, f_tol=0.0)
    tree_result = minimize(tree_objective, x0, method, args=(target,), **options)
    flat_result = minimize(lambda v, t: tree_objective(unravel(v), t), flat0, method,
                           args=(target,), **options)
    assert bool(tree_result.converged)
    assert int(tree_result.n_iter) == int(flat_result.n_iter)
    assert_trees_close(tree_result.x, unravel(flat_result.x), rtol=1e-12, atol=1e-14)
    assert_trees_close(tree_result.x, target, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tree_result.history, flat_result.history, rtol=1e-13)


def test_follows_input_dtype_float32():
    x0 = jnp.array([-1.2, 1.0], dtype=jnp.float32)
    result = minimize(extended_rosenbrock, x0, "lbfgs", tol=1e-3)
    assert result.x.dtype == jnp.float32 and result.history.dtype == jnp.float32
    assert bool(result.converged)
    np.testing.assert_allclose(result.x, np.ones(2), atol=1e-2)


def test_already_converged_start_takes_no_step():
    result = minimize(extended_rosenbrock, jnp.ones(2), "newton", tol=1e-9, max_iter=500)
    assert int(result.n_iter) == 0 and bool(result.converged)
    assert float(result.fun) == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="adam"), "expected one of gd, newton, lbfgs, cg"),
    (dict(tol=0.0), "tol must be a positive number"),
    (dict(tol=-1.0), "tol must be a positive number"),
    (dict(max_iter=0), "max_iter must be a positive int"),
    (dict(max_iter=2.5), "max_iter must be a positive int"),
    (dict(method="gd", learning_rate=-0.1), "learning_rate must be a positive number"),
    (dict(method="gd", line_search="backtracking"), "fixed learning_rate"),
    (dict(line_search="exact"), "expected one of strong_wolfe, backtracking"),
    (dict(method="cg", line_search="backtracking"), "needs line_search='strong_wolfe'"),
    (dict(c1=0.5, c2=0.1), "0 < c1 < c2 < 1"),
    (dict(memory_size=0), "memory_size must be a positive int"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        minimize(extended_rosenbrock, standard_start(2), **kwargs)


def test_bad_x0_and_fun_raise():
    with pytest.raises(ValueError, match="floating-point"):
        minimize(extended_rosenbrock, jnp.array([1, 2]))
    with pytest.raises(ValueError, match="fun must return a scalar"):
        minimize(lambda x: x**2, jnp.ones(2))
