"""Models: mlp structure and forward values, parameter counts (Liverpool's formula), summary, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import initializers, models
from jaxnn.layers import activation, dense, dropout, residual, serial


def lecture_formula(widths):
    """Liverpool, "Network size determines representational capacity": sum_l (n_l n_{l+1} + n_{l+1}),
    written out independently of the library."""
    total = 0
    for n_l, n_next in zip(widths[:-1], widths[1:]):
        total += n_l * n_next + n_next
    return total


def test_mlp_structure():
    model = models.mlp([5, 4, 3], activation="tanh")
    assert model.name == "serial"
    assert [c.name for c in model.children] == ["dense", "tanh", "dense", "tanh", "dense"]
    model = models.mlp([5, 3], activation="relu", output_activation="softmax", dropout_rate=0.2)
    assert [c.name for c in model.children] == ["dense", "relu", "dropout", "dense", "softmax"]
    assert [c.name for c in models.mlp([3]).children] == ["dense"]  # no hidden layer
    assert [c.name for c in models.mlp([3], output_activation="sigmoid").children] == ["dense", "sigmoid"]
    assert [c.name for c in models.mlp([3], output_activation="linear").children] == ["dense"]


def test_mlp_forward_equals_numpy(key):
    model = models.mlp([4, 3, 2], activation="tanh", output_activation="softmax")
    out_shape, params = model.init(key, (5,))
    assert out_shape == (2,)
    x = np.random.default_rng(0).standard_normal((6, 5))
    # the lectures' forward pass with row vectors: a = h(a W + b), softmax at the end
    a = x
    dense_params = [p for p in params if p != ()]
    assert [p["W"].shape for p in dense_params] == [(5, 4), (4, 3), (3, 2)]
    for i, p in enumerate(dense_params):
        z = a @ np.asarray(p["W"]) + np.asarray(p["b"])
        a = np.tanh(z) if i < 2 else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model.apply(params, jnp.asarray(x))), a, rtol=1e-12)


def test_mlp_dropout_active_only_in_training(key):
    model = models.mlp([50, 2], dropout_rate=0.5)
    _, params = model.init(key, (3,))
    x = jnp.ones((4, 3))
    eval_out = model.apply(params, x)
    np.testing.assert_array_equal(np.asarray(model.apply(params, x, train=False, key=jax.random.key(1))),
                                  np.asarray(eval_out))
    assert not np.allclose(np.asarray(model.apply(params, x, train=True, key=jax.random.key(1))),
                           np.asarray(eval_out))


def test_mlp_default_initializers_follow_the_activation():
    assert models.default_kernel_init("relu") is initializers.he_uniform
    assert models.default_kernel_init("gelu") is initializers.he_uniform
    assert models.default_kernel_init("selu") is initializers.lecun_normal
    assert models.default_kernel_init("tanh") is initializers.glorot_uniform
    assert models.default_kernel_init("sigmoid") is initializers.glorot_uniform


def test_mlp_kernel_init_is_used(key):
    model = models.mlp([3, 2], kernel_init=initializers.constant(0.5))
    _, params = model.init(key, (4,))
    np.testing.assert_array_equal(np.asarray(params[0]["W"]), np.full((4, 3), 0.5))


ARCHITECTURES = [
    (4, [3]),                 # mlp([C]): logistic regression, 4*3 + 3
    (1, [1]),
    (10, [7, 2]),
    (784, [128, 64, 10]),     # the classic MNIST MLP: 109,386
    (3, [5, 5, 5, 5, 1]),
    (2, [1, 1, 1]),
]


@pytest.mark.parametrize("in_features, sizes", ARCHITECTURES, ids=str)
def test_count_params_equals_lecture_formula(in_features, sizes, key):
    model = models.mlp(sizes, activation="tanh")
    _, params = model.init(key, (in_features,))
    expected = lecture_formula([in_features, *sizes])
    assert models.count_params(params) == expected
    assert models.mlp_param_count(in_features, sizes) == expected
    # and by hand, leaf by leaf
    assert sum(np.asarray(leaf).size for leaf in jax.tree_util.tree_leaves(params)) == expected


def test_count_params_known_values():
    assert models.mlp_param_count(784, [128, 64, 10]) == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 == 109_386
    assert models.mlp_param_count(4, [3]) == 15
    assert models.count_params(()) == 0
    assert models.count_params({"a": jnp.zeros((2, 3)), "b": (jnp.zeros(4), jnp.zeros(()))}) == 11


def test_count_params_ignores_parameter_free_layers(key):
    model = serial(dense(3), activation("relu"), dropout(0.5), dense(2, use_bias=False))
    _, params = model.init(key, (4,))
    assert models.count_params(params) == 4 * 3 + 3 + 3 * 2


def test_summary_lists_every_layer_shape_and_total(key):
    model = models.mlp([32, 16, 10], activation="relu", output_activation="softmax")
    text = models.summary(model, (20,))
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Output", "shape", "Params"]
    body = [line.split() for line in lines[2:-2]]
    # one row per layer: name, output shape "(None, k)" (two tokens), parameter count
    expected = [("dense", "(None,", "32)", "672"), ("relu", "(None,", "32)", "0"),
                ("dense", "(None,", "16)", "528"), ("relu", "(None,", "16)", "0"),
                ("dense", "(None,", "10)", "170"), ("softmax", "(None,", "10)", "0")]
    assert [tuple(row) for row in body] == expected
    total = lecture_formula([20, 32, 16, 10])
    assert total == 1370
    assert lines[-1] == "Total params: 1,370"
    _, params = model.init(key, (20,))
    assert models.summary(model, (20,), params) == text


def test_summary_of_nested_and_residual_models(key):
    model = serial(dense(8), residual(serial(dense(8), activation("tanh"))), dense(2))
    text = models.summary(model, (3,))
    assert "residual" in text and "  dense" in text and "  tanh" in text
    rows = [line.split() for line in text.splitlines()[2:-2]]
    names = [r[0] for r in rows]
    assert names == ["dense", "residual", "dense", "tanh", "dense"]
    assert rows[1][-1] == str(8 * 8 + 8)          # the wrapper shows its block's params
    assert text.splitlines()[-1] == f"Total params: {3 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2}"


def test_summary_with_multi_axis_shapes(key):
    model = serial(dense(4), activation("relu"))
    text = models.summary(model, (5, 3))
    assert "(None, 5, 4)" in text
    assert text.splitlines()[-1] == "Total params: 16"


@pytest.mark.parametrize("sizes", [[], [0], [3, -1], [2.5], ["4"], [3, 0, 2]], ids=str)
def test_mlp_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        models.mlp(sizes)


def test_mlp_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        models.mlp([3, 2], activation="rleu")
    with pytest.raises(ValueError, match="unknown activation"):
        models.mlp([3, 2], output_activation="softmaxx")


def test_summary_and_output_shape_name_a_bad_in_shape(key):
    model = models.mlp([4, 2])
    _, params = model.init(key, (3,))
    for bad in (params, (3.0,), (0,), (True,)):
        for fn in (models.summary, models.output_shape):
            with pytest.raises(ValueError, match=r"in_shape must be the per-example input shape.*\(64,\)"):
                fn(model, bad)
    assert models.output_shape(model, np.array([3])[:1].tolist()) == (2,)
    assert models.output_shape(model, (np.int64(3),)) == (2,)
    assert models.output_shape(model, 3) == (2,)  # an int d means (d,), as in every init
