"""Losses: values against numpy / optax / PyTorch, documented reductions, hand gradients vs jax.grad,
stability at huge logits, label handling, L2 penalty, registry and task heads."""
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnn import losses

RTOL = 1e-8
ATOL = 1e-12

rng = np.random.default_rng(0)
N, K = 4, 3
PRED = rng.standard_normal((N, K)) * 2           # regression predictions / logits
TARGET = rng.standard_normal((N, K))
PROB = rng.uniform(0.05, 0.95, (N, K))           # probabilities strictly inside (0, 1)
BINARY = rng.integers(0, 2, (N, K)).astype(float)
LABELS = np.array([0, 2, 1, 2])
ONE_HOT = np.eye(K)[LABELS]
SIMPLEX = rng.dirichlet(np.ones(K), N)           # softmax-like probabilities, rows sum to 1
MEAN_LOGVAR = rng.standard_normal((N, 2 * K))     # [mu | log sigma^2]


def torch_or_skip():
    return pytest.importorskip("torch")


def close(actual, expected, rtol=RTOL, atol=ATOL, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol, err_msg=what)


# --- values against independent formulas -------------------------------------------------------

def test_mse_mae_sum_of_squares_values_and_reductions():
    y, t = jnp.asarray(PRED), jnp.asarray(TARGET)
    r = PRED - TARGET
    close(losses.mse(y, t), np.sum(r**2) / (N * K))          # mean over ALL elements, not the batch
    close(losses.mse(y, t), optax.squared_error(y, t).mean())
    close(losses.mae(y, t), np.sum(np.abs(r)) / (N * K))
    close(losses.sum_of_squares(y, t), 0.5 * np.sum(r**2))    # 1/2 sum over everything
    assert not np.isclose(float(losses.mse(y, t)), np.sum(r**2) / N)


def test_regression_values_against_torch():
    torch = torch_or_skip()
    F = torch.nn.functional
    y, t = torch.tensor(PRED), torch.tensor(TARGET)
    close(losses.mse(jnp.asarray(PRED), jnp.asarray(TARGET)), F.mse_loss(y, t).item())
    close(losses.mae(jnp.asarray(PRED), jnp.asarray(TARGET)), F.l1_loss(y, t).item())
    for delta in (1.0, 0.5, 2.0):
        close(losses.huber(jnp.asarray(PRED), jnp.asarray(TARGET), delta),
              F.huber_loss(y, t, delta=delta).item())


@pytest.mark.parametrize("delta", [1.0, 0.5, 2.0])
def test_huber_against_optax_and_formula(delta):
    y, t = jnp.asarray(PRED), jnp.asarray(TARGET)
    r = np.abs(PRED - TARGET)
    assert np.any(r <= delta) and np.any(r > delta)  # both branches are exercised
    formula = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)).mean()
    close(losses.huber(y, t, delta), formula)
    close(losses.huber(y, t, delta=delta), optax.huber_loss(y, t, delta=delta).mean())


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_against_formula_and_torch(full):
    mu, log_var = MEAN_LOGVAR[:, :K], MEAN_LOGVAR[:, K:]
    formula = np.mean(0.5 * (log_var + (TARGET - mu) ** 2 / np.exp(log_var)))
    formula += 0.5 * math.log(2 * math.pi) if full else 0.0
    value = losses.gaussian_nll(jnp.asarray(MEAN_LOGVAR), jnp.asarray(TARGET), full=full)
    close(value, formula)
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.gaussian_nll_loss(torch.tensor(mu), torch.tensor(TARGET),
                                                     torch.tensor(np.exp(log_var)), full=full)
    close(value, expected.item())


def test_binary_cross_entropy_values():
    p, t = jnp.asarray(PROB), jnp.asarray(BINARY)
    formula = -np.mean(BINARY * np.log(PROB) + (1 - BINARY) * np.log(1 - PROB))
    close(losses.binary_cross_entropy(p, t), formula)
    # soft targets too
    soft = np.random.default_rng(1).uniform(0, 1, (N, K))
    close(losses.binary_cross_entropy(p, jnp.asarray(soft)),
          -np.mean(soft * np.log(PROB) + (1 - soft) * np.log(1 - PROB)))
    torch = pytest.importorskip("torch")
    close(losses.binary_cross_entropy(p, t),
          torch.nn.functional.binary_cross_entropy(torch.tensor(PROB), torch.tensor(BINARY)).item())


def test_binary_cross_entropy_clips_probabilities_0_and_1():
    p = jnp.array([[0.0, 1.0, 0.0, 1.0]])
    t = jnp.array([[0.0, 1.0, 1.0, 0.0]])
    value = float(losses.binary_cross_entropy(p, t))
    eps = losses.PROBABILITY_EPS
    # two perfect predictions cost -log(1 - eps), two totally wrong ones -log(eps)
    close(value, (2 * -math.log1p(-eps) + 2 * -math.log(eps)) / 4, rtol=1e-6)
    g = np.asarray(losses.binary_cross_entropy_grad(p, t))
    np.testing.assert_array_equal(g, np.zeros((1, 4)))  # clip active: no gradient
    close(g, jax.grad(losses.binary_cross_entropy)(p, t))


def test_sigmoid_binary_cross_entropy_values():
    z, t = jnp.asarray(PRED), jnp.asarray(BINARY)
    close(losses.sigmoid_binary_cross_entropy(z, t), optax.sigmoid_binary_cross_entropy(z, t).mean())
    s = 1 / (1 + np.exp(-PRED))
    close(losses.sigmoid_binary_cross_entropy(z, t), -np.mean(BINARY * np.log(s) + (1 - BINARY) * np.log(1 - s)))
    # equals binary_cross_entropy of the sigmoid (away from the clip)
    close(losses.sigmoid_binary_cross_entropy(z, t), losses.binary_cross_entropy(jax.nn.sigmoid(z), t))
    torch = pytest.importorskip("torch")
    close(losses.sigmoid_binary_cross_entropy(z, t),
          torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(PRED), torch.tensor(BINARY)).item())


def test_cross_entropy_values():
    p = jnp.asarray(SIMPLEX)
    formula = -np.sum(ONE_HOT * np.log(SIMPLEX)) / N            # sum over classes, mean over the batch
    close(losses.cross_entropy(p, jnp.asarray(LABELS)), formula)
    close(losses.cross_entropy(p, jnp.asarray(ONE_HOT)), formula)
    torch = pytest.importorskip("torch")
    close(losses.cross_entropy(p, jnp.asarray(LABELS)),
          torch.nn.functional.nll_loss(torch.log(torch.tensor(SIMPLEX)), torch.tensor(LABELS)).item())


def test_softmax_cross_entropy_values():
    z = jnp.asarray(PRED)
    expected = optax.softmax_cross_entropy_with_integer_labels(z, jnp.asarray(LABELS)).mean()
    close(losses.softmax_cross_entropy(z, jnp.asarray(LABELS)), expected)
    close(losses.softmax_cross_entropy(z, jnp.asarray(ONE_HOT)), optax.softmax_cross_entropy(z, ONE_HOT).mean())
    close(losses.softmax_cross_entropy(z, jnp.asarray(LABELS)), losses.softmax_cross_entropy(z, jnp.asarray(ONE_HOT)))
    # soft targets
    close(losses.softmax_cross_entropy(z, jnp.asarray(SIMPLEX)), optax.softmax_cross_entropy(z, SIMPLEX).mean())
    # the lectures' formula with numpy
    log_s = PRED - PRED.max(1, keepdims=True)
    log_s = log_s - np.log(np.exp(log_s).sum(1, keepdims=True))
    close(losses.softmax_cross_entropy(z, jnp.asarray(LABELS)), -np.sum(ONE_HOT * log_s) / N)
    torch = pytest.importorskip("torch")
    close(losses.softmax_cross_entropy(z, jnp.asarray(LABELS)),
          torch.nn.functional.cross_entropy(torch.tensor(PRED), torch.tensor(LABELS)).item())


def test_softmax_cross_entropy_on_sequences_averages_over_all_leading_axes():
    r = np.random.default_rng(2)
    z = r.standard_normal((2, 3, 4))
    labels = r.integers(0, 4, (2, 3))
    close(losses.softmax_cross_entropy(jnp.asarray(z), jnp.asarray(labels)),
          optax.softmax_cross_entropy_with_integer_labels(z, labels).mean())
    close(losses.cross_entropy(jax.nn.softmax(z), jnp.asarray(labels)),
          optax.softmax_cross_entropy_with_integer_labels(z, labels).mean())


# --- hand gradients vs jax.grad ----------------------------------------------------------------

GRAD_CASES = {
    "mse": (losses.mse, losses.mse_grad, PRED, TARGET, {}),
    "mae": (losses.mae, losses.mae_grad, PRED, TARGET, {}),
    "huber": (losses.huber, losses.huber_grad, PRED, TARGET, {}),
    "huber-0.5": (losses.huber, losses.huber_grad, PRED, TARGET, {"delta": 0.5}),
    "sum_of_squares": (losses.sum_of_squares, losses.sum_of_squares_grad, PRED, TARGET, {}),
    "gaussian_nll": (losses.gaussian_nll, losses.gaussian_nll_grad, MEAN_LOGVAR, TARGET, {}),
    "gaussian_nll-full": (losses.gaussian_nll, losses.gaussian_nll_grad, MEAN_LOGVAR, TARGET, {"full": True}),
    "binary_cross_entropy": (losses.binary_cross_entropy, losses.binary_cross_entropy_grad, PROB, BINARY, {}),
    "sigmoid_binary_cross_entropy": (losses.sigmoid_binary_cross_entropy,
                                     losses.sigmoid_binary_cross_entropy_grad, PRED, BINARY, {}),
    "cross_entropy-labels": (losses.cross_entropy, losses.cross_entropy_grad, SIMPLEX, LABELS, {}),
    "cross_entropy-onehot": (losses.cross_entropy, losses.cross_entropy_grad, SIMPLEX, ONE_HOT, {}),
    "softmax_cross_entropy-labels": (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad,
                                     PRED, LABELS, {}),
    "softmax_cross_entropy-onehot": (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad,
                                     PRED, ONE_HOT, {}),
    "softmax_cross_entropy-soft": (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad,
                                   PRED, 2 * SIMPLEX, {}),  # soft targets that sum to 2
}


def test_every_registered_loss_has_a_gradient_case():
    assert {name.split("-")[0] for name in GRAD_CASES} == set(losses.NAMES)


@pytest.mark.parametrize("case", list(GRAD_CASES))
@pytest.mark.parametrize("batch", [1, N])
def test_hand_gradient_equals_jax_grad(case, batch):
    value, grad, pred, target, kw = GRAD_CASES[case]
    pred, target = jnp.asarray(pred[:batch]), jnp.asarray(target[:batch])
    expected = jax.grad(lambda y: value(y, target, **kw))(pred)
    got = grad(pred, target, **kw)
    assert got.shape == pred.shape
    close(got, expected, what=case)
    registered = losses.get(case.split("-")[0], **kw)  # the registry binds the same pair
    close(registered.value(pred, target), value(pred, target, **kw), rtol=0, atol=0)
    close(registered.grad(pred, target), got, rtol=0, atol=0)


def test_fused_deltas_in_closed_form():
    """IIT Mandi, "Softmax+Cross-Entropy: derivation": softmax + CE gives (y - t) per example; here averaged: (softmax(z) - t)/N."""
    e = np.exp(PRED - PRED.max(1, keepdims=True))
    softmax = e / e.sum(1, keepdims=True)
    close(losses.softmax_cross_entropy_grad(jnp.asarray(PRED), jnp.asarray(LABELS)), (softmax - ONE_HOT) / N)
    sigmoid = 1 / (1 + np.exp(-PRED))
    close(losses.sigmoid_binary_cross_entropy_grad(jnp.asarray(PRED), jnp.asarray(BINARY)),
          (sigmoid - BINARY) / (N * K))
    close(losses.sum_of_squares_grad(jnp.asarray(PRED), jnp.asarray(TARGET)), PRED - TARGET, rtol=0, atol=0)
    close(losses.mse_grad(jnp.asarray(PRED), jnp.asarray(TARGET)), 2 * (PRED - TARGET) / (N * K))
    # soft targets that do not sum to one: (softmax(z) sum_k t_k - t)/N
    t = 2 * SIMPLEX
    close(losses.softmax_cross_entropy_grad(jnp.asarray(PRED), jnp.asarray(t)), (softmax * 2 - t) / N)


def test_sigmoid_binary_cross_entropy_gradient_at_zero_logits():
    """Zero logits are common (a zero-initialized logistic regression): sigma(0) = 1/2, so the
    gradient is (1/2 - t)/size on both gradient paths."""
    z = jnp.zeros((2, 2))
    t = jnp.array([[1.0, 0.0], [0.5, 1.0]])
    expected = (0.5 - np.asarray(t)) / 4
    close(losses.sigmoid_binary_cross_entropy_grad(z, t), expected)
    close(jax.grad(losses.sigmoid_binary_cross_entropy)(z, t), expected)
    close(jax.grad(lambda z: optax.sigmoid_binary_cross_entropy(z, t).mean())(z), expected)


def test_mae_gradient_where_prediction_equals_target():
    """mae_grad's docstring: 0 where y = t, "as autodiff of |.|": both paths must agree there."""
    y = jnp.array([[1.0, 2.0], [3.0, -1.0]])
    t = jnp.array([[1.0, 0.0], [3.0, 0.0]])  # two exact hits
    close(losses.mae_grad(y, t), jax.grad(losses.mae)(y, t))


def test_cross_entropy_gradient_at_a_certain_prediction():
    """A saturated softmax gives p = 1.0 exactly; d(-log p)/dp = -1 there, on both paths."""
    p = jnp.array([[1.0, 0.0, 0.0], [0.2, 0.5, 0.3]])
    labels = jnp.array([0, 1])
    close(losses.cross_entropy_grad(p, labels)[0, 0], -1 / 2)
    close(losses.cross_entropy_grad(p, labels), jax.grad(losses.cross_entropy)(p, labels))


# --- stability at huge logits ------------------------------------------------------------------

def test_softmax_cross_entropy_at_huge_logits():
    z = jnp.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1.0, -1e4]])
    labels = jnp.array([0, 1, 2, 1])
    value = losses.softmax_cross_entropy(z, labels)
    per_example = np.array([0.0, 2e4, math.log(3), 1.0 + math.log1p(math.exp(-1.0))])
    close(value, per_example.mean())
    close(value, optax.softmax_cross_entropy_with_integer_labels(z, labels).mean())
    g = losses.softmax_cross_entropy_grad(z, labels)
    assert np.all(np.isfinite(np.asarray(g)))
    close(g, jax.grad(losses.softmax_cross_entropy)(z, labels))
    close(g, (jax.nn.softmax(z) - jax.nn.one_hot(labels, 3)) / 4)


def test_sigmoid_binary_cross_entropy_at_huge_logits():
    z = jnp.array([[1e4, 1e4, -1e4, -1e4, 50.0, -50.0]])
    t = jnp.array([[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]])
    value = losses.sigmoid_binary_cross_entropy(z, t)
    per_element = np.array([0.0, 1e4, 1e4, 0.0, math.log1p(math.exp(-50)), 50 + math.log1p(math.exp(-50))])
    close(value, per_element.mean())
    close(value, optax.sigmoid_binary_cross_entropy(z, t).mean())
    g = losses.sigmoid_binary_cross_entropy_grad(z, t)
    close(g, jnp.array([[0.0, 1.0, -1.0, 0.0, -math.exp(-50) / (1 + math.exp(-50)), -1 / (1 + math.exp(-50))]]) / 6)
    close(g, jax.grad(losses.sigmoid_binary_cross_entropy)(z, t))


def test_float32_stability_at_huge_logits():
    with jax.enable_x64(False):
        z = jnp.array([[1e4, -1e4, 0.0]], jnp.float32)
        for value in (losses.softmax_cross_entropy(z, jnp.array([1])),
                      losses.sigmoid_binary_cross_entropy(z, jnp.ones_like(z))):
            assert value.dtype == jnp.float32 and np.isfinite(float(value))
        np.testing.assert_allclose(float(losses.softmax_cross_entropy(z, jnp.array([1]))), 2e4, rtol=1e-6)
        g = losses.softmax_cross_entropy_grad(z, jnp.array([1]))
        assert np.all(np.isfinite(np.asarray(g)))


# --- labels ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax_cross_entropy", "cross_entropy"])
def test_integer_labels_and_one_hot_agree(name):
    value, grad = getattr(losses, name), getattr(losses, name + "_grad")
    pred = jnp.asarray(SIMPLEX if name == "cross_entropy" else PRED)
    for dtype in (jnp.int32, jnp.int64, jnp.uint8):
        labels = jnp.asarray(LABELS, dtype)
        close(value(pred, labels), value(pred, jnp.asarray(ONE_HOT)), rtol=1e-15)
        close(grad(pred, labels), grad(pred, jnp.asarray(ONE_HOT)), rtol=1e-15)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "cross_entropy"])
def test_label_errors(name):
    pred = jnp.asarray(SIMPLEX)
    for fn in (getattr(losses, name), getattr(losses, name + "_grad")):
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            fn(pred, jnp.array([0, 3, 1, 2]))
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            fn(pred, jnp.array([0, -1, 1, 2]))
        with pytest.raises(ValueError, match="integers"):
            fn(pred, jnp.array([0.0, 1.0, 1.0, 2.0]))
        with pytest.raises(ValueError, match=r"\(4,\)|\(4, 3\)"):
            fn(pred, jnp.zeros((4, 2)))


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "sum_of_squares", "binary_cross_entropy",
                                  "sigmoid_binary_cross_entropy"])
def test_shape_mismatch_raises(name):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
        getattr(losses, name)(jnp.asarray(PROB), jnp.asarray(PROB[:, :1]))


def test_gaussian_nll_shape_errors():
    with pytest.raises(ValueError, match="even last axis"):
        losses.gaussian_nll(jnp.zeros((4, 3)), jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match="mean head"):
        losses.gaussian_nll(jnp.zeros((4, 4)), jnp.zeros((4, 3)))


# --- L2 penalty --------------------------------------------------------------------------------

def l2_params():
    rng = np.random.default_rng(3)
    return (
        {"W": jnp.asarray(rng.standard_normal((3, 4))), "b": jnp.asarray(rng.standard_normal(4))},
        (),
        {"alpha": jnp.asarray(rng.standard_normal(4))},                       # PReLU slopes: not weights
        {"W": jnp.asarray(rng.standard_normal((2, 2, 4, 5))), "b": jnp.asarray(rng.standard_normal(5))},  # conv
    )


def test_l2_penalty_counts_weights_only():
    params = l2_params()
    w1, w2 = np.asarray(params[0]["W"]), np.asarray(params[3]["W"])
    close(losses.l2_penalty(params), 0.5 * (np.sum(w1**2) + np.sum(w2**2)))
    assert float(losses.l2_penalty(({"b": jnp.ones(3)},))) == 0.0
    assert float(losses.l2_penalty(())) == 0.0


def test_l2_penalty_grad_is_w_for_weights_and_zero_for_the_rest():
    params = l2_params()
    grads = losses.l2_penalty_grad(params)
    expected = jax.grad(losses.l2_penalty)(params)
    close(grads[0]["W"], params[0]["W"], rtol=0, atol=0)
    close(grads[3]["W"], params[3]["W"], rtol=0, atol=0)
    for g in (grads[0]["b"], grads[2]["alpha"], grads[3]["b"]):
        np.testing.assert_array_equal(np.asarray(g), 0.0)
    chex.assert_trees_all_close(grads, expected, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_equal_structs(grads, params)


# --- registry and heads ------------------------------------------------------------------------

def test_get_by_name_function_pair_and_hyperparameters():
    assert losses.get("mse") == losses.Loss(losses.mse, losses.mse_grad)
    assert losses.get(losses.softmax_cross_entropy).grad is losses.softmax_cross_entropy_grad
    pair = losses.Loss(losses.mae, losses.mae_grad)
    assert losses.get(pair) is pair
    huber2 = losses.get("huber", delta=2.0)
    y, t = jnp.asarray(PRED), jnp.asarray(TARGET)
    close(huber2.value(y, t), optax.huber_loss(y, t, delta=2.0).mean())
    close(huber2.grad(y, t), jax.grad(lambda p: losses.huber(p, t, delta=2.0))(y))


def test_get_custom_callable_differentiates_it():
    def quartic(pred, target):
        return jnp.mean((pred - target) ** 4)

    loss = losses.get(quartic)
    y, t = jnp.asarray(PRED), jnp.asarray(TARGET)
    close(loss.value(y, t), np.mean((PRED - TARGET) ** 4))
    close(loss.grad(y, t), 4 * (PRED - TARGET) ** 3 / (N * K))


def test_get_errors():
    with pytest.raises(ValueError) as info:
        losses.get("cross_entropyy")
    for name in losses.NAMES:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="int"):
        losses.get(3)


def test_heads_table():
    assert set(losses.HEADS) == {"regression", "multi_output_regression", "binary", "multiclass"}
    regression, multi, binary, multiclass = (losses.head(t) for t in
                                             ("regression", "multi_output_regression", "binary", "multiclass"))
    assert (regression.output_activation, regression.loss, regression.metric) == ("identity", losses.mse, "r2")
    assert (multi.output_activation, multi.loss, multi.metric) == ("identity", losses.mse, "r2")
    assert (binary.output_activation, binary.loss, binary.metric) == (
        "sigmoid", losses.sigmoid_binary_cross_entropy, "accuracy")
    assert (multiclass.output_activation, multiclass.loss, multiclass.metric) == (
        "softmax", losses.softmax_cross_entropy, "accuracy")
    for name, h in losses.HEADS.items():
        assert h.name == name
    z = jnp.array([[0.3, -2.0, 1.5], [-0.1, 4.0, 0.0]])
    np.testing.assert_array_equal(np.asarray(regression.predict(z)), [0.3, -0.1])
    np.testing.assert_array_equal(np.asarray(multi.predict(z)), np.asarray(z))
    np.testing.assert_array_equal(np.asarray(binary.predict(z[:, :1])), [1, 0])
    np.testing.assert_array_equal(np.asarray(multiclass.predict(z)), [2, 1])
    with pytest.raises(ValueError, match="unknown task"):
        losses.head("ranking")


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "cross_entropy"])
def test_concrete_labels_closed_over_inside_jit(name):
    """``jax.jit(lambda z: loss(z, labels))``: the labels are concrete though the trace is not;
    the range check must not try to concretize a traced reduction of them."""
    value, grad = getattr(losses, name), getattr(losses, name + "_grad")
    pred = jnp.asarray(SIMPLEX)
    labels = jnp.asarray(LABELS)
    close(jax.jit(lambda p: value(p, labels))(pred), value(pred, labels))
    close(jax.jit(lambda p: grad(p, labels))(pred), grad(pred, labels))
    close(jax.jit(jax.grad(lambda p: value(p, labels)))(pred), grad(pred, labels))
    bad = jnp.array([0, 1, 5, 2])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        jax.jit(lambda p: value(p, bad))(pred)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "cross_entropy"])
def test_traced_out_of_range_labels_give_nan_loss(name):
    """Traced labels cannot be checked on the host; an out-of-range one (negative ones must
    not wrap around to the last class) makes the loss and the hand-derived delta NaN
    instead of silently wrong."""
    value, grad = jax.jit(getattr(losses, name)), jax.jit(getattr(losses, name + "_grad"))
    pred = jnp.asarray(SIMPLEX)
    assert np.isfinite(float(value(pred, jnp.asarray(LABELS))))
    assert np.all(np.isfinite(np.asarray(grad(pred, jnp.asarray(LABELS)))))
    for bad in ([0, 1, 3, 2], [0, -1, 1, 2]):
        assert np.isnan(float(value(pred, jnp.array(bad))))
        g = np.asarray(grad(pred, jnp.array(bad)))  # the hand path's delta: NaN in the bad row only
        assert np.all(np.isnan(g[[i for i, label in enumerate(bad) if not 0 <= label < 3]]))
        assert np.all(np.isfinite(g[[i for i, label in enumerate(bad) if 0 <= label < 3]]))


def test_heads_shape_targets_and_outputs_for_their_task():
    regression, multi, binary, multiclass = (losses.head(t) for t in
                                             ("regression", "multi_output_regression", "binary", "multiclass"))
    assert [h.output_width(10) for h in (regression, binary, multiclass, multi)] == [1, 1, 10, 10]
    with pytest.raises(ValueError, match="needs the number of targets"):
        multi.output_width()
    labels = np.array([0, 2, 1])
    np.testing.assert_array_equal(np.asarray(multiclass.targets(labels)), labels)
    assert binary.targets(np.array([0, 1, 1])).shape == (3, 1)
    assert regression.targets(np.array([0.5, 1.5])).shape == (2, 1)
    assert multi.targets(np.ones((2, 3))).shape == (2, 3)
    assert losses.head_for_dataset("regression", None) is regression
    assert losses.head_for_dataset("classification", 2) is binary
    assert losses.head_for_dataset("classification", 10) is multiclass
    assert losses.head_of("softmax_cross_entropy") == (multiclass, False)
    assert losses.head_of(losses.cross_entropy) == (multiclass, True)
    assert losses.head_of(losses.get("huber", delta=2.0)) == (multi, False)
    assert losses.head_of("gaussian_nll") is None
