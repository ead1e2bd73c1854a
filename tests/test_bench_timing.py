"""benchmarks/timing.py and reference.py: interleaved rounds in alternating order, paired
ratios, quartiles, tables; the hand-written reference training loop."""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reference  # noqa: E402
import timing  # noqa: E402


def test_rounds_alternate_the_order_and_keep_each_contenders_times():
    calls = []

    def timer(name, seconds):
        def run():
            calls.append(name)
            return seconds
        return run

    times = timing.interleaved_rounds({"a": timer("a", 1.0), "b": timer("b", 2.0), "c": timer("c", 4.0)}, 3)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert times == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [4.0] * 3}


def test_paired_ratios_cancel_a_drift_that_hits_both_alike():
    load = [1.0, 1.5, 0.8, 1.2]  # the machine's slowdown per round
    reference = [2.0 * s for s in load]
    contender = [2.5 * s for s in load]
    assert timing.paired_ratios(reference, contender) == pytest.approx([0.8] * 4)
    assert timing.median_ratio(reference, contender) == pytest.approx(0.8)


def test_quartiles():
    assert timing.quartiles([3.0]) == (3.0, 3.0)
    assert timing.quartiles([5.0, 1.0, 4.0, 2.0, 3.0]) == (1.5, 4.5)  # statistics' "exclusive" method


def test_tables_put_the_median_speed_and_its_quartiles_in_one_cell():
    assert timing.speed_cell([1.0, 1.2, 1.1]) == "1.100x (1.00-1.20)"
    assert timing.markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    row = {"config": "m", "reference_ms": 2.0, "fit_ms": 1.0, "speeds": [2.0], "extra": 3}
    assert reference.speed_table([row], {"extra": lambda r: str(r["extra"])}).splitlines()[2] == \
        "| m | 2.0 | 1.0 | 2.000x (2.00-2.00) | 3 |"


def test_call_timer_compiles_first_then_times_per_call():
    calls = []

    def fn(x):
        calls.append(x)
        return x

    seconds = timing.call_timer(fn, 1.0, calls=5)
    assert len(calls) == 1
    assert seconds() >= 0.0 and len(calls) == 6


def test_reference_params_drop_the_parameter_free_layers_and_copy():
    params = ({"W": jnp.ones((2, 3)), "b": jnp.zeros(3)}, (), {"W": jnp.ones((3, 1)), "b": jnp.zeros(1)})
    copied = reference.reference_params(params)
    assert len(copied) == 2 and copied[0]["W"] is not params[0]["W"]


def test_shuffled_batches_drop_the_last_partial_batch_and_keep_pairs_together():
    x = jnp.arange(10.0)[:, None] * jnp.ones((1, 3))
    xs, ys = reference.shuffled_batches(x, jnp.arange(10), jax.random.key(0), 4)
    assert xs.shape == (2, 4, 3) and ys.shape == (2, 4)
    assert len(set(np.asarray(ys).ravel().tolist())) == 8
    np.testing.assert_array_equal(xs[..., 0], ys)


def test_batches_in_order_are_the_first_full_batches_unshuffled():
    """The no-shuffle floor bench_fit holds fit against."""
    x = jnp.arange(10.0)[:, None] * jnp.ones((1, 3))
    xs, ys = reference.batches_in_order(x, jnp.arange(10), 4)
    np.testing.assert_array_equal(ys, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(xs[..., 0], ys)


def test_reference_epoch_trains():
    x, y = reference.random_data(256, (4,), y_shape=(1,))
    y = x @ jnp.array([[1.0], [-2.0], [0.5], [3.0]], dtype=x.dtype)

    def loss(params, x, y, key):
        return jnp.mean((x @ params[0]["W"] + params[0]["b"] - y) ** 2)

    optimizer = optax.adam(0.1)
    params = reference.reference_params(({"W": jnp.zeros((4, 1), x.dtype), "b": jnp.zeros(1, x.dtype)},))
    epoch = reference.epoch_fn(loss, optimizer, 32)
    opt_state = optimizer.init(params)
    losses = []
    for e in range(20):
        params, opt_state, value = epoch(params, opt_state, x, y, reference.epoch_key(e))
        losses.append(float(value))
    assert losses[-1] < 1e-2 * losses[0]
