"""Initializers: fans, empirical moments against the variance-scaling formulas, determinism, dtypes, registry."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import initializers as I

KEY = jax.random.key(42)
DENSE = (600, 400)             # 240,000 draws: sample std within ~0.2% of the truth
CONV = (3, 3, 40, 60)          # HWIO, 21,600 draws: fan_in = 360, fan_out = 540


@pytest.mark.parametrize("shape, expected", [
    ((7, 3), (7, 3)),
    ((3, 3, 16, 32), (144, 288)),          # HWIO: receptive field 9
    ((5, 4, 8), (20, 40)),                 # conv1d (k, I, O)
    ((2, 3, 5, 4, 6), (120, 180)),         # conv3d
    ((9,), (9, 9)),
    ((), (1, 1)),
])
def test_fans(shape, expected):
    assert I.fans(shape) == expected
    assert I.fans(list(shape)) == expected


# (initializer, distribution, variance as a function of (fan_in, fan_out))
SCHEMES = {
    "glorot_uniform": (I.glorot_uniform, "uniform", lambda i, o: 2 / (i + o)),
    "glorot_normal": (I.glorot_normal, "normal", lambda i, o: 2 / (i + o)),
    "he_uniform": (I.he_uniform, "uniform", lambda i, o: 2 / i),
    "he_normal": (I.he_normal, "normal", lambda i, o: 2 / i),
    "lecun_uniform": (I.lecun_uniform, "uniform", lambda i, o: 1 / i),
    "lecun_normal": (I.lecun_normal, "normal", lambda i, o: 1 / i),
}


@pytest.mark.parametrize("name", list(SCHEMES))
@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
def test_variance_scaling_empirical_moments(name, shape):
    init, distribution, variance = SCHEMES[name]
    fan_in, fan_out = I.fans(shape)
    std = math.sqrt(variance(fan_in, fan_out))
    w = np.asarray(init(KEY, shape))
    assert w.shape == shape and w.dtype == np.float64
    n = w.size
    # sample std of n iid draws has relative standard error ~ 1/sqrt(2n) (normal), less for uniform
    tolerance = 6 / math.sqrt(2 * n)
    assert abs(w.std() / std - 1) < tolerance, (w.std(), std)
    assert abs(w.mean()) < 6 * std / math.sqrt(n)
    if distribution == "uniform":
        limit = math.sqrt(3) * std          # U(-a, a) has variance a^2 / 3
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > limit * (1 - 20 / n)   # the support really reaches the limit
        # uniform: about 10% of the draws in each tenth of [-a, a]
        hist, _ = np.histogram(w, bins=10, range=(-limit, limit))
        np.testing.assert_allclose(hist / n, 0.1, atol=0.01)
    else:
        # untruncated Gaussian: ~4.55% beyond 2 std, some beyond 3 std
        beyond2 = np.mean(np.abs(w) > 2 * std)
        assert abs(beyond2 - 0.0455) < 0.005, beyond2
        assert np.abs(w).max() > 3 * std


def test_named_limits_match_docstrings():
    fan_in, fan_out = DENSE
    limits = {
        "glorot_uniform": math.sqrt(6 / (fan_in + fan_out)),
        "he_uniform": math.sqrt(6 / fan_in),
        "lecun_uniform": math.sqrt(3 / fan_in),
    }
    for name, limit in limits.items():
        w = np.asarray(I.get(name)(KEY, DENSE))
        assert limit * 0.999 < np.abs(w).max() <= limit, name


def test_aliases():
    assert I.xavier_uniform is I.glorot_uniform and I.xavier_normal is I.glorot_normal
    assert I.kaiming_uniform is I.he_uniform and I.kaiming_normal is I.he_normal


def test_variance_scaling_fan_out_mode():
    init = I.variance_scaling(2.0, "fan_out", "normal")
    w = np.asarray(init(KEY, DENSE))
    np.testing.assert_allclose(w.std(), math.sqrt(2 / DENSE[1]), rtol=0.02)


@pytest.mark.parametrize("mode, distribution", [("fan_sum", "normal"), ("fan_in", "truncated_normal")])
def test_variance_scaling_bad_arguments(mode, distribution):
    with pytest.raises(ValueError, match="fan_sum|truncated_normal"):
        I.variance_scaling(1.0, mode, distribution)


def test_zeros_ones_constant():
    np.testing.assert_array_equal(np.asarray(I.zeros(KEY, (3, 2))), np.zeros((3, 2)))
    np.testing.assert_array_equal(np.asarray(I.ones(KEY, (4,))), np.ones(4))
    np.testing.assert_array_equal(np.asarray(I.constant(0.5)(KEY, (2, 2))), np.full((2, 2), 0.5))
    assert I.zeros(None, (2,)).dtype == jnp.float64  # the key is not needed
    assert I.ones(KEY, (2,), jnp.float32).dtype == jnp.float32


def test_normal_and_uniform_factories():
    w = np.asarray(I.normal(0.3, mean=1.5)(KEY, DENSE))
    np.testing.assert_allclose(w.std(), 0.3, rtol=0.02)
    np.testing.assert_allclose(w.mean(), 1.5, atol=6 * 0.3 / math.sqrt(w.size))
    u = np.asarray(I.uniform(0.2)(KEY, DENSE))
    assert np.abs(u).max() <= 0.2 and np.abs(u).max() > 0.1999
    np.testing.assert_allclose(u.std(), 0.2 / math.sqrt(3), rtol=0.02)
    np.testing.assert_allclose(np.asarray(I.normal()(KEY, DENSE)).std(), 0.01, rtol=0.02)  # default std
    assert np.abs(np.asarray(I.uniform()(KEY, DENSE))).max() <= 0.05                       # default scale
    with pytest.raises(ValueError, match="std"):
        I.normal(-1.0)
    with pytest.raises(ValueError, match="scale"):
        I.uniform(-0.1)


@pytest.mark.parametrize("shape", [(8, 8), (20, 6), (6, 20), (3, 3, 4, 8)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    w = np.asarray(I.orthogonal(gain)(KEY, shape))
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    rows, cols = m.shape
    if rows >= cols:   # orthonormal columns: Q^T Q = gain^2 I
        np.testing.assert_allclose(m.T @ m, gain**2 * np.eye(cols), atol=1e-12)
    else:              # orthonormal rows: Q Q^T = gain^2 I
        np.testing.assert_allclose(m @ m.T, gain**2 * np.eye(rows), atol=1e-12)


def test_orthogonal_is_not_always_the_same_matrix():
    a = np.asarray(I.orthogonal()(jax.random.key(0), (5, 5)))
    b = np.asarray(I.orthogonal()(jax.random.key(1), (5, 5)))
    assert not np.allclose(a, b)


ALL_INITS = {**{name: init for name, (init, _, _) in SCHEMES.items()},
             "normal": I.normal(0.1), "uniform": I.uniform(0.1), "orthogonal": I.orthogonal(),
             "zeros": I.zeros, "ones": I.ones, "constant": I.constant(0.25)}


@pytest.mark.parametrize("name", list(ALL_INITS))
def test_same_key_same_values_different_key_different_values(name):
    init = ALL_INITS[name]
    a, b = init(jax.random.key(7), (6, 4)), init(jax.random.key(7), (6, 4))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if name not in ("zeros", "ones", "constant"):
        c = init(jax.random.key(8), (6, 4))
        assert not np.allclose(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("name", list(ALL_INITS))
def test_float32_by_default_without_x64(name):
    with jax.enable_x64(False):
        w = ALL_INITS[name](jax.random.key(0), (6, 4))
        assert w.dtype == jnp.float32, (name, w.dtype)
    assert ALL_INITS[name](jax.random.key(0), (6, 4)).dtype == jnp.float64  # x64 on: float64
    assert ALL_INITS[name](jax.random.key(0), (6, 4), jnp.float32).dtype == jnp.float32


def test_get_by_name_and_callable():
    for name in ["zeros", "ones", "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
                 "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_normal",
                 "lecun_uniform"]:
        assert callable(I.get(name))
    assert I.get("he_normal") is I.he_normal and I.get("xavier_uniform") is I.glorot_uniform
    custom = I.normal(0.5)
    assert I.get(custom) is custom
    w = np.asarray(I.get("he_normal")(KEY, DENSE))
    np.testing.assert_allclose(w.std(), math.sqrt(2 / DENSE[0]), rtol=0.02)


def test_get_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        I.get("he_uniformm")
    message = str(info.value)
    assert "he_uniformm" in message and "he_uniform'" in message and "glorot_normal" in message
