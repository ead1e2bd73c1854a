"""Architecture builders (cnn, rnn_classifier/regressor, autoencoder, conv_autoencoder) and the
layers they need (upsample, gaussian_noise), against independent oracles.

* shapes and structure of every builder, parameter counts written out by hand;
* the hand-derived ``backprop.value_and_grad`` equals ``jax.value_and_grad`` (float64, 1e-8)
  for a whole CNN, LSTM/GRU classifiers and (denoising, convolutional) autoencoders;
* ``upsample``'s forward against ``np.repeat`` and its backward against ``jax.vjp``;
* ``gaussian_noise``: only in training, same key same noise, identity backward;
* ``encode``/``decode`` compose to ``apply``; ``anomaly_scores`` / ``anomaly_threshold``
  against numpy; ``summary`` of each model; shape errors name the expected layout.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_backward_matches_vjp, assert_trees_close
from jaxnn import backprop, losses, models
from jaxnn.layers.noise import gaussian_noise
from jaxnn.layers.upsample import upsample

RTOL = 1e-8
ATOL = 1e-12


def rng(seed):
    return np.random.default_rng(seed)


def abstract_init(model, in_shape):
    """``(out_shape, params as ShapeDtypeStructs)``: ``model.init`` traced, nothing compiled."""
    out_shapes = []

    def params_of(key):
        out_shape, params = model.init(key, in_shape)
        out_shapes.append(tuple(out_shape))
        return params

    params = jax.eval_shape(params_of, jax.random.key(0))
    return out_shapes[0], params


def init(model, in_shape, seed=0, scale=0.3):
    """``(out_shape, params)`` with every param drawn from ``scale * N(0, 1)`` by numpy.

    Cheaper than ``model.init`` (which compiles every initializer) and gives non-zero
    biases, so no pre-activation sits on a kink by construction.
    """
    out_shape, abstract = abstract_init(model, in_shape)
    r = rng(seed)
    params = jax.tree_util.tree_map(lambda leaf: jnp.asarray(scale * r.standard_normal(leaf.shape), leaf.dtype),
                                    abstract)
    return out_shape, params


@functools.lru_cache(maxsize=None)
def jitted_apply(model, train):
    return jax.jit(lambda p, x, k: model.apply(p, x, key=k, train=train))


def run(model, params, x, key=None, train=False):
    """``model.apply`` jitted (one compilation per model and shape instead of one per op)."""
    return jitted_apply(model, train)(params, x, key)


def assert_hand_gradient_matches_autodiff(model, loss, params, x, target, key=None):
    """backprop.value_and_grad == jax.value_and_grad of loss(model.apply(...)), both jitted."""
    loss_fn = losses.get(loss).value

    def both(params, x, target, key):
        hand = backprop.value_and_grad(model, loss)(params, x, target, key=key)

        def objective(p):
            return loss_fn(model.apply(p, x, key=key, train=key is not None), target)

        return hand, jax.value_and_grad(objective)(params)

    (value, grads), (expected_value, expected_grads) = jax.jit(both)(params, x, target, key)
    np.testing.assert_allclose(float(value), float(expected_value), rtol=RTOL, atol=ATOL)
    assert_trees_close(grads, expected_grads, rtol=RTOL, atol=ATOL, what="grads")
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(grads))


def layer_names(model):
    """Leaf layer names in order, through nested serials."""
    if model.name == "serial":
        return [name for child in model.children for name in layer_names(child)]
    return [model.name]


# ============================================================================ upsample

@pytest.mark.parametrize("factor, expected", [(2, (2, 2)), ((2, 3), (2, 3)), (1, (1, 1))])
def test_upsample_forward_repeats_each_pixel_into_a_block(factor, expected):
    x = jnp.asarray(rng(0).standard_normal((2, 3, 4, 5)))
    layer = upsample(factor)
    out_shape, params = layer.init(jax.random.key(0), (3, 4, 5))
    assert out_shape == (3 * expected[0], 4 * expected[1], 5) and params == ()
    reference = np.repeat(np.repeat(np.asarray(x), expected[0], axis=1), expected[1], axis=2)
    np.testing.assert_array_equal(np.asarray(layer.apply(params, x)), reference)


@pytest.mark.parametrize("factor", [2, (3, 2), (1, 4)])
def test_upsample_backward_matches_vjp(factor):
    x = jnp.asarray(rng(1).standard_normal((3, 2, 3, 4)))
    assert_backward_matches_vjp(upsample(factor), (), x)


def test_upsample_backward_sums_each_block_by_hand():
    x = jnp.zeros((1, 2, 2, 1))
    dy = jnp.arange(16.0).reshape(1, 4, 4, 1)
    _, dx = upsample(2).backward((), x, dy)
    # block (a, b) covers rows 2a, 2a+1 and columns 2b, 2b+1 of dy
    expected = [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]
    np.testing.assert_array_equal(np.asarray(dx[0, :, :, 0]), expected)


def test_upsample_errors_name_the_layout():
    with pytest.raises(ValueError, match="factor"):
        upsample(0)
    with pytest.raises(ValueError, match="factor"):
        upsample((2, 2, 2))
    with pytest.raises(ValueError, match="NHWC"):
        upsample(2).apply((), jnp.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="HWC"):
        upsample(2).init(jax.random.key(0), (4, 4))
    with pytest.raises(ValueError, match="output shape"):
        upsample(2).backward((), jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1)))


# ============================================================================ gaussian_noise

def test_noise_is_identity_outside_training():
    layer = gaussian_noise(0.5)
    x = jnp.asarray(rng(2).standard_normal((4, 6)))
    assert layer.init(jax.random.key(0), (6,)) == ((6,), ())
    np.testing.assert_array_equal(np.asarray(layer.apply((), x)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(layer.apply((), x, key=jax.random.key(1))), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(gaussian_noise(0.0).apply((), x, train=True)), np.asarray(x))


def test_noise_in_training_is_std_times_a_normal_draw_from_the_key():
    layer = gaussian_noise(0.3)
    x = jnp.asarray(rng(3).standard_normal((4, 6)))
    key = jax.random.key(7)
    y = layer.apply((), x, key=key, train=True)
    expected = np.asarray(x) + 0.3 * np.asarray(jax.random.normal(key, x.shape, x.dtype))
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-15)
    np.testing.assert_array_equal(np.asarray(layer.apply((), x, key=key, train=True)), np.asarray(y))
    assert not np.allclose(np.asarray(layer.apply((), x, key=jax.random.key(8), train=True)), np.asarray(y))


def test_noise_statistics():
    noise = gaussian_noise(0.5).apply((), jnp.zeros((200_000, 1)), key=jax.random.key(0), train=True)
    assert abs(float(noise.mean())) < 0.005
    assert abs(float(noise.std()) - 0.5) < 0.005


def test_noise_backward_is_identity_and_matches_vjp():
    x = jnp.asarray(rng(4).standard_normal((3, 5)))
    dp, dx = assert_backward_matches_vjp(gaussian_noise(0.4), (), x, key=jax.random.key(0), train=True)
    assert dp == ()
    dy = jnp.asarray(rng(5).standard_normal((3, 5)))
    np.testing.assert_array_equal(np.asarray(gaussian_noise(0.4).backward((), x, dy)[1]), np.asarray(dy))


def test_noise_needs_a_key_in_training():
    layer = gaussian_noise(0.1)
    with pytest.raises(ValueError, match="key"):
        layer.apply((), jnp.zeros((2, 3)), train=True)
    with pytest.raises(ValueError, match="key"):
        layer.backward((), jnp.zeros((2, 3)), jnp.zeros((2, 3)), train=True)
    for bad in (-0.1, "0.1", True):
        with pytest.raises(ValueError, match="std"):
            gaussian_noise(bad)


# ============================================================================ cnn

def test_cnn_structure_shapes_and_param_count():
    model = models.cnn((4, 6), 3, image_shape=(8, 8, 1), kernel_size=3, dense_sizes=(5,), dropout_rate=0.5)
    assert layer_names(model) == ["reshape", "conv2d", "relu", "max_pool", "conv2d", "relu", "max_pool",
                                  "flatten", "dense", "relu", "dropout", "dense"]
    out_shape, params = init(model, (64,))
    assert out_shape == (3,)
    # conv: k*k*C_in*F + F; after two 2x2 pools the 8x8 image is 2x2 with 6 channels = 24 features
    expected = (3 * 3 * 1 * 4 + 4) + (3 * 3 * 4 * 6 + 6) + (24 * 5 + 5) + (5 * 3 + 3)
    assert models.count_params(params) == expected
    flat = jnp.asarray(rng(6).standard_normal((7, 64)))
    assert run(model, params, flat).shape == (7, 3)
    # the same model takes NHWC images: the reshape is the row-major (N, H, W, C) view
    np.testing.assert_array_equal(np.asarray(run(model, params, flat.reshape(7, 8, 8, 1))),
                                  np.asarray(run(model, params, flat)))


def test_cnn_options():
    model = models.cnn((3,), 2, pool=None, dense_sizes=(), activation="tanh", output_activation="softmax")
    assert layer_names(model) == ["conv2d", "tanh", "flatten", "dense", "softmax"]
    out_shape, params = init(model, (5, 4, 2))
    assert out_shape == (2,)
    y = run(model, params, jnp.ones((3, 5, 4, 2)))
    np.testing.assert_allclose(np.asarray(y.sum(axis=1)), 1.0, rtol=1e-12)
    model = models.cnn((3,), 2, pool=2, pool_type="avg", padding="VALID", kernel_size=(3, 2), dense_sizes=())
    assert layer_names(model)[:3] == ["conv2d", "relu", "avg_pool"]
    # VALID 3x2 kernel on 7x5 -> 5x4, pooled -> 2x2, 3 channels
    assert init(model, (7, 5, 1))[0] == (2,)
    _, params = init(model, (7, 5, 1))
    assert params[0]["W"].shape == (3, 2, 1, 3) and params[-1]["W"].shape == (2 * 2 * 3, 2)


def test_cnn_hand_gradient_matches_autodiff_with_dropout():
    model = models.cnn((3, 4), 3, image_shape=(6, 6, 2), dense_sizes=(5,), dropout_rate=0.3)
    _, params = init(model, (72,))
    r = rng(7)
    x = jnp.asarray(r.standard_normal((4, 72)))
    t = jnp.asarray(r.integers(0, 3, 4))
    # with a key: training mode, the same dropout masks in both passes
    assert_hand_gradient_matches_autodiff(model, "softmax_cross_entropy", params, x, t, key=jax.random.key(3))


def test_cnn_hand_gradient_matches_autodiff_avg_pool_tanh():
    model = models.cnn((3,), 2, kernel_size=(3, 2), pool_type="avg", activation="tanh", dense_sizes=())
    _, params = init(model, (5, 4, 1), seed=2)
    x = jnp.asarray(rng(8).standard_normal((3, 5, 4, 1)))
    assert_hand_gradient_matches_autodiff(model, "mse", params, x, jnp.asarray(rng(9).standard_normal((3, 2))))


# ============================================================================ recurrent

@pytest.mark.parametrize("cell", ["tanh", "lstm", "gru"])
def test_rnn_classifier_and_regressor_shapes(cell):
    x = jnp.asarray(rng(10).standard_normal((5, 7, 3)))
    model = models.rnn_classifier(6, 4, cell=cell)
    assert layer_names(model) == ["rnn", "dense"]
    out_shape, params = init(model, (7, 3))
    assert out_shape == (4,) and run(model, params, x).shape == (5, 4)
    gates = {"tanh": 1, "lstm": 4, "gru": 3}[cell]
    assert params[0]["W_x"].shape == (3, gates * 6) and params[0]["W_h"].shape == (6, gates * 6)
    model = models.rnn_regressor([6, 5], 2, cell=cell, dense_sizes=(8,), output_activation="sigmoid")
    assert layer_names(model) == ["rnn", "rnn", "dense", "relu", "dense", "sigmoid"]
    out_shape, params = init(model, (7, 3))
    assert out_shape == (2,) and params[1]["W_x"].shape[0] == 6
    y = run(model, params, x)
    assert y.shape == (5, 2) and bool(jnp.all((y > 0) & (y < 1)))


def test_rnn_classifier_stack_feeds_sequences_and_bidirectional_doubles_the_width():
    model = models.rnn_classifier([4, 3], 2, cell="lstm", bidirectional=True, dropout_rate=0.2)
    assert layer_names(model) == ["bidirectional", "dropout", "bidirectional", "dropout", "dense"]
    out_shape, params = init(model, (6, 2))
    assert out_shape == (2,)
    assert params[2]["forward"]["W_x"].shape == (2 * 4, 4 * 3)   # reads the 2*4-wide sequence
    assert params[4]["W"].shape == (2 * 3, 2)


def test_lstm_classifier_hand_gradient_matches_autodiff():
    model = models.rnn_classifier([5, 4], 3, cell="lstm", dense_sizes=(6,), dropout_rate=0.25)
    _, params = init(model, (8, 3), seed=3)
    r = rng(11)
    x = jnp.asarray(r.standard_normal((4, 8, 3)))
    t = jnp.asarray(r.integers(0, 3, 4))
    assert_hand_gradient_matches_autodiff(model, "softmax_cross_entropy", params, x, t, key=jax.random.key(5))


@pytest.mark.parametrize("cell", ["tanh", "gru"])
def test_bidirectional_regressor_hand_gradient_matches_autodiff(cell):
    model = models.rnn_regressor(4, 2, cell=cell, bidirectional=True)
    _, params = init(model, (6, 2), seed=4)
    x = jnp.asarray(rng(12).standard_normal((3, 6, 2)))
    assert_hand_gradient_matches_autodiff(model, "mse", params, x, jnp.asarray(rng(13).standard_normal((3, 2))))


# ============================================================================ autoencoders

def test_autoencoder_mirrors_the_encoder():
    model = models.autoencoder([6, 4, 2], activation="tanh")
    encoder, decoder = model.children
    assert layer_names(encoder) == ["dense", "tanh", "dense", "tanh", "dense"]
    assert layer_names(decoder) == ["dense", "tanh", "dense", "tanh", "dense"]
    out_shape, (enc, dec) = init(model, (10,))
    assert out_shape == (10,)
    assert [p["W"].shape for p in enc if p] == [(10, 6), (6, 4), (4, 2)]
    assert [p["W"].shape for p in dec if p] == [(2, 4), (4, 6), (6, 10)]
    model = models.autoencoder([3], code_activation="tanh", output_activation="sigmoid", noise_std=0.1)
    assert [layer_names(c) for c in model.children] == [["gaussian_noise", "dense", "tanh"], ["dense", "sigmoid"]]


def test_autoencoder_takes_its_input_width_from_init_like_mlp():
    """``autoencoder(sizes)`` follows `mlp`: the sizes exclude the input width."""
    model = models.autoencoder([16, 3])
    for width in (20, 7):
        out_shape, (enc, dec) = init(model, (width,))
        assert out_shape == (width,)
        assert [p["W"].shape for p in dec if p] == [(3, 16), (16, width)]
        x = jnp.ones((2, width))
        assert models.decode(model, (enc, dec), models.encode(model, (enc, dec), x)).shape == (2, width)


def test_autoencoder_forward_equals_numpy():
    model = models.autoencoder([3, 2], activation="relu", output_activation="sigmoid")
    _, params = init(model, (5,), seed=5)
    x = rng(14).standard_normal((4, 5))
    (w1, b1), (w2, b2) = [(np.asarray(p["W"]), np.asarray(p["b"])) for p in params[0] if p]
    (w3, b3), (w4, b4) = [(np.asarray(p["W"]), np.asarray(p["b"])) for p in params[1] if p]
    code = np.maximum(x @ w1 + b1, 0) @ w2 + b2                     # linear code layer
    recon = 1 / (1 + np.exp(-(np.maximum(code @ w3 + b3, 0) @ w4 + b4)))
    np.testing.assert_allclose(np.asarray(models.encode(model, params, jnp.asarray(x))), code, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(run(model, params, jnp.asarray(x))), recon, rtol=1e-12)


@pytest.mark.parametrize("builder, in_shape, code_shape", [
    (lambda: models.autoencoder([7, 3], noise_std=0.2), (12,), (3,)),
    (lambda: models.conv_autoencoder((8, 4, 2), (3, 5), noise_std=0.2), (8, 4, 2), (2, 1, 5)),
    (lambda: models.conv_autoencoder((4, 4, 1), (3,), flat=True), (16,), (2, 2, 3)),
])
def test_encode_then_decode_is_apply(builder, in_shape, code_shape):
    model = builder()
    out_shape, params = init(model, in_shape)
    assert out_shape == in_shape
    x = jnp.asarray(rng(15).standard_normal((3, *in_shape)))
    code = jax.jit(lambda p, x: models.encode(model, p, x))(params, x)
    assert code.shape == (3, *code_shape)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda p, z: models.decode(model, p, z))(params, code)),
                               np.asarray(run(model, params, x)), rtol=1e-12, atol=1e-14)


def test_conv_autoencoder_structure():
    model = models.conv_autoencoder((8, 8, 1), (4, 2), output_activation="sigmoid", flat=True)
    encoder, decoder = model.children
    assert layer_names(encoder) == ["reshape", "conv2d", "relu", "max_pool", "conv2d", "relu", "max_pool"]
    assert layer_names(decoder) == ["upsample", "conv2d", "relu", "upsample", "conv2d", "sigmoid", "flatten"]
    _, (enc, dec) = init(model, (64,))
    assert [p["W"].shape for p in enc if p] == [(3, 3, 1, 4), (3, 3, 4, 2)]
    assert [p["W"].shape for p in dec if p] == [(3, 3, 2, 4), (3, 3, 4, 1)]


def test_denoising_noise_only_in_training_same_key_same_noise():
    model = models.autoencoder([4, 2], noise_std=0.5)
    _, params = init(model, (6,))
    x = jnp.asarray(rng(16).standard_normal((5, 6)))
    clean = run(model, params, x)
    np.testing.assert_array_equal(np.asarray(run(model, params, x, key=jax.random.key(1))), np.asarray(clean))
    noisy = run(model, params, x, key=jax.random.key(1), train=True)
    assert not np.allclose(np.asarray(noisy), np.asarray(clean))
    np.testing.assert_array_equal(np.asarray(run(model, params, x, key=jax.random.key(1), train=True)),
                                  np.asarray(noisy))
    # the noise is the noise layer's own draw: serial gives the encoder, then its first child, split keys
    encoder_key = jax.random.split(jax.random.key(1), 2)[0]
    noise_key = jax.random.split(encoder_key, len(model.children[0].children))[0]
    corrupted = x + 0.5 * jax.random.normal(noise_key, x.shape, x.dtype)
    np.testing.assert_allclose(np.asarray(noisy), np.asarray(run(model, params, corrupted)), rtol=1e-12)
    with pytest.raises(ValueError, match="key"):
        model.apply(params, x, train=True)


def test_autoencoder_hand_gradient_matches_autodiff():
    model = models.autoencoder([5, 2], activation="tanh", output_activation="sigmoid", noise_std=0.3)
    _, params = init(model, (6,), seed=6)
    x = jnp.asarray(rng(17).uniform(size=(4, 6)))
    assert_hand_gradient_matches_autodiff(model, "mse", params, x, x)
    assert_hand_gradient_matches_autodiff(model, "mse", params, x, x, key=jax.random.key(2))


def test_conv_autoencoder_hand_gradient_matches_autodiff():
    model = models.conv_autoencoder((4, 4, 2), (3, 2), noise_std=0.2, flat=True)
    _, params = init(model, (32,), seed=7)
    x = jnp.asarray(rng(18).standard_normal((3, 32)))
    assert_hand_gradient_matches_autodiff(model, "mse", params, x, x, key=jax.random.key(4))


# ============================================================================ anomaly detection

def test_anomaly_scores_equal_numpy():
    model = models.autoencoder([3, 2])
    _, params = init(model, (6,), seed=8)
    x = rng(19).standard_normal((7, 6))
    recon = np.asarray(run(model, params, jnp.asarray(x)))
    expected = ((recon - x) ** 2).mean(axis=1)
    np.testing.assert_allclose(np.asarray(models.anomaly_scores(model, params, jnp.asarray(x))), expected,
                               rtol=1e-12)
    conv = models.conv_autoencoder((4, 4, 1), (2,))
    _, conv_params = init(conv, (4, 4, 1))
    images = rng(20).standard_normal((3, 4, 4, 1))
    recon = np.asarray(run(conv, conv_params, jnp.asarray(images)))
    np.testing.assert_allclose(np.asarray(models.anomaly_scores(conv, conv_params, jnp.asarray(images))),
                               ((recon - images) ** 2).reshape(3, -1).mean(axis=1), rtol=1e-12)


def test_anomaly_threshold_is_the_quantile_of_clean_scores():
    scores = rng(21).exponential(size=101)
    np.testing.assert_allclose(float(models.anomaly_threshold(scores)), np.quantile(scores, 0.95), rtol=1e-12)
    np.testing.assert_allclose(float(models.anomaly_threshold(scores, 0.5)), np.median(scores), rtol=1e-12)
    flagged = scores > float(models.anomaly_threshold(scores, 0.9))
    assert flagged.sum() == 10          # 10% of 101 clean examples, rounded down
    with pytest.raises(ValueError, match="quantile"):
        models.anomaly_threshold(scores, 1.5)
    with pytest.raises(ValueError, match="vector"):
        models.anomaly_threshold(np.zeros((3, 2)))


# ============================================================================ summary and errors

@pytest.mark.parametrize("builder, in_shape", [
    (lambda: models.cnn((4, 8), 10, image_shape=(8, 8, 1)), (64,)),
    (lambda: models.rnn_classifier([4, 3], 5, cell="gru"), (9, 2)),
    (lambda: models.autoencoder([32, 2], noise_std=0.3), (64,)),
    (lambda: models.conv_autoencoder((8, 8, 1), (4, 2), flat=True), (64,)),
])
def test_summary_lists_every_layer_and_the_total(builder, in_shape):
    model = builder()
    _, params = init(model, in_shape)
    text = models.summary(model, in_shape)
    rows = text.splitlines()[2:-2]
    assert [row.split()[0] for row in rows] == layer_names(model)
    assert text.splitlines()[-1] == f"Total params: {models.count_params(params):,}"
    assert sum(int(row.split()[-1].replace(",", "")) for row in rows) == models.count_params(params)


def test_shape_errors_name_the_expected_layout():
    cnn = models.cnn((4,), 3, image_shape=(8, 8, 1))
    _, params = init(cnn, (64,))
    with pytest.raises(ValueError, match="reshape"):
        cnn.apply(params, jnp.zeros((2, 63)))
    with pytest.raises(ValueError, match=r"HWC in_shape .*\(H, W, C\)"):
        models.cnn((4,), 3).init(jax.random.key(0), (8, 8))
    rnn = models.rnn_classifier(4, 3)
    _, params = init(rnn, (5, 2))
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        rnn.apply(params, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\) = \(N, 8, 8, 1\)"):
        models.conv_autoencoder((8, 8, 1), (2,)).init(jax.random.key(0), (64,))
    with pytest.raises(ValueError, match=r"\(N, H\*W\*C\) = \(N, 64\)"):
        models.conv_autoencoder((8, 8, 1), (2,), flat=True).init(jax.random.key(0), (8, 8, 1))
    classifier = models.mlp([3, 2])
    _, params = init(classifier, (4,))
    with pytest.raises(ValueError, match="autoencoder"):
        models.encode(classifier, params, jnp.zeros((1, 4)))
    with pytest.raises(ValueError, match="input's shape"):
        models.anomaly_scores(classifier, params, jnp.zeros((1, 4)))


@pytest.mark.parametrize("build, message", [
    (lambda: models.cnn((0,), 3), "conv_features"),
    (lambda: models.cnn((4,), 0), "n_outputs"),
    (lambda: models.cnn((4,), 3, dense_sizes=(2.5,)), "dense_sizes"),
    (lambda: models.cnn((4,), 3, pool_type="min"), "pool_type"),
    (lambda: models.cnn((4,), 3, dropout_rate=1.0), "dropout_rate"),
    (lambda: models.rnn_classifier([], 3), "hidden"),
    (lambda: models.rnn_classifier(4, 3, cell="elman"), "unknown cell"),
    (lambda: models.rnn_regressor(4, -1), "n_outputs"),
    (lambda: models.autoencoder([]), "encoder_sizes"),
    (lambda: models.autoencoder([64, 0]), "encoder_sizes"),
    (lambda: models.autoencoder([2], noise_std=-1.0), "std"),
    (lambda: models.conv_autoencoder((8, 8), (2,)), "image_shape"),
    (lambda: models.conv_autoencoder((6, 6, 1), (2, 2)), "divisible by"),
])
def test_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()

