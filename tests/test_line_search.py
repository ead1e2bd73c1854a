"""Line searches (`jaxnn.optim.line_search`): the conditions they promise hold."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.optim.line_search import backtracking, cubic_minimizer, strong_wolfe


def quartic(x):
    """Non-quadratic 1-D-along-p test function with a minimum near x = (1.4, 0.1)."""
    return jnp.sum((x - jnp.array([1.5, 0.0])) ** 4) + jnp.sum(x**2) * 0.1


value_and_grad = jax.value_and_grad(quartic)
X0 = jnp.array([-1.0, 2.0])


def phi_and_slope(x, p, step):
    value, grad = value_and_grad(x + step * p)
    return value, grad @ p


def test_strong_wolfe_conditions_hold_when_unit_step_overshoots():
    value, grad = value_and_grad(X0)
    p = -grad                                     # ||g|| is large, so alpha = 1 overshoots
    c1, c2 = 1e-4, 0.1
    search = jax.jit(lambda: strong_wolfe(value_and_grad, X0, p, value, grad, c1=c1, c2=c2))()
    assert bool(search.success) and float(search.step) < 1.0
    phi, slope = phi_and_slope(X0, p, search.step)
    slope0 = grad @ p
    assert phi <= value + c1 * search.step * slope0
    assert abs(slope) <= -c2 * slope0
    np.testing.assert_allclose(search.value, phi, rtol=1e-14)
    np.testing.assert_allclose(search.grad, value_and_grad(X0 + search.step * p)[1], rtol=1e-14)


def test_strong_wolfe_expands_a_too_short_first_step():
    value, grad = value_and_grad(X0)
    p = -grad
    search = strong_wolfe(value_and_grad, X0, p, value, grad, initial_step=1e-5, c2=0.1)
    assert bool(search.success) and float(search.step) > 1e-5
    _, slope = phi_and_slope(X0, p, search.step)
    assert abs(slope) <= -0.1 * (grad @ p)


def test_backtracking_returns_first_armijo_step_of_the_sequence():
    value, grad = value_and_grad(X0)
    p = -grad
    search = backtracking(value_and_grad, X0, p, value, grad, c1=1e-4, approx_rtol=None)
    steps = 0.5 ** np.arange(50)
    armijo = [float(phi_and_slope(X0, p, s)[0]) <= float(value + 1e-4 * s * (grad @ p))
              for s in steps]
    first = steps[armijo.index(True)]
    assert bool(search.success) and float(search.step) == first
    assert int(search.n_evals) == armijo.index(True) + 1


def test_backtracking_fails_on_ascent_direction():
    value, grad = value_and_grad(X0)
    search = backtracking(value_and_grad, X0, grad, value, grad, max_steps=10)
    assert not bool(search.success) and float(search.step) == 0.0
    assert float(search.value) == float(value)


def test_cubic_minimizer_is_exact_for_a_cubic():
    c = lambda a: (a - 0.3) * (a - 2.0) ** 2 + 1.0        # noqa: E731  local min at a = 2
    dc = jax.grad(c)
    a0, a1 = 1.2, 3.5
    found = cubic_minimizer(a0, c(a0), dc(a0), a1, c(a1), dc(a1))
    np.testing.assert_allclose(found, 2.0, rtol=1e-12)


@jax.custom_jvp
def bumped_bowl(x):
    """8 + |x|^2 / 2 whose computed value at the minimizer is off by +1e-13 (as round-off
    can be), while its gradient x is exact."""
    return 8.0 + 0.5 * x @ x + jnp.where(x @ x == 0.0, 1e-13, 0.0)


@bumped_bowl.defjvp
def _bumped_bowl_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return bumped_bowl(x), x @ dx


def test_approximate_decrease_accepts_step_lost_in_round_off():
    """A true decrease of 1e-14 hidden by a 1e-13 error in f: the exact Armijo test rejects
    the perfect step, Hager-Zhang's slope-based test accepts it."""
    vg = jax.value_and_grad(bumped_bowl)
    x = jnp.array([1e-7, -1e-7])
    value, grad = vg(x)
    exact = backtracking(vg, x, -grad, value, grad, approx_rtol=None, max_steps=1)
    approx = backtracking(vg, x, -grad, value, grad, max_steps=1)
    wolfe = strong_wolfe(vg, x, -grad, value, grad)
    assert not bool(exact.success)
    assert bool(approx.success) and float(approx.step) == 1.0
    assert bool(wolfe.success) and float(wolfe.step) == 1.0
    assert float(jnp.linalg.norm(wolfe.grad)) == 0.0


def test_strong_wolfe_breaks_value_ties_by_slope():
    """Near a minimizer f is flat to round-off (every trial below returns exactly f(x)), so
    comparing values cannot locate the minimum along p; the slopes still do."""
    f = lambda x: jnp.sum(jnp.cosh(x - 1.0)) + 6.0      # noqa: E731  minimum 8 at x = 1
    vg = jax.value_and_grad(f)
    x = 1.0 + jnp.array([4e-8, -2e-8])
    value, grad = vg(x)
    p = -grad
    ties = [float(vg(x + a * p)[0]) == float(value) for a in (0.25, 0.5, 1.0, 1.5)]
    assert all(ties)
    search = strong_wolfe(vg, x, p, value, grad, initial_step=15.0, c2=0.1)
    assert bool(search.success)
    assert abs(float(search.grad @ p)) <= -0.1 * float(grad @ p)
    np.testing.assert_allclose(search.step, 1.0, rtol=0.1)
