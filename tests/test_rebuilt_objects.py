"""A model or optimizer rebuilt with the same configuration reuses the compiled programs
(`jaxnn.spec`): traces are counted with ``chex.assert_max_traces`` on train's epoch."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from checks import assert_trees_close
from jaxnn import callbacks, ensemble, evaluation, initializers, layers, models, optim, spec, train
from jaxnn.layers import Layer

N_FEATURES, N_CLASSES = 5, 3


@pytest.fixture(scope="module")
def data():
    k1, k2 = jax.random.split(jax.random.key(42))
    x = jax.random.normal(k1, (64, N_FEATURES))
    y = jnp.argmax(x @ jax.random.normal(k2, (N_FEATURES, N_CLASSES)), axis=1).astype(jnp.int32)
    return np.asarray(x), np.asarray(y)


@pytest.fixture
def max_traces(monkeypatch):
    """``max_traces(n)``: from now on every compiled epoch (train's and the ensemble's, both
    built by ``train._epoch_fn``) may be traced at most ``n`` times in all; the caches start empty."""
    build = train._epoch_fn

    def limit(n):
        chex.clear_trace_counter()
        for cache in (train._compiled_epoch, ensemble._compiled_epoch):
            cache.cache_clear()
        monkeypatch.setattr(train, "_epoch_fn", lambda *args: chex.assert_max_traces(build(*args), n=n))

    yield limit
    chex.clear_trace_counter()
    train._compiled_epoch.cache_clear()
    ensemble._compiled_epoch.cache_clear()


def fit(model, optimizer, x, y, params=None, **options):
    """One epoch of ``fit`` from ``model``'s init with key 0 (or ``params``)."""
    if params is None:
        params = model.init(jax.random.key(0), x.shape[1:])[1]
    return train.fit(model, params, "softmax_cross_entropy", optimizer, x, y, **{
        "epochs": 1, "batch_size": 16, "key": jax.random.key(1), "progress": False, **options})


def mlp(**overrides):
    return models.mlp(**{"sizes": [8, N_CLASSES], "activation": "tanh", "dropout_rate": 0.1, **overrides})


# --- rebuilt objects reuse the compiled epoch -----------------------------------------------

def test_a_rebuilt_mlp_and_adam_reuse_the_compiled_epoch_and_train_the_same(data, max_traces):
    max_traces(1)
    first, _ = fit(mlp(), optim.adam(1e-3), *data)
    again, _ = fit(mlp(), optim.adam(1e-3), *data)  # both rebuilt: no second trace
    assert train._compiled_epoch.cache_info().currsize == 1
    assert_trees_close(again, first, rtol=0, atol=0)


def test_a_float_learning_rate_is_keyed_by_value(data, max_traces):
    max_traces(1)
    fit(mlp(), optim.adam(1e-3), *data)
    fit(mlp(), optim.adam(10.0 ** -3), *data)
    fit(mlp(), optim.adam(float("0.001")), *data)


def test_a_rebuilt_cnn_reuses_the_compiled_epoch(max_traces):
    x = np.asarray(jax.random.normal(jax.random.key(0), (32, 6, 6, 1)))
    y = np.arange(32, dtype=np.int32) % N_CLASSES

    def build():
        return models.cnn((4,), N_CLASSES, dense_sizes=(8,), dropout_rate=0.1)

    for grad in ("autodiff", "backprop"):
        max_traces(1)
        first, _ = fit(build(), optim.sgd(1e-2, momentum=0.9), x, y, grad=grad)
        again, _ = fit(build(), optim.sgd(1e-2, momentum=0.9), x, y, grad=grad)
        assert_trees_close(again, first, rtol=0, atol=0)


def test_a_rebuilt_lstm_reuses_the_compiled_epoch(max_traces):
    x = np.asarray(jax.random.normal(jax.random.key(0), (32, 4, 3)))
    y = np.arange(32, dtype=np.int32) % N_CLASSES

    def build():
        return models.rnn_classifier(6, N_CLASSES, cell="lstm", clip_grad_norm=5.0)

    max_traces(1)
    first, _ = fit(build(), optim.adam(optim.cosine_decay(1e-2, 100)), x, y, grad="backprop")
    again, _ = fit(build(), optim.adam(optim.cosine_decay(1e-2, 100)), x, y, grad="backprop")
    assert_trees_close(again, first, rtol=0, atol=0)


@pytest.mark.parametrize("model, optimizer", [
    (lambda: mlp(sizes=[9, N_CLASSES]), lambda: optim.adam(1e-3)),          # another width
    (lambda: mlp(), lambda: optim.adam(2e-3)),                              # another learning rate
    (lambda: mlp(dropout_rate=0.2), lambda: optim.adam(1e-3)),              # another dropout rate
    (lambda: mlp(activation="relu"), lambda: optim.adam(1e-3)),             # another activation
    (lambda: mlp(kernel_init=initializers.normal(0.5)), lambda: optim.adam(1e-3)),  # another initializer
    (lambda: mlp(), lambda: optim.adam(optim.cosine_decay(1e-3, 10))),      # a schedule
    (lambda: mlp(), lambda: optim.adamw(1e-3)),                             # another optimizer
], ids=["width", "lr", "dropout", "activation", "initializer", "schedule", "optimizer"])
def test_a_different_configuration_traces_again(data, max_traces, model, optimizer):
    max_traces(1)
    fit(mlp(), optim.adam(1e-3), *data)
    with pytest.raises(AssertionError, match="traced > 1 times"):
        fit(model(), optimizer(), *data)


def test_fit_ensemble_and_predict_ensemble_reuse_with_rebuilt_objects(data, max_traces):
    max_traces(1)
    stack = ensemble.init_ensemble(mlp(), jax.random.key(0), (N_FEATURES,), 3)
    first, _ = ensemble.fit_ensemble(mlp(), stack, "softmax_cross_entropy", optim.adam(1e-3), *data,
                                     epochs=1, batch_size=16, key=1)
    again, _ = ensemble.fit_ensemble(mlp(), stack, "softmax_cross_entropy", optim.adam(1e-3), *data,
                                     epochs=1, batch_size=16, key=1)
    assert_trees_close(again, first, rtol=0, atol=0)
    ensemble._compiled_predict.cache_clear()
    ensemble.predict_ensemble(mlp(), first, data[0])
    ensemble.predict_ensemble(mlp(), first, data[0])
    info = ensemble._compiled_predict.cache_info()
    assert (info.misses, info.currsize) == (1, 1)


def test_predict_and_evaluate_reuse_with_a_rebuilt_model(data):
    model = mlp()
    params = model.init(jax.random.key(0), (N_FEATURES,))[1]
    evaluation._compiled_predict.cache_clear()
    first = evaluation.predict(model, params, data[0])
    again = evaluation.predict(mlp(), params, data[0])
    evaluation.evaluate(mlp(), params, "softmax_cross_entropy", *data)
    info = evaluation._compiled_predict.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
    np.testing.assert_array_equal(again, first)


def test_reduce_lr_on_a_rebuilt_optimizer_reuses_the_compiled_epoch(data, max_traces):
    max_traces(1)
    for _ in range(2):
        fit(mlp(), optim.adam(1e-3), *data, reduce_lr=optim.reduce_on_plateau(patience=1), epochs=2)
    assert callbacks._with_lr_factor(optim.adam(1e-3)) is callbacks._with_lr_factor(optim.adam(1e-3))


# --- objects without a spec fall back to identity ---------------------------------------------

def test_an_optax_transformation_works_and_recompiles_only_when_rebuilt(data, max_traces):
    opt = optax.adam(1e-3)
    max_traces(1)
    fit(mlp(), opt, *data)
    fit(mlp(), opt, *data)  # the same optax object: reused
    with pytest.raises(AssertionError, match="traced > 1 times"):
        fit(mlp(), optax.adam(1e-3), *data)  # optax objects carry no spec: a new one compiles
    max_traces(2)
    mixed = optax.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))  # jaxnn transforms inside optax
    fit(mlp(), mixed, *data)


def scale_by_two() -> Layer:
    """A user-written layer: ``y = 2 x``."""
    return Layer(lambda key, in_shape: (tuple(in_shape), ()),
                 lambda params, x, *, key=None, train=False: 2 * x,
                 lambda params, x, dy, *, key=None, train=False: ((), 2 * dy))


def test_a_user_written_layer_works_and_is_keyed_by_identity(data, max_traces):
    user = scale_by_two()
    assert spec.spec_of(user) is None and spec.cache_key(user) != spec.cache_key(scale_by_two())
    max_traces(1)
    fit(layers.serial(layers.dense(4), user, layers.dense(N_CLASSES)), optim.adam(1e-3), *data, grad="backprop")
    fit(layers.serial(layers.dense(4), user, layers.dense(N_CLASSES)), optim.adam(1e-3), *data, grad="backprop")
    with pytest.raises(AssertionError, match="traced > 1 times"):
        fit(layers.serial(layers.dense(4), scale_by_two(), layers.dense(N_CLASSES)), optim.adam(1e-3), *data,
            grad="backprop")


# --- what a spec is ---------------------------------------------------------------------------

def test_specs_of_nested_combinators_compare_by_value():
    def build(width=3, rate=0.5):
        inner = layers.serial(layers.dense(width), layers.activation("leaky_relu", alpha=0.2), layers.dropout(rate))
        return layers.serial(layers.residual(layers.dense(4)), inner,
                             layers.time_distributed(layers.dense(2)), layers.bidirectional(layers.rnn(2)))

    a, b = build(), build()
    assert a is not b and a != b  # the objects keep tuple (identity of functions) equality
    assert spec.spec_of(a) == spec.spec_of(b) and hash(spec.spec_of(a)) == hash(spec.spec_of(b))
    assert spec.spec_of(build(width=4)) != spec.spec_of(a)
    assert spec.spec_of(build(rate=0.25)) != spec.spec_of(a)
    assert "dropout(rate=0.5)" in repr(spec.spec_of(a))


def test_jaxnn_objects_keep_their_protocols():
    model, opt = models.mlp([4, 2]), optim.adam(1e-3)
    assert isinstance(model, Layer) and type(model).__name__ == "Layer"
    assert tuple(model) == tuple(Layer(*model)) and model._fields == Layer._fields
    assert isinstance(opt, optax.GradientTransformation)
    assert repr(model).startswith("Layer(init=")
    params = {"w": jnp.ones(3)}
    chained = optax.chain(opt, optax.scale(0.5))
    updates, _ = chained.update({"w": jnp.ones(3)}, chained.init(params), params)
    assert updates["w"].shape == (3,)


def test_an_argument_that_cannot_be_keyed_leaves_no_spec():
    opt = optim.scale(jnp.asarray(0.1))  # an array: no spec, keyed by identity
    assert spec.spec_of(opt) is None and spec.cache_key(opt) != spec.cache_key(optim.scale(jnp.asarray(0.1)))
    assert spec.spec_of(optim.scale(0.1)) == spec.spec_of(optim.scale(0.1))


def test_a_function_argument_is_keyed_by_identity():
    def my_init(key, shape, dtype=None):
        return jnp.zeros(shape, dtype)

    assert spec.spec_of(layers.dense(3, kernel_init=my_init)) == spec.spec_of(layers.dense(3, kernel_init=my_init))
    assert spec.spec_of(layers.dense(3, kernel_init=lambda *a: my_init(*a))) != spec.spec_of(
        layers.dense(3, kernel_init=lambda *a: my_init(*a)))
    # a configured initializer is keyed by value
    assert spec.spec_of(layers.dense(3, kernel_init=initializers.normal(0.1))) == spec.spec_of(
        layers.dense(3, kernel_init=initializers.normal(0.1)))


def test_a_spec_belongs_to_the_object_that_was_built():
    model = layers.dense(3)
    assert spec.spec_of(model) is not None
    swapped = Layer(model.init, lambda params, x, **kw: 3 * model.apply(params, x, **kw), model.backward)
    assert spec.spec_of(swapped) is None and spec.spec_of(model._replace(apply=swapped.apply)) is None
    schedule = optim.cosine_decay(1e-3, 100)

    @functools.wraps(schedule)
    def doubled(step):
        return 2 * schedule(step)

    assert spec.spec_of(schedule) is not None and spec.spec_of(doubled) is None


def test_numbers_are_keyed_with_their_type_and_sign():
    assert spec.normalized(1e-3) == spec.normalized(10.0 ** -3)
    assert spec.normalized(1) != spec.normalized(1.0) != spec.normalized(True)
    assert spec.normalized(0.0) != spec.normalized(-0.0)
    assert spec.normalized(np.float32(0.5)) != spec.normalized(0.5)
    assert spec.normalized([64, 10]) == spec.normalized([64, 10]) != spec.normalized((64, 10))


def test_the_float64_flag_is_part_of_the_spec():
    with jax.enable_x64(False):
        single = models.mlp([4, 2])
    assert spec.spec_of(single) != spec.spec_of(models.mlp([4, 2]))  # the suite runs with x64 on


def test_cached_keeps_cache_info_and_cache_clear():
    calls = []

    @spec.cached(maxsize=8)
    def build(model):
        calls.append(model)
        return len(calls)

    assert build(models.mlp([4, 2])) == build(models.mlp([4, 2])) == build(model=models.mlp([4, 2])) - 1 == 1
    assert build(models.mlp([5, 2])) == 3
    assert build.cache_info().currsize == 3
    build.cache_clear()
    assert build.cache_info().currsize == 0


def test_positional_keyword_and_default_arguments_give_one_spec():
    assert spec.spec_of(layers.dense(3)) == spec.spec_of(layers.dense(units=3)) == spec.spec_of(
        layers.dense(3, use_bias=True, kernel_init=initializers.glorot_uniform))
    assert spec.spec_of(optim.sgd(0.1, 0.9)) == spec.spec_of(optim.sgd(learning_rate=0.1, momentum=0.9))
    assert spec.spec_of(layers.activation("elu", alpha=0.5)) != spec.spec_of(layers.activation("elu"))
    assert spec.spec_of(layers.serial(layers.dense(2))) != spec.spec_of(layers.serial(layers.dense(2), layers.dense(2)))
