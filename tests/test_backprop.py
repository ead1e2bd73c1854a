"""The hand-derived backward pass (IIT Mandi, backpropagation) against independent oracles.

``backprop.value_and_grad(model, loss, l2=...)`` must equal

    jax.value_and_grad(lambda p: loss(model.apply(p, x), t) + l2/2 * sum ||W||^2)(params)

(weights only, biases not regularized) to float64 round-off, for every hidden activation,
depth and loss/head; and agree with finite differences, PyTorch autograd and IIT Mandi's
"Worked scalar example (1 hidden neuron)".  The reference objective here is written independently of the
library's own ``losses.l2_penalty`` (it regularizes exactly the leaves named ``"W"``).
"""
import math
import zlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import assert_trees_close
from jaxnn import activations, backprop, losses, models
from jaxnn.layers import activation, dense, maxout, prelu, residual, serial

RTOL = 1e-8
ATOL = 1e-12
D_IN = 4
WIDTH = 4


# --- the oracle ----------------------------------------------------------------------------------

def weight_sum_of_squares(params):
    """sum ||W||^2 over the leaves named "W" (dense kernels): IIT Mandi's L2 term, biases excluded."""
    total = jnp.zeros(())
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        last = path[-1]
        if isinstance(last, jax.tree_util.DictKey) and last.key == "W":
            total = total + jnp.sum(leaf**2)
    return total


def reference_value_and_grad(model, loss, params, x, target, *, l2=0.0, key=None):
    def objective(p):
        y = model.apply(p, x, key=key, train=key is not None)
        return loss(y, target) + l2 / 2 * weight_sum_of_squares(p)

    return jax.value_and_grad(objective)(params)


def assert_matches_autodiff(model, loss, params, x, target, *, l2=0.0, key=None, jit=False, what=""):
    """backprop.value_and_grad == the reference, to 1e-8 relative in float64.

    ``jit=True`` computes both inside one ``jax.jit``: for a model with new shapes one
    compilation is far cheaper than running both paths op by op (each op compiles once
    per shape), so tests over many architectures stay fast.
    """
    def both(params, x, target, key):
        hand = backprop.value_and_grad(model, loss, l2=l2)(params, x, target, key=key)
        return hand, reference_value_and_grad(model, loss, params, x, target, l2=l2, key=key)

    if jit:
        both = jax.jit(both)
    (value, grads), (expected_value, expected_grads) = both(params, x, target, key)
    np.testing.assert_allclose(float(value), float(expected_value), rtol=RTOL, atol=ATOL, err_msg=what)
    assert_trees_close(grads, expected_grads, rtol=RTOL, atol=ATOL, what=f"{what} grads")
    return value, grads


# --- losses paired with a sensible output ----------------------------------------------------------

rng = np.random.default_rng(0)  # module-level data only; tests draw from seeded_rng(test name...)


def seeded_rng(*parts):
    """A numpy Generator determined by ``parts``, so each test's numbers do not depend on
    which other tests ran before it (``pytest -k`` reproduces a failure exactly)."""
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


def jitter(params, r, scale=0.1):
    """params + scale * N(0, 1): non-zero biases, so no pre-activation sits on a kink by construction."""
    return jax.tree_util.tree_map(lambda p: p + scale * jnp.asarray(r.standard_normal(p.shape)), params)


def labels(n, r=rng, c=3):
    return jnp.asarray(r.integers(0, c, n))


def one_hot(n, r=rng, c=3):
    return jnp.asarray(np.eye(c)[r.integers(0, c, n)])


def binary(n, r=rng, k=2):
    return jnp.asarray(r.integers(0, 2, (n, k)).astype(np.float64))


def real(n, r=rng, k=2):
    return jnp.asarray(r.standard_normal((n, k)))


# name: (loss, output activation, output width, target maker(n))
LOSS_CONFIGS = {
    "softmax_cross_entropy-labels": (losses.softmax_cross_entropy, "identity", 3, labels),
    "softmax_cross_entropy-onehot": (losses.softmax_cross_entropy, "identity", 3, one_hot),
    "cross_entropy-after-softmax": (losses.cross_entropy, "softmax", 3, labels),
    "cross_entropy-after-softmax-onehot": (losses.cross_entropy, "softmax", 3, one_hot),
    "binary_cross_entropy-after-sigmoid": (losses.binary_cross_entropy, "sigmoid", 2, binary),
    "sigmoid_binary_cross_entropy-logits": (losses.sigmoid_binary_cross_entropy, "identity", 2, binary),
    "mse": (losses.mse, "identity", 2, real),
    "mae": (losses.mae, "identity", 2, real),
    "huber": (losses.huber, "identity", 2, lambda n, r=rng: 3 * real(n, r)),  # both Huber branches
    "sum_of_squares": (losses.sum_of_squares, "identity", 2, real),
    "gaussian_nll": (losses.gaussian_nll, "identity", 4, real),     # [mu | log var] for 2 targets
    # the task heads: the loss is applied to the raw scores z
    "head:regression": (losses.head("regression").loss, "identity", 1, lambda n, r=rng: real(n, r, 1)),
    "head:multi_output_regression": (losses.head("multi_output_regression").loss, "identity", 2, real),
    "head:binary": (losses.head("binary").loss, "identity", 1, lambda n, r=rng: binary(n, r, 1)),
    "head:multiclass": (losses.head("multiclass").loss, "identity", 3, labels),
}
LOSS_NAMES = list(LOSS_CONFIGS)
ACTIVATIONS = list(activations.NAMES)


def test_every_loss_and_head_is_covered():
    covered = {LOSS_CONFIGS[name][0] for name in LOSS_NAMES}
    assert {getattr(losses, name) for name in losses.NAMES} <= covered
    assert all(f"head:{task}" in LOSS_CONFIGS for task in losses.HEADS)


X3 = jnp.asarray(rng.standard_normal((3, D_IN)))
TARGETS3 = {name: cfg[3](3) for name, cfg in LOSS_CONFIGS.items()}


def build(loss_name, act, depth):
    loss, out_act, out, _ = LOSS_CONFIGS[loss_name]
    model = models.mlp([WIDTH] * depth + [out], activation=act, output_activation=out_act)
    _, params = model.init(jax.random.key(depth), (D_IN,))
    return model, loss, jitter(params, seeded_rng(loss_name, act, depth))


def check_all_losses(act, depth, *, jit=False):
    """Every loss/head for one (activation, depth), failures collected so one run shows them all.

    ``jit=True`` computes all of them in one compiled program (cheap when the shapes are new);
    eager (the default) is cheaper once the grid's fixed shapes have been compiled op by op.
    """
    cases = []
    for i, name in enumerate(LOSS_NAMES):
        model, loss, params = build(name, act, depth)
        cases.append((name, model, loss, params, (0.0, 0.1)[(i + depth) % 2]))

    def compute(all_params, targets):  # targets are arguments: traced under jit, not closed over
        results = []
        for (name, model, loss, _, l2), params, target in zip(cases, all_params, targets):
            hand = backprop.value_and_grad(model, loss, l2=l2)(params, X3, target)
            results.append((hand, reference_value_and_grad(model, loss, params, X3, target, l2=l2)))
        return results

    results = (jax.jit(compute) if jit else compute)([case[3] for case in cases],
                                                     [TARGETS3[case[0]] for case in cases])
    failures = []
    for (name, _, _, _, l2), ((value, grads), (expected_value, expected_grads)) in zip(cases, results):
        what = f"{act} depth={depth} {name} l2={l2}"
        try:
            np.testing.assert_allclose(float(value), float(expected_value), rtol=RTOL, atol=ATOL, err_msg=what)
            assert_trees_close(grads, expected_grads, rtol=RTOL, atol=ATOL, what=f"{what} grads")
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n".join(failures)


def test_depth_0_every_loss_and_head():
    """No hidden layer: linear/logistic/softmax regression for every loss."""
    check_all_losses("relu", 0, jit=True)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_depth_and_loss(act, depth):
    """The full grid: every activation x depths 1..4 x every loss/head (840 models, batch 3,
    l2 alternating 0 / 0.1), run eagerly on fixed shapes so the ops compile once."""
    check_all_losses(act, depth)


@pytest.mark.parametrize("loss_name", LOSS_NAMES)
def test_batch_sizes(loss_name):
    """Batch sizes 1, 2 and 5 in one compiled program per loss."""
    model, loss, params = build(loss_name, "tanh", 1)
    batches = (1, 2, 5)
    r = seeded_rng("batch_sizes", loss_name)
    xs = [jnp.asarray(r.standard_normal((n, D_IN))) for n in batches]
    targets = [LOSS_CONFIGS[loss_name][3](n, r) for n in batches]

    @jax.jit
    def compute(params, xs, targets):
        return [(backprop.value_and_grad(model, loss, l2=0.1)(params, x, t),
                 reference_value_and_grad(model, loss, params, x, t, l2=0.1)) for x, t in zip(xs, targets)]

    for n, ((value, grads), (expected_value, expected_grads)) in zip(batches, compute(params, xs, targets)):
        np.testing.assert_allclose(float(value), float(expected_value), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{loss_name} batch={n}")
        assert_trees_close(grads, expected_grads, what=f"{loss_name} batch={n}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(widths=st.lists(st.integers(1, 6), min_size=0, max_size=4),
       act=st.sampled_from(ACTIVATIONS),
       loss_name=st.sampled_from(LOSS_NAMES),
       batch=st.integers(1, 5),
       l2=st.sampled_from([0.0, 0.1]),
       d_in=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_random_architectures(widths, act, loss_name, batch, l2, d_in, seed):
    loss, out_act, out, make_target = LOSS_CONFIGS[loss_name]
    model = models.mlp([*widths, out], activation=act, output_activation=out_act)
    # params drawn by numpy into the shapes init would give (eval_shape: no RNG compilation per shape)
    local = np.random.default_rng(seed)
    shapes = jax.eval_shape(lambda k: model.init(k, (d_in,))[1], jax.random.key(0))
    params = jax.tree_util.tree_map(lambda s: jnp.asarray(local.standard_normal(s.shape) / math.sqrt(d_in)), shapes)
    x = jnp.asarray(local.standard_normal((batch, d_in)))
    assert_matches_autodiff(model, loss, params, x, make_target(batch, local), l2=l2, jit=True,
                            what=f"widths={widths} {act} {loss_name} batch={batch} l2={l2}")


def test_other_layers_inside_the_model():
    """PReLU slopes are vectors: never regularized.  Residual and maxout inside."""
    model = serial(dense(6), prelu(0.2), residual(serial(dense(6), activation("tanh"))), maxout(2),
                   dense(3))
    _, params = model.init(jax.random.key(1), (D_IN,))
    params = jitter(params, seeded_rng("jitter", 1))
    assert_matches_autodiff(model, losses.softmax_cross_entropy, params, X3, TARGETS3["head:multiclass"], l2=0.1,
                            jit=True)


def test_loss_given_by_name_pair_or_custom_callable():
    model, loss, params = build("mse", "tanh", 1)
    t = TARGETS3["mse"]
    expected = reference_value_and_grad(model, loss, params, X3, t, l2=0.1)
    for spec in ("mse", losses.get("mse"), losses.mse):
        value, grads = backprop.value_and_grad(model, spec, l2=0.1)(params, X3, t)
        np.testing.assert_allclose(float(value), float(expected[0]), rtol=RTOL)
        assert_trees_close(grads, expected[1])

    def log_cosh(pred, target):  # not registered: its gradient comes from jax.grad
        return jnp.mean(jnp.log(jnp.cosh(pred - target)))

    assert_matches_autodiff(model, log_cosh, params, X3, t, l2=0.1)


def test_negative_l2_raises():
    model, loss, _ = build("mse", "tanh", 1)
    with pytest.raises(ValueError, match="l2"):
        backprop.value_and_grad(model, loss, l2=-0.1)


# --- dropout --------------------------------------------------------------------------------------

def test_dropout_with_key_equals_autodiff_with_the_same_key():
    model = models.mlp([8, 8, 3], activation="relu", dropout_rate=0.4)
    _, params = model.init(jax.random.key(2), (D_IN,))
    t = TARGETS3["softmax_cross_entropy-labels"]
    k = jax.random.key(7)
    _, g_train = assert_matches_autodiff(model, losses.softmax_cross_entropy, params, X3, t, l2=0.1, key=k,
                                         jit=True)
    _, g_eval = assert_matches_autodiff(model, losses.softmax_cross_entropy, params, X3, t, l2=0.1, jit=True)
    assert not np.allclose(np.asarray(g_train[0]["W"]), np.asarray(g_eval[0]["W"]))  # dropout was active
    _, g_other = assert_matches_autodiff(model, losses.softmax_cross_entropy, params, X3, t, l2=0.1,
                                         key=jax.random.key(8), jit=True)
    assert not np.allclose(np.asarray(g_train[0]["W"]), np.asarray(g_other[0]["W"]))  # another mask


# --- the fused output deltas, directly ---------------------------------------------------------------

def softmax_np(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_fused_softmax_cross_entropy_delta():
    """IIT Mandi, "Softmax+Cross-Entropy": the output delta is y - t; averaged over the batch:
    dE/db = sum_n (softmax(z_n) - t_n)/N, dE/dW = x^T (softmax(z) - t)/N."""
    model = models.mlp([3])
    _, params = model.init(jax.random.key(0), (D_IN,))
    params = (dict(params[0], b=jnp.array([0.1, -0.2, 0.3])),)
    t = TARGETS3["softmax_cross_entropy-labels"]
    _, grads = backprop.value_and_grad(model, losses.softmax_cross_entropy)(params, X3, t)
    x, W, b = np.asarray(X3), np.asarray(params[0]["W"]), np.asarray(params[0]["b"])
    delta = (softmax_np(x @ W + b) - np.eye(3)[np.asarray(t)]) / 3
    np.testing.assert_allclose(np.asarray(grads[0]["b"]), delta.sum(0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]["W"]), x.T @ delta, rtol=1e-12)


def test_fused_sigmoid_binary_cross_entropy_delta():
    model = models.mlp([2])
    _, params = model.init(jax.random.key(0), (D_IN,))
    t = TARGETS3["sigmoid_binary_cross_entropy-logits"]
    _, grads = backprop.value_and_grad(model, losses.sigmoid_binary_cross_entropy)(params, X3, t)
    x, W, b = np.asarray(X3), np.asarray(params[0]["W"]), np.asarray(params[0]["b"])
    delta = (1 / (1 + np.exp(-(x @ W + b))) - np.asarray(t)) / t.size
    np.testing.assert_allclose(np.asarray(grads[0]["b"]), delta.sum(0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]["W"]), x.T @ delta, rtol=1e-12)


def test_sum_of_squares_delta_and_hidden_delta_by_the_lecture_formulas():
    """delta2 = y - t (identity output), delta1 = (delta2 W2^T) * h'(z1), G = a^T delta, L2 adds lambda W."""
    model = models.mlp([5, 2], activation="tanh")
    _, params = model.init(jax.random.key(3), (D_IN,))
    params = jitter(params, seeded_rng("jitter", 2))
    t = TARGETS3["sum_of_squares"]
    lam = 0.1
    _, grads = backprop.value_and_grad(model, losses.sum_of_squares, l2=lam)(params, X3, t)
    x = np.asarray(X3)
    W1, b1 = np.asarray(params[0]["W"]), np.asarray(params[0]["b"])
    W2, b2 = np.asarray(params[2]["W"]), np.asarray(params[2]["b"])
    z1 = x @ W1 + b1
    a1 = np.tanh(z1)
    y = a1 @ W2 + b2
    delta2 = y - np.asarray(t)
    delta1 = (delta2 @ W2.T) * (1 - np.tanh(z1) ** 2)
    np.testing.assert_allclose(np.asarray(grads[2]["W"]), a1.T @ delta2 + lam * W2, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[2]["b"]), delta2.sum(0), rtol=1e-12)   # biases: no lambda
    np.testing.assert_allclose(np.asarray(grads[0]["W"]), x.T @ delta1 + lam * W1, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]["b"]), delta1.sum(0), rtol=1e-12)
    assert grads[1] == ()


# --- per-example gradients ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss_name, l2", [("softmax_cross_entropy-labels", 0.0), ("mse", 0.1),
                                           ("sum_of_squares", 0.0), ("gaussian_nll", 0.1),
                                           ("binary_cross_entropy-after-sigmoid", 0.0)])
def test_per_example_grads(loss_name, l2):
    model, loss, params = build(loss_name, "tanh", 2)
    r = seeded_rng("per_example", loss_name)
    x = jnp.asarray(r.standard_normal((5, D_IN)))
    t = LOSS_CONFIGS[loss_name][3](5, r)

    def single(p, x_n, t_n):
        return loss(model.apply(p, x_n[None]), t_n[None]) + l2 / 2 * weight_sum_of_squares(p)

    @jax.jit
    def all_three(params, x, t):
        expected = jax.vmap(jax.grad(single), in_axes=(None, 0, 0))(params, x, t)
        got = backprop.per_example_grads(model, loss, l2=l2)(params, x, t)
        return got, expected, backprop.value_and_grad(model, loss, l2=l2)(params, x, t)[1]

    got, expected, batch_grads = all_three(params, x, t)
    assert_trees_close(got, expected)
    chex.assert_tree_shape_prefix(got, (5,))
    chex.assert_trees_all_equal_shapes(jax.tree_util.tree_map(lambda g: g[0], got), params)
    # mini-batch gradient = average of per-example gradients (sum for the summed loss)
    reduce = np.sum if loss is losses.sum_of_squares else np.mean
    assert_trees_close(jax.tree_util.tree_map(lambda g: reduce(np.asarray(g), axis=0), got), batch_grads)


# --- finite differences ---------------------------------------------------------------------------------

def smooth_problem():
    model = models.mlp([5, 3], activation="tanh")
    _, params = model.init(jax.random.key(4), (D_IN,))
    params = jitter(params, seeded_rng("jitter", 3))
    t = TARGETS3["softmax_cross_entropy-onehot"]

    def f(p):
        return losses.softmax_cross_entropy(model.apply(p, X3), t) + 0.05 * weight_sum_of_squares(p)

    grads = backprop.value_and_grad(model, losses.softmax_cross_entropy, l2=0.1)(params, X3, t)[1]
    return f, params, grads


def test_check_grads_small_for_correct_gradients():
    f, params, grads = smooth_problem()
    report = backprop.check_grads(f, params, grads, num_checks=6)
    assert set(report) == {"[0]['W']", "[0]['b']", "[2]['W']", "[2]['b']"}
    assert max(report.values()) < 1e-6, report
    report = backprop.check_grads(f, params, num_checks=6)  # default: jax.grad
    assert max(report.values()) < 1e-6, report


def test_check_grads_flags_a_wrong_gradient():
    f, params, grads = smooth_problem()
    wrong = (dict(grads[0], W=grads[0]["W"] * 1.5 + 0.01), *grads[1:])
    report = backprop.check_grads(f, params, wrong, num_checks=6)
    assert report["[0]['W']"] > 0.1, report
    assert report["[2]['W']"] < 1e-6 and report["[2]['b']"] < 1e-6, report
    # forgetting that biases are not regularized is caught too
    with_bias_decay = (dict(grads[0], b=grads[0]["b"] + 0.1 * params[0]["b"]), *grads[1:])
    assert backprop.check_grads(f, params, with_bias_decay, num_checks=6)["[0]['b']"] > 1e-3


def test_check_grads_of_a_loss_closing_over_integer_labels():
    """The natural use: f closes over the data, labels as integers.  check_grads jits f, so the
    loss meets concrete labels inside a trace; that must work (it is not a user error)."""
    model = models.mlp([3])
    _, params = model.init(jax.random.key(4), (D_IN,))
    t = TARGETS3["softmax_cross_entropy-labels"]

    def f(p):
        return losses.softmax_cross_entropy(model.apply(p, X3), t)

    grads = backprop.value_and_grad(model, losses.softmax_cross_entropy)(params, X3, t)[1]
    report = backprop.check_grads(f, params, grads, num_checks=4)
    assert max(report.values()) < 1e-6, report


# --- jit ------------------------------------------------------------------------------------------------

def test_jit_gives_the_same_numbers():
    model = models.mlp([6, 3], activation="gelu", dropout_rate=0.3)
    _, params = model.init(jax.random.key(5), (D_IN,))
    t = TARGETS3["softmax_cross_entropy-labels"]
    fn = backprop.value_and_grad(model, losses.softmax_cross_entropy, l2=0.1)
    jitted = jax.jit(fn)
    for key in (None, jax.random.key(3)):
        v, g = fn(params, X3, t, key=key)
        vj, gj = jitted(params, X3, t, key=key)
        np.testing.assert_allclose(float(vj), float(v), rtol=1e-13)
        assert_trees_close(gj, g, rtol=1e-12, atol=1e-15)


def test_autodiff_path_and_gradient_path_registry():
    model, loss, params = build("huber", "elu", 2)
    t = TARGETS3["huber"]
    hand = backprop.gradient_path("backprop")(model, loss, l2=0.1)(params, X3, t)
    auto = backprop.gradient_path("autodiff")(model, loss, l2=0.1)(params, X3, t)
    np.testing.assert_allclose(float(hand[0]), float(auto[0]), rtol=RTOL)
    assert_trees_close(hand[1], auto[1])
    with pytest.raises(ValueError, match="autodiff"):
        backprop.gradient_path("numeric")


# --- IIT Mandi's worked scalar example -------------------------------------------------------------------------

def sigmoid(s):
    return 1 / (1 + math.exp(-s))


@pytest.mark.parametrize("h, h_prime, name", [
    (math.tanh, lambda z: 1 - math.tanh(z) ** 2, "tanh"),
    (lambda z: max(z, 0.0), lambda z: float(z > 0), "relu"),
])
def test_lecture_worked_example_one_hidden_neuron(h, h_prime, name):
    """IIT Mandi, "Worked scalar example (1 hidden neuron)":
    z1 = w1 x + b1, a1 = h(z1), s = w2 a1 + b2, y = sigma(s), L = 1/2 (y - t)^2;
    delta2 = (y - t) sigma'(s); dL/dw2 = delta2 a1; dL/db2 = delta2;
    delta1 = h'(z1) w2 delta2; dL/dw1 = delta1 x; dL/db1 = delta1.
    The notes give no numbers; these are ours, and the arithmetic is the notes'."""
    x, t = 1.5, 0.25
    w1, b1, w2, b2 = 0.8, -0.3, -1.2, 0.4
    lam = 0.1
    z1 = w1 * x + b1                        # 0.9
    a1 = h(z1)
    s = w2 * a1 + b2
    y = sigmoid(s)
    loss = 0.5 * (y - t) ** 2
    delta2 = (y - t) * y * (1 - y)          # sigma'(s) = sigma(s)(1 - sigma(s))
    dw2, db2 = delta2 * a1, delta2
    delta1 = h_prime(z1) * w2 * delta2
    dw1, db1 = delta1 * x, delta1
    if name == "tanh":  # the numbers, worked out once by hand
        assert abs(a1 - 0.7162978701990245) < 1e-15
        assert abs(s - (-0.45955744423882927)) < 1e-15
        assert abs(y - 0.3870908156379484) < 1e-15

    model = serial(dense(1), activation(name), dense(1), activation("sigmoid"))
    params = ({"W": jnp.array([[w1]]), "b": jnp.array([b1])}, (),
              {"W": jnp.array([[w2]]), "b": jnp.array([b2])}, ())
    value, grads = jax.jit(backprop.value_and_grad(model, losses.sum_of_squares))(
        params, jnp.array([[x]]), jnp.array([[t]]))
    np.testing.assert_allclose(float(value), loss, rtol=1e-13)
    np.testing.assert_allclose([float(grads[0]["W"][0, 0]), float(grads[0]["b"][0]),
                                float(grads[2]["W"][0, 0]), float(grads[2]["b"][0])],
                               [dw1, db1, dw2, db2], rtol=1e-12)
    # with L2: lambda w is added to the weights' gradients, never to the biases'
    value, grads = jax.jit(backprop.value_and_grad(model, losses.sum_of_squares, l2=lam))(
        params, jnp.array([[x]]), jnp.array([[t]]))
    np.testing.assert_allclose(float(value), loss + lam / 2 * (w1**2 + w2**2), rtol=1e-13)
    np.testing.assert_allclose([float(grads[0]["W"][0, 0]), float(grads[0]["b"][0]),
                                float(grads[2]["W"][0, 0]), float(grads[2]["b"][0])],
                               [dw1 + lam * w1, db1, dw2 + lam * w2, db2], rtol=1e-12)


def test_lecture_mini_batch_averaging():
    """IIT Mandi, "Mini-batch and averaging": the batch gradient is the average of the
    per-example deltas times activations.  With mse = mean (y - t)^2 = (2/N) * 1/2 sum (y - t)^2, the library's gradient
    is twice the notes' average of per-example 1/2 (y - t)^2 gradients."""
    xs, ts = [0.5, -1.0, 2.0], [0.1, 0.9, 0.4]
    w1, b1, w2, b2 = 0.7, 0.2, 1.3, -0.5
    per_example = []
    for x, t in zip(xs, ts):
        z1 = w1 * x + b1
        a1 = math.tanh(z1)
        y = sigmoid(w2 * a1 + b2)
        delta2 = (y - t) * y * (1 - y)
        delta1 = (1 - a1**2) * w2 * delta2
        per_example.append([delta1 * x, delta1, delta2 * a1, delta2])
    average = np.mean(per_example, axis=0)
    model = serial(dense(1), activation("tanh"), dense(1), activation("sigmoid"))
    params = ({"W": jnp.array([[w1]]), "b": jnp.array([b1])}, (),
              {"W": jnp.array([[w2]]), "b": jnp.array([b2])}, ())
    _, grads = jax.jit(backprop.value_and_grad(model, losses.mse))(params, jnp.array(xs)[:, None],
                                                                   jnp.array(ts)[:, None])
    got = [float(grads[0]["W"][0, 0]), float(grads[0]["b"][0]), float(grads[2]["W"][0, 0]), float(grads[2]["b"][0])]
    np.testing.assert_allclose(got, 2 * average, rtol=1e-12)


# --- PyTorch autograd ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["tanh-cross_entropy", "relu-bce_with_logits", "sigmoid-mse"])
def test_agrees_with_pytorch_autograd(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    act_name, loss_name = case.split("-")
    out = {"cross_entropy": 3, "bce_with_logits": 2, "mse": 2}[loss_name]
    model = models.mlp([5, 4, out], activation=act_name)
    _, params = model.init(jax.random.key(6), (D_IN,))
    params = jitter(params, seeded_rng("jitter", 4))
    jax_loss, target = {
        "cross_entropy": (losses.softmax_cross_entropy, TARGETS3["softmax_cross_entropy-labels"]),
        "bce_with_logits": (losses.sigmoid_binary_cross_entropy, TARGETS3["sigmoid_binary_cross_entropy-logits"]),
        "mse": (losses.mse, TARGETS3["mse"]),
    }[loss_name]
    lam = 0.1
    value, grads = jax.jit(backprop.value_and_grad(model, jax_loss, l2=lam))(params, X3, target)

    dense_params = [p for p in params if p != ()]
    linears = []
    for p in dense_params:
        W = np.asarray(p["W"])
        linear = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W.T))   # nn.Linear stores the lectures' W: (out, in)
            linear.bias.copy_(torch.tensor(np.asarray(p["b"])))
        linears.append(linear)
    torch_act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[act_name]
    net = torch.nn.Sequential(linears[0], torch_act(), linears[1], torch_act(), linears[2])
    logits = net(torch.tensor(np.asarray(X3)))
    t = torch.tensor(np.asarray(target))
    torch_loss = {"cross_entropy": F.cross_entropy, "bce_with_logits": F.binary_cross_entropy_with_logits,
                  "mse": F.mse_loss}[loss_name](logits, t)
    torch_loss = torch_loss + lam / 2 * sum((lin.weight**2).sum() for lin in linears)
    torch_loss.backward()

    np.testing.assert_allclose(float(value), torch_loss.item(), rtol=1e-12)
    dense_grads = [g for g in grads if g != ()]
    for g, lin in zip(dense_grads, linears):
        np.testing.assert_allclose(np.asarray(g["W"]), lin.weight.grad.numpy().T, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(np.asarray(g["b"]), lin.bias.grad.numpy(), rtol=RTOL, atol=ATOL)
