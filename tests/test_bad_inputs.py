"""A catalogue of ordinary user mistakes and what they must raise.

"Errors tell the fix": a mistake raises ValueError naming the offending argument and what
was expected (before tracing where possible), never a raw TypeError, AttributeError or
IndexError from deep inside JAX or Python.  Each row is (id, a call that makes the mistake,
the exception type, a phrase of the message).  The fit/evaluate/checkpoint/CLI mistakes
have their own rows in those modules' test files.

The second half checks the sensible readings that replaced some errors: an int in_shape
is a 1-tuple, an int key is a seed, numpy integers are integers, lists are arrays.

Every call is cheap: inits are traced with ``jax.eval_shape`` (nothing compiles) and the
errors are raised before any array is computed.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import activations, backprop, datasets, initializers, layers, losses, metrics, models, optim, train
from jaxnn.util import check_positive_int

KEY = jax.random.key(0)


def traced_init(layer, in_shape):
    """``layer.init(KEY, in_shape)`` traced, not run: the checks run, nothing compiles."""
    return jax.eval_shape(lambda key: layer.init(key, in_shape)[1], KEY)


DENSE_PARAMS = {"W": jnp.zeros((4, 2)), "b": jnp.zeros(2)}
X4 = jnp.zeros((1, 4))


def fit_mlp(loss, y, **options):
    """One epoch of ``mlp([2])`` on two examples: fit checks its data before compiling."""
    return train.fit(models.mlp([2]), (DENSE_PARAMS,), loss, optim.sgd(0.1), jnp.zeros((2, 4)), y, epochs=1,
                     batch_size=1, key=0, progress=False, **options)

CASES = [
    # ---------------------------------------------------------------- layers: construction
    ("dense_zero_units", lambda: layers.dense(0), ValueError, "dense: units must be a positive int"),
    ("dense_float_units", lambda: layers.dense(3.0), ValueError, "units must be a positive int, got units=3.0"),
    ("dense_str_units", lambda: layers.dense("3"), ValueError, "units must be a positive int"),
    ("dropout_rate_above_one", lambda: layers.dropout(1.5), ValueError, "dropout: rate must be in [0, 1)"),
    ("dropout_rate_str", lambda: layers.dropout("0.5"), ValueError, "rate must be a number in [0, 1)"),
    ("dropout_rate_none", lambda: layers.dropout(None), ValueError, "rate must be a number"),
    ("conv2d_zero_kernel", lambda: layers.conv2d(8, 0), ValueError, "kernel_size must be a positive int"),
    ("conv2d_zero_features", lambda: layers.conv2d(0, 3), ValueError, "features must be a positive int"),
    ("conv2d_bad_padding", lambda: layers.conv2d(8, 3, padding="same_"), ValueError,
     "padding must be 'SAME', 'VALID'"),
    ("max_pool_zero_window", lambda: layers.max_pool(0), ValueError, "window must be a positive int"),
    ("upsample_zero_factor", lambda: layers.upsample(0), ValueError, "factor must be a positive int"),
    ("maxout_zero_pieces", lambda: layers.maxout(0), ValueError, "pieces must be a positive int"),
    ("prelu_str_slope", lambda: layers.prelu("0.25"), ValueError, "init_slope must be a number"),
    ("gaussian_noise_negative_std", lambda: layers.gaussian_noise(-1.0), ValueError, "std must be >= 0"),
    ("layer_norm_str_epsilon", lambda: layers.layer_norm(epsilon="1e-5"), ValueError,
     "epsilon must be a number >= 0"),
    ("layer_norm_float_axis", lambda: layers.layer_norm(axis=1.0), ValueError, "axis must be an int"),
    ("reshape_zero_size", lambda: layers.reshape((2, 0)), ValueError, "must hold positive ints"),
    ("embedding_zero_vocab", lambda: layers.embedding(0, 4), ValueError, "vocab_size must be a positive int"),
    ("rnn_zero_hidden", lambda: layers.rnn(0), ValueError, "hidden must be a positive int"),
    ("rnn_unknown_cell", lambda: layers.rnn(4, cell="lstmm"), ValueError, "unknown cell 'lstmm'"),
    ("rnn_negative_clip", lambda: layers.rnn(4, clip_grad_norm=-1.0), ValueError, "clip_grad_norm"),
    ("bidirectional_unknown_merge", lambda: layers.bidirectional(layers.rnn(2), merge="avg"), ValueError,
     "unknown merge 'avg'"),
    ("bidirectional_not_a_layer", lambda: layers.bidirectional(jnp.tanh), ValueError, "must be a Layer"),
    ("time_distributed_not_a_layer", lambda: layers.time_distributed(jnp.tanh), ValueError, "must be a Layer"),
    ("residual_not_a_layer", lambda: layers.residual(jnp.tanh), ValueError, "residual: block must be a Layer"),
    ("serial_not_a_layer", lambda: layers.serial(layers.dense(2), jnp.tanh), ValueError,
     "serial: argument 1 must be a Layer"),
    ("activation_unknown_name", lambda: layers.activation("rleu"), ValueError, "unknown activation 'rleu'"),
    ("activation_function_not_name", lambda: layers.activation(jnp.tanh), ValueError,
     "activations are chosen by name"),
    ("activation_str_alpha", lambda: activations.get("leaky_relu", alpha="0.1"), ValueError,
     "alpha must be a number"),
    ("activation_unexpected_hyperparameter", lambda: activations.get("relu", alpha=0.1), ValueError,
     "unexpected hyper-parameters"),
    # ---------------------------------------------------------------- layers: init and apply
    ("init_float_in_shape", lambda: traced_init(layers.dense(2), (4.0,)), ValueError,
     "in_shape must be the per-example input shape"),
    ("init_negative_in_shape", lambda: traced_init(models.mlp([2]), (-4,)), ValueError,
     "serial.init: in_shape must be"),
    ("init_none_in_shape", lambda: traced_init(layers.dense(2), None), ValueError, "in_shape must be"),
    ("init_data_instead_of_shape", lambda: traced_init(models.mlp([2]), np.zeros((5, 4))), ValueError,
     "pass x.shape[1:]"),
    ("init_none_key", lambda: layers.dense(2).init(None, (4,)), ValueError,
     "key must be a PRNG key such as jax.random.key(0)"),
    ("init_str_key", lambda: layers.dense(2).init("0", (4,)), ValueError, "key must be a PRNG key"),
    ("rnn_init_without_time_axis", lambda: traced_init(layers.rnn(3), 4), ValueError, "expected in_shape (T, D)"),
    ("max_pool_init_vector", lambda: traced_init(layers.max_pool(2), (4,)), ValueError, "expects HWC in_shape"),
    ("prelu_init_scalar", lambda: traced_init(layers.prelu(), ()), ValueError, "with a feature axis"),
    ("maxout_init_scalar", lambda: traced_init(layers.maxout(2), ()), ValueError, "divisible by 2"),
    ("apply_whole_init_output", lambda: models.mlp([2]).apply(((2,), (DENSE_PARAMS,)), X4), ValueError,
     "unpack it, out_shape, params = model.init"),
    ("dense_apply_whole_init_output", lambda: layers.dense(2).apply(((2,), DENSE_PARAMS), X4), ValueError,
     "init returns (out_shape, params)"),
    ("dense_apply_none_params", lambda: layers.dense(2).apply(None, X4), ValueError, "dense expects params"),
    ("apply_string_inputs", lambda: models.mlp([2]).apply((DENSE_PARAMS,), np.array([["a", "b", "c", "d"]])),
     ValueError, "inputs x must be a numeric array"),
    # ---------------------------------------------------------------- models
    ("mlp_no_sizes", lambda: models.mlp([]), ValueError, "mlp: sizes"),
    ("mlp_bool_size", lambda: models.mlp([True]), ValueError, "list of positive ints"),
    ("mlp_str_dropout_rate", lambda: models.mlp([3, 2], dropout_rate="0.1"), ValueError,
     "dropout_rate must be a number in [0, 1)"),
    ("mlp_dropout_rate_of_two", lambda: models.mlp([3], dropout_rate=2), ValueError,
     "mlp: dropout_rate must be in [0, 1)"),
    ("mlp_unknown_activation", lambda: models.mlp([3, 2], activation="rleu"), ValueError, "unknown activation"),
    ("cnn_channels_first", lambda: traced_init(models.cnn((2,), 3, dense_sizes=()), (1, 8, 8)), ValueError,
     "channels-last (H, W, C): in_shape (1, 8, 8) looks channels-first (C, H, W), use in_shape (8, 8, 1)"),
    ("cnn_channels_first_with_image_shape",
     lambda: traced_init(models.cnn((2,), 3, image_shape=(8, 8, 3), dense_sizes=()), (3, 8, 8)), ValueError,
     "use in_shape (8, 8, 3)"),
    ("cnn_image_in_shape_mismatch",
     lambda: traced_init(models.cnn((2,), 3, image_shape=(8, 8, 1), dense_sizes=()), (4, 16, 1)), ValueError,
     "cnn was built for inputs (N, H, W, C) or flattened (N, H*W*C) = (N, 8, 8, 1) or (N, 64)"),
    ("cnn_flat_input_without_image_shape", lambda: traced_init(models.cnn((2,), 3), (64,)), ValueError,
     "conv2d expects HWC in_shape"),
    ("cnn_two_axis_image_shape", lambda: models.cnn((2,), 3, image_shape=(8, 8)), ValueError,
     "image_shape must be (H, W, C)"),
    ("cnn_unknown_pool_type", lambda: models.cnn((2,), 3, pool_type="mean"), ValueError, "pool_type must be one of"),
    ("rnn_classifier_zero_hidden", lambda: models.rnn_classifier(0, 3), ValueError, "hidden must be a non-empty"),
    ("autoencoder_no_sizes", lambda: models.autoencoder([]), ValueError, "encoder_sizes"),
    ("autoencoder_negative_noise", lambda: models.autoencoder([2], noise_std=-0.1), ValueError,
     "noise_std must be >= 0"),
    ("conv_autoencoder_two_axis_image", lambda: models.conv_autoencoder((8, 8)), ValueError,
     "image_shape must be (H, W, C)"),
    ("conv_autoencoder_channels_first", lambda: traced_init(models.conv_autoencoder((8, 8, 1), (2,)), (1, 8, 8)),
     ValueError, "use in_shape (8, 8, 1)"),
    ("anomaly_threshold_percent", lambda: models.anomaly_threshold(jnp.ones(3), 95), ValueError,
     "e.g. 0.95 for the 95th percentile"),
    ("summary_zero_in_shape", lambda: models.summary(models.mlp([2]), (0,)), ValueError, "in_shape must be"),
    # ---------------------------------------------------------------- losses
    ("loss_string_class_targets", lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), np.array(["a", "b"])),
     ValueError, "targets must be a numeric array, got dtype <U1"),
    ("loss_float_labels", lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0.0, 1.0])),
     ValueError, "cast whole-number labels with y.astype(int)"),
    ("loss_string_regression_targets", lambda: losses.mse(jnp.zeros((2, 1)), np.array([["a"], ["b"]])),
     ValueError, "mse: targets must be a numeric array"),
    ("loss_none_target", lambda: losses.mse(jnp.zeros(2), None), ValueError, "mse: targets must be a numeric array"),
    ("loss_shape_mismatch", lambda: losses.mse(jnp.zeros((2, 1)), jnp.zeros(2)), ValueError,
     "must have the same shape"),
    ("loss_label_out_of_range", lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 3])),
     ValueError, "labels must lie in [0, 3)"),
    ("loss_scalar_logits", lambda: losses.softmax_cross_entropy(jnp.zeros(()), jnp.array(0)), ValueError,
     "got a scalar"),
    ("huber_negative_delta", lambda: losses.huber(jnp.zeros(2), jnp.ones(2), delta=-1.0), ValueError,
     "huber: delta must be > 0"),
    ("loss_unknown_name", lambda: losses.get("mse_loss"), ValueError, "unknown loss 'mse_loss'"),
    ("loss_unexpected_hyperparameter", lambda: losses.get("mse", delta=1.0), ValueError,
     "loss 'mse' got unexpected hyper-parameters ['delta']"),
    ("loss_not_a_loss", lambda: losses.get(3), ValueError, "loss must be a name, a function or a Loss"),
    ("loss_column_vs_vector_targets", lambda: losses.sigmoid_binary_cross_entropy(jnp.zeros((3, 1)), jnp.zeros(3)),
     ValueError, "reshape the targets, target.reshape(3, 1)"),
    ("cross_entropy_given_logits", lambda: losses.cross_entropy(jnp.array([[2.0, -1.0, 0.5]]), jnp.array([0])),
     ValueError, "for raw scores (logits) use softmax_cross_entropy"),
    ("binary_cross_entropy_given_logits",
     lambda: losses.binary_cross_entropy(jnp.array([[2.0], [-1.0]]), jnp.array([[1.0], [0.0]])), ValueError,
     "for raw scores (logits) use sigmoid_binary_cross_entropy"),
    ("head_unknown_task", lambda: losses.head("classification"), ValueError, "unknown task"),
    # ---------------------------------------------------------------- optimizers and schedules
    ("adam_negative_lr", lambda: optim.adam(-1), ValueError, "learning_rate must be >= 0"),
    ("adam_str_lr", lambda: optim.adam("1e-3"), ValueError, "learning_rate must be a number"),
    ("adam_none_lr", lambda: optim.adam(None), ValueError, "learning_rate must be a number"),
    ("sgd_list_lr", lambda: optim.sgd([0.1]), ValueError, "learning_rate must be a number"),
    ("sgd_str_momentum", lambda: optim.sgd(0.1, momentum="0.9"), ValueError, "momentum must be a number"),
    ("adam_b1_of_one", lambda: optim.adam(1e-3, b1=1.0), ValueError, "b1 must be in [0, 1)"),
    ("adam_str_b2", lambda: optim.adam(1e-3, b2="0.999"), ValueError, "b2 must be a number"),
    ("clip_str_norm", lambda: optim.clip_by_global_norm("1"), ValueError, "max_norm must be a number"),
    ("optimizer_unknown_name", lambda: optim.by_name("adamm", 0.1), ValueError, "unknown optimizer 'adamm'"),
    ("cosine_float_steps", lambda: optim.cosine_decay(0.1, 10.5), ValueError, "decay_steps must be a positive int"),
    ("exponential_str_rate", lambda: optim.exponential_decay(0.1, 10, "0.9"), ValueError,
     "decay_rate must be a number > 0"),
    ("one_cycle_zero_div_factor", lambda: optim.one_cycle(100, 0.1, div_factor=0), ValueError,
     "div_factor must be > 0"),
    ("step_decay_str_factor", lambda: optim.step_decay(0.1, 10, "0.5"), ValueError, "factor must be a number"),
    ("warmup_str_decay_steps", lambda: optim.warmup_cosine(0.0, 0.1, 10, "100"), ValueError,
     "decay_steps must be a positive int"),
    ("chain_optimizer_not_called", lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam), ValueError,
     "got adam; call it, e.g. optim.adam(1e-3)"),
    ("skip_nonfinite_optimizer_not_called", lambda: optim.skip_nonfinite(optim.sgd), ValueError,
     "skip_nonfinite: inner must be a GradientTransformation"),
    ("minimize_str_tol", lambda: optim.minimize(lambda v: jnp.sum(v ** 2), jnp.ones(2), tol="1e-6"), ValueError,
     "tol must be a number"),
    ("lr_finder_str_min_lr", lambda: optim.lr_finder(lambda p, xb, yb: jnp.sum(p), jnp.ones(2), jnp.zeros((8, 1)),
                                                     jnp.zeros(8), optim.sgd, key=KEY, min_lr="1e-7", batch_size=4),
     ValueError, "min_lr must be a number"),
    ("adamw_mask_by_name", lambda: optim.adamw(1e-3, mask="weights"), ValueError,
     "callable such as optim.weights_only_mask"),
    ("reduce_on_plateau_factor_two", lambda: optim.reduce_on_plateau(factor=2.0), ValueError,
     "factor must be in (0, 1)"),
    # ---------------------------------------------------------------- datasets
    ("load_unknown_name", lambda: datasets.load("nope"), ValueError, "unknown dataset 'nope'; known: digits"),
    ("load_name_in_a_list", lambda: datasets.load(["iris"]), ValueError, "unknown dataset ['iris']"),
    ("load_str_seed", lambda: datasets.load("iris", seed="0"), ValueError, "seed must be a non-negative int"),
    ("load_unknown_scale", lambda: datasets.load("iris", scale="zscore"), ValueError, "scale must be one of"),
    ("batches_float_size", lambda: datasets.batches(np.zeros((4, 1)), np.zeros(4), 2.0, shuffle=False),
     ValueError, "batch_size must be in [1, 4]"),
    ("one_hot_float_labels", lambda: datasets.one_hot(jnp.array([0.0, 1.0]), 2), ValueError,
     "labels must be integers"),
    ("one_hot_str_classes", lambda: datasets.one_hot(jnp.array([0, 1]), "2"), ValueError,
     "n_classes must be a positive int"),
    ("two_moons_str_noise", lambda: datasets.two_moons(KEY, 10, noise="0.1"), ValueError,
     "noise must be a number >= 0"),
    ("spirals_float_classes", lambda: datasets.spirals(KEY, 10, n_classes=2.0), ValueError,
     "n_classes must be a positive int"),
    ("generator_none_key", lambda: datasets.two_moons(None, 10), ValueError, "key must be a PRNG key"),
    ("scaler_feature_mismatch",
     lambda: datasets.standard_transform(datasets.standard_fit(np.ones((4, 3))), np.ones((4, 1))), ValueError,
     "the scaler was fitted on features of shape (3,), got x of shape (4, 1)"),
    ("minmax_str_feature_range", lambda: datasets.minmax_fit(np.ones((3, 2)), feature_range=(0, "1")), ValueError,
     "feature_range: b must be a number"),
    ("function_1d_not_a_function", lambda: datasets.function_1d(KEY, 10, fn=3), ValueError,
     "fn must be a name in sin, abs, step, square or an elementwise function"),
    ("minmax_fit_strings", lambda: datasets.minmax_fit(np.array([["a"]])), ValueError, "must be a numeric array"),
    # ---------------------------------------------------------------- metrics
    ("accuracy_string_labels", lambda: metrics.accuracy(jnp.zeros((2, 3)), np.array(["a", "b"])), ValueError,
     "labels must be a numeric array"),
    ("accuracy_fractional_labels", lambda: metrics.accuracy(jnp.array([0, 1]), jnp.array([0.5, 1.0])), ValueError,
     "non-integer values such as 0.5"),
    ("accuracy_str_threshold", lambda: metrics.accuracy(jnp.array([0.2, 0.7]), jnp.array([0, 1]), threshold="0.5"),
     ValueError, "threshold must be a number"),
    ("accuracy_length_mismatch", lambda: metrics.accuracy(jnp.zeros((2, 3)), jnp.array([0, 1, 2])), ValueError,
     "same number of examples; got 2 and 3"),
    ("confusion_float_n_classes", lambda: metrics.confusion_matrix(jnp.array([0, 1]), jnp.array([0, 1]), 2.0),
     ValueError, "n_classes must be a positive int"),
    ("confusion_zero_n_classes", lambda: metrics.confusion_matrix(jnp.array([0, 1]), jnp.array([0, 1]), 0),
     ValueError, "n_classes must be a positive int, got n_classes=0"),
    ("log_loss_str_eps", lambda: metrics.log_loss(jnp.array([0.2, 0.8]), jnp.array([0, 1]), eps="x"),
     ValueError, "eps must be a number"),
    ("r2_shape_mismatch", lambda: metrics.r2_score(jnp.zeros(3), jnp.zeros((3, 1))), ValueError, "same shape"),
    # ---------------------------------------------------------------- initializers
    ("initializer_unknown_name", lambda: initializers.get("he"), ValueError, "unknown initializer 'he'"),
    ("initializer_factory_not_called", lambda: layers.dense(3, kernel_init=initializers.normal), ValueError,
     "initializers.normal makes an initializer: call it"),
    ("initializer_str_std", lambda: initializers.normal("0.1"), ValueError, "normal: std must be a number"),
    ("initializer_negative_scale", lambda: initializers.uniform(-0.1), ValueError, "uniform: scale must be >= 0"),
    ("initializer_unknown_mode", lambda: initializers.variance_scaling(1.0, "fan_sum", "normal"), ValueError,
     "mode must be one of"),
    # ---------------------------------------------------------------- backprop
    ("value_and_grad_not_a_layer", lambda: backprop.value_and_grad(jnp.tanh, "mse"), ValueError,
     "value_and_grad: model must be a Layer"),
    ("value_and_grad_unknown_loss", lambda: backprop.value_and_grad(models.mlp([2]), "mes"), ValueError,
     "unknown loss 'mes'"),
    ("value_and_grad_str_l2", lambda: backprop.value_and_grad(models.mlp([2]), "mse", l2="0.1"), ValueError,
     "l2 must be a number >= 0"),
    ("autodiff_negative_l2", lambda: backprop.autodiff_value_and_grad(models.mlp([2]), "mse", l2=-1.0), ValueError,
     "l2 must be >= 0"),
    ("check_grads_zero_checks", lambda: backprop.check_grads(jnp.sum, jnp.ones(3), num_checks=0), ValueError,
     "num_checks must be a positive int"),
    ("check_grads_zero_eps", lambda: backprop.check_grads(jnp.sum, jnp.ones(3), eps=0.0), ValueError,
     "eps must be > 0"),
    ("check_grads_vector_output", lambda: backprop.check_grads(lambda p: p ** 2, jnp.ones(3)), ValueError,
     "f must return a scalar loss, got (3,)"),
    ("check_grads_int_params", lambda: backprop.check_grads(jnp.sum, jnp.ones(3, int)), ValueError,
     "need floating-point params"),
    ("check_grads_grads_structure",
     lambda: backprop.check_grads(lambda p: jnp.sum(p["w"]), {"w": jnp.ones(3)}, grads=jnp.ones(3)), ValueError,
     "grads must have the structure of params"),
    ("check_grads_not_a_function", lambda: backprop.check_grads("loss", jnp.ones(3)), ValueError,
     "f must be a function"),
    # ---------------------------------------------------------------- fit (through the checks above)
    ("fit_float_class_labels", lambda: fit_mlp("softmax_cross_entropy", jnp.array([0.0, 1.0])), ValueError,
     "cast whole-number labels with y.astype(int)"),
    ("fit_whole_init_output", lambda: train.fit(models.mlp([2]), ((2,), (DENSE_PARAMS,)), "mse", optim.sgd(0.1), X4,
                                                jnp.zeros((1, 2)), epochs=1, batch_size=1, key=0, progress=False),
     ValueError, "unpack it, out_shape, params = model.init"),
    ("fit_gradient_path_in_a_list", lambda: fit_mlp("mse", jnp.zeros((2, 2)), grad=["backprop"]), ValueError,
     "unknown gradient path ['backprop']"),
    ("fit_huber_negative_delta", lambda: fit_mlp(losses.get("huber", delta=-1.0), jnp.zeros((2, 2))), ValueError,
     "huber: delta must be > 0"),
]


@pytest.mark.parametrize("make, error, phrase", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_mistake_raises_an_error_that_names_it(make, error, phrase):
    with pytest.raises(Exception) as info:
        make()
    assert type(info.value) is error, f"raised {type(info.value).__name__}: {info.value}"
    assert re.search(re.escape(phrase), str(info.value)), str(info.value)


def test_catalogue_is_large_and_ids_are_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60


# ------------------------------------------------------------------------ sensible readings

def test_an_int_in_shape_is_a_one_tuple():
    model = models.mlp([3, 2])
    for shape in (4, np.int64(4), [4], np.array([4])):
        assert models.output_shape(model, shape) == (2,)
    assert traced_init(model, 4) == traced_init(model, (4,))
    assert models.summary(model, 4) == models.summary(model, (4,))


def test_an_int_key_is_a_seed():
    layer = layers.dense(2)
    by_seed, by_key = layer.init(3, (4,))[1], layer.init(jax.random.key(3), (4,))[1]
    np.testing.assert_array_equal(by_seed["W"], by_key["W"])
    np.testing.assert_array_equal(datasets.two_moons(3, 6)[0], datasets.two_moons(jax.random.key(3), 6)[0])
    x, y = np.arange(4.0)[:, None], np.arange(4)
    first = next(iter(datasets.batches(x, y, 2, key=3)))[1]
    np.testing.assert_array_equal(first, next(iter(datasets.batches(x, y, 2, key=jax.random.key(3))))[1])


def test_numpy_integers_are_integers():
    n = np.int64
    assert check_positive_int("n", n(3)) == 3 and type(check_positive_int("n", n(3))) is int
    shapes = {
        "dense": (layers.dense(n(3)), (4,), (3,)),
        "conv2d": (layers.conv2d(n(2), n(3)), (4, 4, 1), (4, 4, 2)),
        "maxout": (layers.maxout(n(2)), (4,), (2,)),
        "rnn": (layers.rnn(n(3)), (5, 2), (3,)),
        "embedding": (layers.embedding(n(5), n(3)), (7,), (7, 3)),
        "reshape": (layers.reshape((n(2), -1)), (4,), (2, 2)),
        "layer_norm": (layers.layer_norm(axis=n(-1)), (4,), (4,)),
        "mlp": (models.mlp([n(3), n(2)]), (4,), (2,)),
        "cnn": (models.cnn([n(2)], n(3), dense_sizes=[n(4)]), (4, 4, 1), (3,)),
        "rnn_classifier": (models.rnn_classifier(n(3), n(2)), (5, 2), (2,)),
    }
    for name, (layer, in_shape, out_shape) in shapes.items():
        assert models.output_shape(layer, tuple(n(d) for d in in_shape)) == out_shape, name
    assert optim.cosine_decay(0.1, n(10))(0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="need 0 < min_lr < max_lr"):  # np.int64 steps and batch pass their checks
        optim.lr_finder(jnp.sum, jnp.ones(2), jnp.zeros((8, 1)), jnp.zeros(8), optim.sgd, key=KEY, num_steps=n(20),
                        batch_size=n(4), half_window=n(2), skip_start=n(1), min_lr=1.0, max_lr=0.5)
    assert datasets.one_hot(jnp.array([0, 1]), n(2)).shape == (2, 2)
    assert metrics.confusion_matrix(jnp.array([0, 1]), jnp.array([0, 1]), n(2)).shape == (2, 2)


def test_lists_are_arrays():
    assert float(losses.mse([1.0, 2.0], [1.0, 2.0])) == 0.0
    assert float(losses.softmax_cross_entropy([[0.0, 0.0]], [1])) == pytest.approx(np.log(2))
    y = models.mlp([2]).apply((DENSE_PARAMS,), [[1.0, 2.0, 3.0, 4.0]])
    assert y.shape == (1, 2)


def test_whole_number_float_labels_are_class_indices():
    assert float(metrics.accuracy(jnp.array([0, 1, 1]), jnp.array([0.0, 1.0, 0.0]))) == pytest.approx(2 / 3)


def test_check_grads_reports_nan_rather_than_agreement():
    report = backprop.check_grads(lambda p: jnp.sum(jnp.sqrt(p)), -jnp.ones(3))
    assert np.isnan(report["params"])
