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
