"""jaxnn.metrics against scikit-learn's metrics on random data."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import metrics

skm = pytest.importorskip("sklearn.metrics")


def random_labels(seed, n=60, n_classes=4):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_classes, n), rng.integers(0, n_classes, n)


def random_probabilities(seed, n=60, n_classes=4):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1.0, (n, n_classes))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(3))
def test_accuracy_of_labels_logits_and_one_hot_matches_sklearn(seed):
    y, y_hat = random_labels(seed)
    expected = skm.accuracy_score(y, y_hat)
    logits = np.random.default_rng(seed).normal(size=(len(y), 4))
    assert float(metrics.accuracy(y_hat, y)) == pytest.approx(expected, abs=1e-15)
    assert float(metrics.accuracy(logits, y)) == pytest.approx(
        skm.accuracy_score(y, logits.argmax(1)), abs=1e-15)
    assert float(metrics.accuracy(y_hat, np.eye(4)[y])) == pytest.approx(expected, abs=1e-15)
    assert float(metrics.accuracy(y_hat[:, None], y[:, None])) == pytest.approx(expected)


def test_accuracy_binary_probabilities_and_logits_thresholds():
    labels = np.array([0, 1, 1, 0, 1])
    probabilities = np.array([0.2, 0.7, 0.4, 0.5, 0.99])     # 0.5 is not > 0.5 -> class 0
    assert float(metrics.accuracy(probabilities, labels)) == pytest.approx(4 / 5)
    assert float(metrics.accuracy(probabilities[:, None], labels)) == pytest.approx(4 / 5)
    logits = np.log(probabilities / (1 - probabilities))
    assert float(metrics.accuracy(logits, labels, threshold=0.0)) == pytest.approx(4 / 5)
    np.testing.assert_array_equal(metrics.predicted_labels(probabilities), [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(metrics.predicted_labels(np.array([True, False])), [1, 0])


def test_accuracy_is_jittable():
    y, y_hat = random_labels(7)
    jitted = jax.jit(metrics.accuracy)
    assert float(jitted(jnp.asarray(y_hat), jnp.asarray(y))) == pytest.approx(
        skm.accuracy_score(y, y_hat))


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_sklearn(seed):
    y, y_hat = random_labels(seed, n_classes=5)
    expected = skm.confusion_matrix(y, y_hat, labels=np.arange(6))
    got = metrics.confusion_matrix(y_hat, y, 6)      # class 5 never occurs: zero row/col
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == jnp.int32
    jitted = jax.jit(metrics.confusion_matrix, static_argnums=2)
    np.testing.assert_array_equal(jitted(jnp.asarray(y_hat), jnp.asarray(y), 6), expected)


@pytest.mark.parametrize("seed", range(3))
def test_precision_recall_f1_matches_sklearn_with_zero_division(seed):
    y, y_hat = random_labels(seed, n=25, n_classes=4)
    y_hat = np.where(y_hat == 3, 2, y_hat)          # class 3 never predicted: precision 0/0
    n_classes = 5                                   # class 4 absent from both: all 0/0
    got = metrics.precision_recall_f1(y_hat, y, n_classes)
    labels = np.arange(n_classes)
    p, r, f, s = skm.precision_recall_fscore_support(y, y_hat, labels=labels,
                                                     zero_division=0)
    np.testing.assert_allclose(got.precision, p, atol=1e-12)
    np.testing.assert_allclose(got.recall, r, atol=1e-12)
    np.testing.assert_allclose(got.f1, f, atol=1e-12)
    np.testing.assert_array_equal(got.support, s)
    macro = skm.precision_recall_fscore_support(y, y_hat, labels=labels, average="macro",
                                                zero_division=0)[:3]
    np.testing.assert_allclose((got.macro_precision, got.macro_recall, got.macro_f1), macro,
                               atol=1e-12)
    assert got.precision[3] == got.f1[4] == 0.0                # the 0/0 cases are 0, not nan


def test_label_range_and_length_errors():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="predicted labels must lie"):
        metrics.confusion_matrix(np.array([-1, 1]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="same number of examples; got 3 and 2"):
        metrics.accuracy(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        metrics.accuracy(np.zeros((2, 3, 4)), np.array([0, 1]))


@pytest.mark.parametrize("shape", [(40,), (40, 3)])
def test_regression_metrics_match_sklearn(shape):
    rng = np.random.default_rng(1)
    t = rng.normal(size=shape)
    p = t + 0.5 * rng.normal(size=shape)
    np.testing.assert_allclose(metrics.mean_squared_error(p, t),
                               skm.mean_squared_error(t, p), rtol=1e-12)
    np.testing.assert_allclose(metrics.r2_score(p, t), skm.r2_score(t, p), rtol=1e-12)
    np.testing.assert_allclose(jax.jit(metrics.r2_score)(p, t), skm.r2_score(t, p), rtol=1e-12)


def test_r2_constant_target_follows_sklearn_force_finite():
    t = np.full(5, 2.0)
    assert float(metrics.r2_score(t, t)) == skm.r2_score(t, t) == 1.0
    p = t + np.arange(5)
    assert float(metrics.r2_score(p, t)) == skm.r2_score(t, p) == 0.0
    with pytest.raises(ValueError, match=r"same shape; got \(5, 1\) and \(5,\)"):
        metrics.r2_score(p[:, None], t)


@pytest.mark.parametrize("seed", range(3))
def test_log_loss_multiclass_matches_sklearn(seed):
    y, _ = random_labels(seed, n_classes=4)
    y[:4] = np.arange(4)                       # every class present, as sklearn needs
    proba = random_probabilities(seed, n_classes=4)
    expected = skm.log_loss(y, proba)
    np.testing.assert_allclose(metrics.log_loss(proba, y), expected, rtol=1e-12)
    np.testing.assert_allclose(metrics.log_loss(proba, np.eye(4)[y]), expected, rtol=1e-12)
    jitted = jax.jit(partial(metrics.log_loss, eps=1e-15))
    np.testing.assert_allclose(jitted(jnp.asarray(proba), jnp.asarray(y)), expected,
                               rtol=1e-12)


def test_log_loss_binary_and_clipping_match_sklearn():
    y = np.array([0, 1, 1, 0, 1, 0])
    p1 = np.array([0.1, 0.8, 0.0, 0.3, 1.0, 0.5])  # exact 0 and 1 need the clip
    expected = skm.log_loss(y, p1)
    np.testing.assert_allclose(metrics.log_loss(p1, y), expected, rtol=1e-12)
    np.testing.assert_allclose(metrics.log_loss(p1[:, None], y), expected, rtol=1e-12)
    assert np.isfinite(float(metrics.log_loss(p1, y)))


def test_metrics_follow_default_float_dtype_without_x64():
    with jax.enable_x64(False):
        y, y_hat = random_labels(0)
        assert metrics.accuracy(y_hat, y).dtype == jnp.float32
        assert metrics.precision_recall_f1(y_hat, y, 4).f1.dtype == jnp.float32


def test_every_metric_takes_pred_then_target():
    """One argument order across the library: the model's output first, as in the losses."""
    import inspect

    from jaxnn import losses

    for fn in (metrics.accuracy, metrics.confusion_matrix, metrics.precision_recall_f1,
               metrics.mean_squared_error, metrics.r2_score, metrics.log_loss):
        first, second = list(inspect.signature(fn).parameters)[:2]
        assert first in ("pred", "probabilities") and second in ("labels", "target"), fn.__name__
    for name in losses.NAMES:
        first, second = list(inspect.signature(getattr(losses, name)).parameters)[:2]
        assert (first, second) in {("pred", "target"), ("prob", "target"), ("logits", "target")}, name
