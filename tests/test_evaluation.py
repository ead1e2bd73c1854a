"""Inference and scoring: default metrics come from the loss's task head; `evaluate` takes
fit's argument order and checks its data."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm

from jaxnn import evaluation, losses, models

RNG = np.random.default_rng(0)
SCORES = jnp.asarray(RNG.standard_normal((12, 3)))
LABELS = jnp.asarray(RNG.integers(0, 3, 12), jnp.int32)
LOGIT = jnp.asarray(RNG.standard_normal((12, 1)))
BINARY = jnp.asarray(RNG.integers(0, 2, (12, 1)).astype(np.float64))


def test_multiclass_losses_score_the_most_probable_class():
    expected = skm.accuracy_score(np.asarray(LABELS), np.argmax(np.asarray(SCORES), 1))
    on_logits = evaluation.default_metrics("softmax_cross_entropy")(SCORES, LABELS)
    on_probabilities = evaluation.default_metrics("cross_entropy")(jax.nn.softmax(SCORES), LABELS)
    assert float(on_logits["accuracy"]) == pytest.approx(expected, abs=1e-15)
    assert float(on_probabilities["accuracy"]) == pytest.approx(expected, abs=1e-15)


def test_binary_losses_decide_at_logit_0_and_probability_one_half():
    expected = skm.accuracy_score(np.asarray(BINARY[:, 0]), np.asarray(LOGIT[:, 0]) > 0)
    on_logits = evaluation.default_metrics("sigmoid_binary_cross_entropy")(LOGIT, BINARY)
    on_probabilities = evaluation.default_metrics(losses.binary_cross_entropy)(jax.nn.sigmoid(LOGIT), BINARY)
    assert float(on_logits["accuracy"]) == pytest.approx(expected, abs=1e-15)
    assert float(on_probabilities["accuracy"]) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "sum_of_squares"])
def test_regression_losses_score_r2_over_every_column(loss):
    target = jnp.asarray(RNG.standard_normal((12, 2)))
    pred = target + 0.3 * SCORES[:, :2]
    got = evaluation.default_metrics(loss)(pred, target)
    assert float(got["r2"]) == pytest.approx(skm.r2_score(np.asarray(target), np.asarray(pred)), rel=1e-12)


def test_losses_without_a_head_have_no_default_metric():
    assert evaluation.default_metrics("gaussian_nll")(SCORES[:, :2], SCORES[:, :1]) == {}
    assert evaluation.default_metrics(lambda p, t: jnp.mean((p - t) ** 4))(SCORES, SCORES) == {}


def test_evaluate_takes_fits_order_and_checks_its_data():
    model = models.mlp([4, 3])
    _, params = model.init(jax.random.key(0), (5,))
    x = jnp.asarray(RNG.standard_normal((12, 5)))
    scores = evaluation.evaluate(model, params, "softmax_cross_entropy", x, LABELS)
    logits = model.apply(params, x)
    assert scores["loss"] == pytest.approx(float(losses.softmax_cross_entropy(logits, LABELS)), rel=1e-12)
    assert scores["accuracy"] == pytest.approx(float(jnp.mean(jnp.argmax(logits, 1) == LABELS)))
    with pytest.raises(ValueError, match="evaluate: labels must lie in"):
        evaluation.evaluate(model, params, "softmax_cross_entropy", x, LABELS + 3)
    with pytest.raises(ValueError, match="evaluate: x contains NaN"):
        evaluation.evaluate(model, params, "softmax_cross_entropy", x.at[0, 0].set(jnp.nan), LABELS)


def test_predict_in_chunks_equals_apply_for_any_chunk_size():
    model = models.mlp([4, 3])
    _, params = model.init(jax.random.key(0), (5,))
    x = jnp.asarray(RNG.standard_normal((13, 5)))
    for batch_size in (1, 5, 13, 100):
        np.testing.assert_allclose(evaluation.predict(model, params, x, batch_size=batch_size),
                                   model.apply(params, x), rtol=1e-12)


def test_data_checks_run_once_per_jax_array_and_every_time_for_numpy(monkeypatch):
    """A jax.Array never changes, so checking it again is skipped (fit called per epoch on a
    large dataset would otherwise scan it every call); a NumPy array can change in place."""
    model = models.mlp([3], activation="relu")
    _, params = model.init(jax.random.key(0), (4,))
    x, y = jnp.asarray(RNG.standard_normal((10, 4))), jnp.asarray(RNG.integers(0, 3, 10), jnp.int32)
    scans = []
    real_all_finite = evaluation._all_finite
    monkeypatch.setattr(evaluation, "_all_finite", lambda a: scans.append(a.shape) or real_all_finite(a))
    label_checks = []
    real_check_labels = losses.check_labels
    monkeypatch.setattr(losses, "check_labels", lambda *args: label_checks.append(1) or real_check_labels(*args))
    for _ in range(3):
        evaluation.check_data(model, params, losses.get("softmax_cross_entropy"), x, y, "fit")
    assert scans == [(10, 4)] and label_checks == [1]

    x_host = np.asarray(x).copy()
    evaluation.check_data(model, params, losses.get("softmax_cross_entropy"), x_host, y, "fit")
    x_host[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        evaluation.check_data(model, params, losses.get("softmax_cross_entropy"), x_host, y, "fit")
    with pytest.raises(ValueError, match="x contains NaN or inf"):  # a new jax array: checked
        evaluation.check_data(model, params, losses.get("softmax_cross_entropy"), jnp.asarray(x_host), y, "fit")
    bad_labels = y.at[0].set(7)
    for _ in range(2):  # a failed check is not remembered
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
            evaluation.check_data(model, params, losses.get("softmax_cross_entropy"), x, bad_labels, "fit")
