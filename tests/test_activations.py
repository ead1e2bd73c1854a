"""Activations: hand derivatives vs autodiff, values vs jax.nn / closed forms, stability, registry errors.

Oracles: ``jax.grad`` / ``jax.vjp`` of the library's own ``fn`` (the two gradient paths
must agree), ``jax.grad`` of the independent ``jax.nn`` implementation, and closed forms
computed with numpy / ``math``.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import activations

RTOL = 1e-8
ATOL = 1e-12

# Points where derivatives are checked: 0 (kinks), tiny, moderate, large and huge magnitudes.
POINTS = np.array([0.0, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 7.0, -7.0,
                   50.0, -50.0, 1e4, -1e4])
RANDOM_POINTS = 3 * np.random.default_rng(3).standard_normal(32)

# Every elementwise activation with its hyper-parameter variants.
ELEMENTWISE = [
    ("identity", {}), ("linear", {}), ("relu", {}),
    ("leaky_relu", {}), ("leaky_relu", {"alpha": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}),
    ("gelu", {}), ("gelu", {"approximate": True}), ("gelu", {"approximate": False}),
    ("swish", {}), ("silu", {}), ("softplus", {}), ("sigmoid", {}), ("tanh", {}),
]
LAST_AXIS = ["softmax", "log_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _id(spec):
    name, kw = spec
    return name + "".join(f"-{k}={v}" for k, v in kw.items())


def _jax_nn_reference(name, kw):
    """The independent jax.nn implementation of each elementwise activation."""
    return {
        "identity": lambda z: z,
        "linear": lambda z: z,
        "relu": jax.nn.relu,
        "leaky_relu": lambda z: jax.nn.leaky_relu(z, kw.get("alpha", 0.01)),
        "elu": lambda z: jax.nn.elu(z, kw.get("alpha", 1.0)),
        "selu": jax.nn.selu,
        "gelu": lambda z: jax.nn.gelu(z, approximate=kw.get("approximate", False)),
        "swish": jax.nn.silu,
        "silu": jax.nn.silu,
        "softplus": jax.nn.softplus,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
    }[name]


def test_every_registered_name_is_covered_here():
    covered = {name for name, _ in ELEMENTWISE} | set(LAST_AXIS)
    assert covered == set(activations.NAMES)
    for name in activations.NAMES:
        act = activations.get(name)
        assert (act.derivative is None) == (name in LAST_AXIS), name


# --- derivatives vs autodiff -------------------------------------------------------------

def _check_close(failures, what, actual, expected, rtol=RTOL, atol=ATOL):
    try:
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol, err_msg=what)
    except AssertionError as error:
        failures.append(str(error))


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=_id)
def test_elementwise_against_autodiff_and_jax_nn(spec):
    """One z vector (0, +-1e-3, ..., +-1e4 and random points), four oracles:

    derivative(z) == jax.grad(fn)(z)      (the library's two gradient paths agree)
    derivative(z) == jax.grad(jax.nn.f)(z) (an implementation the library did not write)
    vjp(z, da) == jax.vjp(fn)(da) == da * derivative(z)
    fn(z) == jax.nn.f(z)
    """
    name, kw = spec
    act = activations.get(name, **kw)
    reference = _jax_nn_reference(name, kw)
    z = jnp.asarray(np.concatenate([POINTS, RANDOM_POINTS]))
    da = jnp.asarray(np.random.default_rng(5).standard_normal(z.shape))
    derivative = act.derivative(z)
    assert derivative.shape == z.shape and derivative.dtype == z.dtype
    autodiff = jax.vmap(jax.grad(act.fn))(z)
    # stable at +-50 and +-1e4: no inf, no NaN in the value, the derivative or its autodiff
    for what, value in (("fn", act.fn(z)), ("derivative", derivative), ("jax.grad(fn)", autodiff)):
        assert np.all(np.isfinite(np.asarray(value))), f"{_id(spec)}: {what} not finite at z = {np.asarray(z)}"
    failures = []
    _check_close(failures, f"{_id(spec)}: derivative(z) != jax.grad(fn)(z) at z = {np.asarray(z)}",
                 derivative, autodiff)
    _check_close(failures, f"{_id(spec)}: derivative(z) != jax.grad(jax.nn reference)(z) at z = {np.asarray(z)}",
                 derivative, jax.vmap(jax.grad(reference))(z))
    y, vjp = jax.vjp(act.fn, z)
    _check_close(failures, f"{_id(spec)}: vjp(z, da) != jax.vjp(fn)", act.vjp(z, da), vjp(da)[0])
    _check_close(failures, f"{_id(spec)}: vjp(z, da) != da * derivative(z)", act.vjp(z, da), da * derivative,
                 rtol=0, atol=0)
    _check_close(failures, f"{_id(spec)}: fn(z) != jax.nn reference", y, reference(z))
    assert not failures, "\n".join(failures)


def test_elu_autodiff_at_zero_is_the_true_derivative():
    """ELU with alpha = 1 is continuously differentiable: left and right slopes at 0 are both 1.

    So every gradient path must give exactly 1 there.  (The hand derivative and jax.nn.elu
    do; autodiff of an ``expm1(minimum(z, 0))`` form splits the tie of ``minimum`` and gives 0.5.)
    """
    elu = activations.get("elu")
    assert float(elu.derivative(jnp.array(0.0))) == 1.0
    assert float(jax.grad(jax.nn.elu)(0.0)) == 1.0
    assert float(jax.grad(elu.fn)(jnp.array(0.0))) == 1.0


@pytest.mark.parametrize("name", LAST_AXIS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 4)], ids=str)
def test_last_axis_vjp_equals_jax_vjp(name, shape):
    act = activations.get(name)
    z = jnp.asarray(4 * np.random.default_rng(7).standard_normal(shape))
    da = jnp.asarray(np.random.default_rng(8).standard_normal(shape))
    _, vjp = jax.vjp(act.fn, z)
    np.testing.assert_allclose(np.asarray(act.vjp(z, da)), np.asarray(vjp(da)[0]), rtol=RTOL, atol=ATOL)
    # and against the independent jax.nn implementation
    _, vjp_nn = jax.vjp(getattr(jax.nn, name), z)
    np.testing.assert_allclose(np.asarray(act.vjp(z, da)), np.asarray(vjp_nn(da)[0]), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", LAST_AXIS)
def test_last_axis_vjp_at_huge_logits(name):
    act = activations.get(name)
    z = jnp.array([[1e4, 0.0, -1e4], [1e4, 1e4, -50.0], [0.0, 1e-3, -1e-3]])
    da = jnp.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.25], [-1.0, 2.0, 0.5]])
    got = act.vjp(z, da)
    assert np.all(np.isfinite(np.asarray(got)))
    _, vjp_nn = jax.vjp(getattr(jax.nn, name), z)
    np.testing.assert_allclose(np.asarray(got), np.asarray(vjp_nn(da)[0]), rtol=RTOL, atol=ATOL)


def test_softmax_vjp_closed_form_jacobian():
    """ds_i/dz_j = s_i (delta_ij - s_j): the full Jacobian applied to da, in numpy."""
    z = np.array([0.2, -1.3, 2.0, 0.7])
    da = np.array([1.0, -0.5, 0.25, 2.0])
    s = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    jacobian = np.diag(s) - np.outer(s, s)
    got = activations.softmax_vjp(jnp.asarray(z)[None], jnp.asarray(da)[None])[0]
    np.testing.assert_allclose(np.asarray(got), jacobian.T @ da, rtol=RTOL, atol=ATOL)
    # log_softmax: d log s_i / dz_j = delta_ij - s_j
    got = activations.log_softmax_vjp(jnp.asarray(z)[None], jnp.asarray(da)[None])[0]
    np.testing.assert_allclose(np.asarray(got), (np.eye(4) - s[None, :]).T @ da, rtol=RTOL, atol=ATOL)


# --- values ------------------------------------------------------------------------------

def _closed_forms():
    """Scalar closed forms written from the papers' formulas with ``math``."""
    sig = lambda z: 1 / (1 + math.exp(-z))
    return {
        ("relu", ()): lambda z: max(z, 0.0),
        ("leaky_relu", (("alpha", 0.2),)): lambda z: z if z >= 0 else 0.2 * z,
        ("leaky_relu", ()): lambda z: z if z >= 0 else 0.01 * z,
        ("elu", (("alpha", 0.5),)): lambda z: z if z > 0 else 0.5 * (math.exp(z) - 1),
        ("selu", ()): lambda z: 1.0507009873554805 * (z if z > 0 else 1.6732632423543772 * (math.exp(z) - 1)),
        ("gelu", ()): lambda z: 0.5 * z * (1 + math.erf(z / math.sqrt(2))),
        ("gelu", (("approximate", True),)): lambda z: 0.5 * z * (
            1 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
        ("swish", ()): lambda z: z * sig(z),
        ("softplus", ()): lambda z: math.log1p(math.exp(z)),
        ("sigmoid", ()): sig,
        ("tanh", ()): math.tanh,
    }


@pytest.mark.parametrize("key", list(_closed_forms()), ids=lambda k: k[0] + str(dict(k[1])))
def test_values_equal_closed_forms(key):
    name, kw = key
    formula = _closed_forms()[key]
    z = np.array([-7.0, -2.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.5, 7.0, 20.0])
    expected = np.array([formula(float(v)) for v in z])
    got = np.asarray(activations.get(name, **dict(kw)).fn(jnp.asarray(z)))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_selu_constants_and_self_normalizing_fixed_point():
    np.testing.assert_allclose(activations._SELU_ALPHA, 1.6732632423543772, rtol=1e-15)
    np.testing.assert_allclose(activations._SELU_SCALE, 1.0507009873554805, rtol=1e-15)
    # the defining property (Klambauer et al. 2017): z ~ N(0, 1) => E[selu(z)] = 0, E[selu(z)^2] = 1
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()
    a = np.asarray(activations.selu(jnp.asarray(nodes)))
    # Gauss-Hermite on a kinked integrand: a few 1e-4 accurate
    assert abs(np.sum(weights * a)) < 1e-3
    assert abs(np.sum(weights * a**2) - 1) < 1e-3


def test_gelu_exact_and_approximate_differ_but_are_close():
    z = jnp.linspace(-4, 4, 81)
    exact = activations.gelu(z)
    approx = activations.gelu(z, approximate=True)
    diff = np.abs(np.asarray(exact - approx))
    assert 1e-5 < diff.max() < 1e-3  # the tanh form is a close but distinct approximation
    np.testing.assert_allclose(np.asarray(activations.get("gelu").fn(z)), np.asarray(exact), rtol=0, atol=0)
    np.testing.assert_allclose(np.asarray(activations.get("gelu", approximate=True).fn(z)), np.asarray(approx),
                               rtol=0, atol=0)


def test_swish_is_silu_and_z_sigmoid():
    z = jnp.asarray(RANDOM_POINTS)
    swish, silu = activations.get("swish"), activations.get("silu")
    np.testing.assert_array_equal(np.asarray(swish.fn(z)), np.asarray(silu.fn(z)))
    np.testing.assert_allclose(np.asarray(swish.fn(z)), np.asarray(z / (1 + jnp.exp(-z))), rtol=1e-13)
    np.testing.assert_array_equal(np.asarray(swish.derivative(z)), np.asarray(silu.derivative(z)))


def test_softplus_is_log1p_exp_and_its_derivative_is_sigmoid():
    z = np.concatenate([np.linspace(-30, 30, 31), RANDOM_POINTS[:16]])
    got = np.asarray(activations.softplus(jnp.asarray(z)))
    np.testing.assert_allclose(got, np.log1p(np.exp(z)), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(activations.d_softplus(jnp.asarray(z))), 1 / (1 + np.exp(-z)),
                               rtol=1e-13)


@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)], ids=str)
def test_softmax_and_log_softmax_values(shape):
    z = 3 * np.random.default_rng(11).standard_normal(shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    expected = e / e.sum(axis=-1, keepdims=True)
    s = np.asarray(activations.softmax(jnp.asarray(z)))
    np.testing.assert_allclose(s, expected, rtol=1e-13)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(activations.log_softmax(jnp.asarray(z))), np.log(expected),
                               rtol=1e-12, atol=1e-14)


# --- numerical stability ---------------------------------------------------------------------

HUGE = jnp.array([-1e4, -50.0, 0.0, 50.0, 1e4])


def test_sigmoid_and_softplus_limits_at_huge_inputs():
    s = np.asarray(activations.sigmoid(HUGE))
    np.testing.assert_array_equal(s[[0, 2, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(s[1], math.exp(-50) / (1 + math.exp(-50)), rtol=1e-14)  # not rounded to 0
    np.testing.assert_allclose(s[3], 1 / (1 + math.exp(-50)), rtol=1e-15)
    sp = np.asarray(activations.softplus(HUGE))
    np.testing.assert_allclose(sp, [0.0, math.log1p(math.exp(-50)), math.log(2), 50.0, 1e4], rtol=1e-14, atol=0)
    np.testing.assert_array_equal(np.asarray(activations.d_sigmoid(HUGE))[[0, 4]], [0.0, 0.0])


def test_softmax_of_huge_logits_is_correct():
    z = jnp.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [1e4 + 1.0, 1e4, 1e4 - 2.0], [-1e4, -1e4 + 3.0, -1e4]])
    s = np.asarray(activations.softmax(z))
    assert np.all(np.isfinite(s))
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(s[1], [1 / 3] * 3, rtol=1e-15)
    # shift invariance: softmax(z + c) = softmax(z)
    for row, offsets in ((2, [1.0, 0.0, -2.0]), (3, [0.0, 3.0, 0.0])):
        e = np.exp(np.array(offsets) - max(offsets))
        np.testing.assert_allclose(s[row], e / e.sum(), rtol=1e-12)
    ls = np.asarray(activations.log_softmax(z))
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(ls[0], [0.0, -1e4, -2e4], rtol=1e-15, atol=0)
    np.testing.assert_allclose(ls[1], [-math.log(3)] * 3, rtol=1e-14)


def test_float32_default_is_stable_at_huge_inputs():
    with jax.enable_x64(False):
        z = jnp.array([-1e4, -88.0, 0.0, 88.0, 1e4], jnp.float32)
        for name in ("sigmoid", "softplus", "swish"):
            act = activations.get(name)
            a, d = act.fn(z), act.derivative(z)
            assert a.dtype == jnp.float32 and d.dtype == jnp.float32, name
            assert np.all(np.isfinite(np.asarray(a))) and np.all(np.isfinite(np.asarray(d))), name
        s = activations.softmax(jnp.array([[1e4, 0.0, -1e4]], jnp.float32))
        assert s.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(s), [[1.0, 0.0, 0.0]])


# --- registry and errors ---------------------------------------------------------------------

def test_hyperparameters_are_bound():
    z = jnp.array([-2.0, 3.0])
    np.testing.assert_allclose(np.asarray(activations.get("leaky_relu", alpha=0.2).fn(z)), [-0.4, 3.0])
    np.testing.assert_allclose(np.asarray(activations.get("leaky_relu", alpha=0.2).derivative(z)), [0.2, 1.0])
    np.testing.assert_allclose(np.asarray(activations.get("elu", alpha=0.5).fn(z)),
                               [0.5 * math.expm1(-2.0), 3.0], rtol=1e-15)
    np.testing.assert_allclose(np.asarray(activations.get("elu", alpha=0.5).derivative(z)),
                               [0.5 * math.exp(-2.0), 1.0], rtol=1e-15)


def test_unknown_name_raises_listing_the_known_names():
    with pytest.raises(ValueError) as info:
        activations.get("relu6")
    message = str(info.value)
    assert "relu6" in message
    for name in activations.NAMES:
        assert name in message


@pytest.mark.parametrize("name, kw", [("relu", {"alpha": 0.1}), ("leaky_relu", {"beta": 1.0}),
                                      ("gelu", {"alpha": 1.0}), ("softmax", {"axis": 0}),
                                      ("elu", {"approximate": True})])
def test_unexpected_hyperparameter_raises(name, kw):
    with pytest.raises(ValueError) as info:
        activations.get(name, **kw)
    message = str(info.value)
    assert name in message and list(kw)[0] in message
