"""Learning-rate schedules against optax's counterparts and closed forms; reduce_on_plateau
against optax.contrib.reduce_on_plateau and a worked example."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnn import optim

RTOL = 1e-12


def evaluate(schedule, steps: int, dtype=jnp.int32) -> np.ndarray:
    """The schedule at steps 0..steps-1, traced (jit of vmap), as a numpy array."""
    return np.asarray(jax.jit(jax.vmap(schedule))(jnp.arange(steps, dtype=dtype)))


# Ours are fed int32 steps, as an optimizer's counter feeds them.  optax is fed float64
# steps: given int32 it computes ``count / transition_steps`` in float32 even under x64
# (exponential_decay, linear warmup), a 1e-8 error that is optax's, not the formula's.
OPTAX_PAIRS = {
    "constant": (optim.constant(0.3), optax.constant_schedule(0.3)),
    "exponential": (optim.exponential_decay(0.1, 16, 0.5),
                    optax.exponential_decay(0.1, 16, 0.5)),
    "exponential_staircase_begin_end": (
        optim.exponential_decay(0.1, 8, 0.5, transition_begin=10, staircase=True,
                                end_value=0.01),
        optax.exponential_decay(0.1, 8, 0.5, transition_begin=10, staircase=True,
                                end_value=0.01)),
    "exponential_growth_capped": (optim.exponential_decay(0.1, 4, 1.5, end_value=1.0),
                                  optax.exponential_decay(0.1, 4, 1.5, end_value=1.0)),
    "step_decay_vs_staircase": (optim.step_decay(0.1, 10, 0.5),
                                optax.exponential_decay(0.1, 10, 0.5, staircase=True)),
    "step_decay_vs_piecewise": (optim.step_decay(0.2, 25, 0.1),
                                optax.piecewise_constant_schedule(
                                    0.2, {k: 0.1 for k in (25, 50, 75, 100, 125)})),
    "cosine": (optim.cosine_decay(0.1, 50), optax.cosine_decay_schedule(0.1, 50)),
    "cosine_alpha_exponent": (optim.cosine_decay(0.1, 37, alpha=0.1, exponent=2.0),
                              optax.cosine_decay_schedule(0.1, 37, alpha=0.1, exponent=2.0)),
    "warmup_cosine": (optim.warmup_cosine(0.0, 0.1, 16, 100, end_value=0.001),
                      optax.warmup_cosine_decay_schedule(0.0, 0.1, 16, 100, end_value=0.001)),
    "warmup_cosine_no_warmup": (optim.warmup_cosine(0.05, 0.1, 0, 50),
                                optax.warmup_cosine_decay_schedule(0.05, 0.1, 0, 50)),
    "one_cycle": (optim.one_cycle(100, 0.1), optax.cosine_onecycle_schedule(100, 0.1)),
    "one_cycle_odd": (optim.one_cycle(37, 1.0, pct_start=0.25, div_factor=10.0,
                                      final_div_factor=100.0),
                      optax.cosine_onecycle_schedule(37, 1.0, pct_start=0.25, div_factor=10.0,
                                                     final_div_factor=100.0)),
}


@pytest.mark.parametrize("name", list(OPTAX_PAIRS))
def test_matches_optax(name):
    ours, theirs = OPTAX_PAIRS[name]
    actual, expected = evaluate(ours, 130), evaluate(theirs, 130, jnp.float64)
    assert actual.dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0, err_msg=name)
    assert np.ptp(actual) > 0 or name == "constant"


def test_closed_forms_in_float64():
    t = np.arange(130, dtype=np.float64)
    np.testing.assert_allclose(evaluate(optim.exponential_decay(0.1, 7, 0.9), 130),
                               0.1 * 0.9 ** (t / 7), rtol=RTOL)
    np.testing.assert_allclose(evaluate(optim.step_decay(0.1, 7, 0.3), 130),
                               0.1 * 0.3 ** np.floor(t / 7), rtol=RTOL)
    warmup, total, peak, end = 10, 110, 0.5, 0.01
    expected = np.where(
        t < warmup, peak * t / warmup,
        end + (peak - end) * 0.5 * (1 + np.cos(np.pi * np.minimum(t - warmup, total - warmup)
                                               / (total - warmup))))
    np.testing.assert_allclose(evaluate(optim.warmup_cosine(0.0, peak, warmup, total, end), 130),
                               expected, rtol=RTOL, atol=1e-17)


def test_landmark_values():
    assert float(optim.cosine_decay(1.0, 10)(5)) == pytest.approx(0.5, rel=1e-15)
    assert float(optim.cosine_decay(1.0, 10, alpha=0.2)(1000)) == pytest.approx(0.2, rel=1e-15)
    assert float(optim.warmup_cosine(0.0, 1.0, 10, 110)(10)) == 1.0
    assert float(optim.warmup_cosine(0.0, 1.0, 10, 110)(5)) == 0.5
    cycle = optim.one_cycle(100, 1.0)  # rise over 30 steps from 1/25, fall to 1/25/1e4
    assert float(cycle(0)) == pytest.approx(0.04, rel=1e-15)
    assert float(cycle(30)) == pytest.approx(1.0, rel=1e-15)
    assert float(cycle(100)) == pytest.approx(4e-6, rel=1e-12)
    assert float(optim.step_decay(1.0, 10, 0.5)(25)) == 0.25
    assert float(optim.exponential_decay(2.0, 10, 0.5)(20)) == 0.5


def test_float32_outside_x64_and_traced_steps():
    with jax.enable_x64(False):
        for schedule in (optim.constant(0.1), optim.exponential_decay(0.1, 10, 0.5),
                         optim.step_decay(0.1, 10), optim.cosine_decay(0.1, 10),
                         optim.warmup_cosine(0.0, 0.1, 5, 20), optim.one_cycle(20, 0.1)):
            values = jax.jit(jax.vmap(schedule))(jnp.arange(25, dtype=jnp.int32))
            assert values.dtype == jnp.float32 and values.shape == (25,)


@pytest.mark.parametrize("make, message", [
    (lambda: optim.constant(-0.1), r"value must be >= 0"),
    (lambda: optim.exponential_decay(0.1, 0, 0.5), r"transition_steps must be a positive int"),
    (lambda: optim.exponential_decay(0.1, 10, 0.0), r"decay_rate must be > 0"),
    (lambda: optim.step_decay(0.1, 10, factor=1.5), r"factor must be in \(0, 1\]"),
    (lambda: optim.step_decay(0.1, 2.5), r"drop_every must be a positive int"),
    (lambda: optim.cosine_decay(0.1, 0), r"decay_steps must be a positive int"),
    (lambda: optim.warmup_cosine(0.0, 0.1, 10, 10), r"decay_steps must be > warmup_steps=10"),
    (lambda: optim.one_cycle(100, 0.1, pct_start=1.0), r"pct_start must be in \[0, 1\)"),
    (lambda: optim.reduce_on_plateau(factor=1.0), r"factor must be in \(0, 1\)"),
    (lambda: optim.reduce_on_plateau(patience=0), r"patience must be a positive int"),
    (lambda: optim.reduce_on_plateau(min_delta=-1.0), r"min_delta must be >= 0"),
])
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- reduce on plateau

def run_plateau(rop, values):
    state, scales = rop.init(), []
    for value in values:
        scale, state = rop.update(state, value)
        scales.append(scale)
    return scales, state


def test_reduce_on_plateau_worked_example():
    rop = optim.reduce_on_plateau(factor=0.5, patience=2, min_delta=0.0)
    # improve, improve, bad, bad -> halve; improve, bad, bad -> halve again
    scales, state = run_plateau(rop, [1.0, 0.5, 0.6, 0.7, 0.4, 0.4, 0.4])
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert state == optim.ReduceOnPlateauState(scale=0.25, best=0.4, plateau_count=0,
                                               cooldown_count=0)


def test_reduce_on_plateau_cooldown_min_scale_and_nan():
    rop = optim.reduce_on_plateau(factor=0.1, patience=1, min_delta=0.0, cooldown=2,
                                  min_scale=0.005)
    scales, _ = run_plateau(rop, [1.0, 2.0, 2.0, 2.0, 2.0, math.nan, 2.0])
    # bad -> 0.1, two cooldown epochs, bad -> 0.01, two cooldown epochs (NaN is "bad")
    assert scales == pytest.approx([1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01], rel=1e-15)
    scales, _ = run_plateau(rop, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert scales[-1] == 0.005  # floored at min_scale


def test_reduce_on_plateau_is_pure():
    rop = optim.reduce_on_plateau(factor=0.5, patience=1)
    state = rop.init()
    first = rop.update(state, 1.0)
    assert rop.update(state, 1.0) == first and state == rop.init()


@pytest.mark.parametrize("kwargs", [
    dict(factor=0.5, patience=3, min_delta=0.01, cooldown=2, min_scale=0.05),
    dict(factor=0.1, patience=1, min_delta=1e-4, cooldown=0, min_scale=0.0),
    dict(factor=0.7, patience=2, min_delta=0.05, cooldown=1, min_scale=0.2),
])
def test_reduce_on_plateau_matches_optax_contrib(kwargs):
    rng = np.random.default_rng(0)
    # a noisy decreasing loss with long plateaus
    values = np.concatenate([np.linspace(1.0, 0.5, 10), np.full(12, 0.5), np.linspace(0.5, 0.3, 8),
                             0.3 + 0.02 * rng.standard_normal(30)])
    ours, _ = run_plateau(optim.reduce_on_plateau(**kwargs), values)
    theirs_opt = optax.contrib.reduce_on_plateau(
        factor=kwargs["factor"], patience=kwargs["patience"], rtol=0.0, atol=kwargs["min_delta"],
        cooldown=kwargs["cooldown"], min_scale=kwargs["min_scale"])
    params = jnp.zeros(())
    update = jax.jit(lambda state, value: theirs_opt.update(params, state, value=value)[1])
    state, theirs = theirs_opt.init(params), []
    for value in values:
        state = update(state, value)
        theirs.append(float(state.scale))
    assert len(set(ours)) >= 3, "the sequence should trigger at least two reductions"
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)


def test_plateau_scale_feeds_the_optimizer_state():
    opt = optim.scale_by_factor(optim.sgd(0.1))
    params = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(params)
    rop = optim.reduce_on_plateau(factor=0.5, patience=1, min_delta=0.0)
    rop_state = rop.init()
    for value in (1.0, 1.0):
        scale, rop_state = rop.update(rop_state, value)
        state = optim.set_factor(state, scale)
    updates, _ = opt.update({"w": jnp.array([1.0, 1.0])}, state, params)
    np.testing.assert_array_equal(updates["w"], np.array([-0.05, -0.05]))
