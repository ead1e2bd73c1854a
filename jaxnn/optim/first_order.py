"""First-order optimizers, each written from its update equation.

Notation: ``g`` is the gradient, ``theta`` the parameters, ``lr`` the learning rate (a
float or a schedule ``step -> lr``), ``t = 1, 2, ...`` the update number; every
operation is elementwise.  Each optimizer is a ``chain`` of small transforms, in the
same order as its optax namesake (whose keyword names and defaults it keeps), so the
two agree step for step to float64 round-off (checked in ``tests/test_optim.py``).

Course notes: KAUST Academy, Neural Networks ("Optimizers used in deep learning") gives
AdaGrad, RMSProp, Adam and AdamW; HSE, Neural Networks ("Optimization techniques") gives
momentum SGD in its EMA form, RMSprop and Adam.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.optim.base import (
    GradientTransformation, Mask, PyTree, ScalarOrSchedule, add_decayed_weights, chain,
    check_decay_rate, check_nonnegative, identity, increment, scale_by_learning_rate,
)
from jaxnn.spec import configured


def _zeros(params: PyTree) -> PyTree:
    return jax.tree.map(jnp.zeros_like, params)


def _ema(new: PyTree, average: PyTree, decay: float) -> PyTree:
    """``decay * average + (1 - decay) * new`` leaf by leaf."""
    return jax.tree.map(lambda x, a: (1 - decay) * x + decay * a, new, average)


def _debias(moment: PyTree, decay: float, count: jax.Array) -> PyTree:
    """Bias correction ``moment / (1 - decay**t)`` of an EMA started at 0
    (Kingma & Ba, 2015, Sec. 3)."""
    correction = 1 - decay ** count
    return jax.tree.map(lambda m: m / correction.astype(m.dtype), moment)


# ------------------------------------------------------------------ building blocks

class TraceState(NamedTuple):
    """Heavy-ball momentum buffer, same shapes as params."""
    trace: PyTree


@configured
def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Heavy-ball momentum ``m_t = g_t + decay m_{t-1}``, ``m_0 = 0``; returns ``m_t``,
    or ``g_t + decay m_t`` with ``nesterov`` (Sutskever et al., 2013).  = ``optax.trace``."""
    check_decay_rate("momentum", decay)

    def update(grads, state, params=None):
        m = jax.tree.map(lambda g, t: g + decay * t, grads, state.trace)
        out = jax.tree.map(lambda g, t: g + decay * t, grads, m) if nesterov else m
        return out, TraceState(trace=m)

    return GradientTransformation(lambda params: TraceState(trace=_zeros(params)), update)


class EmaState(NamedTuple):
    """Exponential moving average of the gradients, same shapes as params."""
    ema: PyTree


@configured
def ema(decay: float) -> GradientTransformation:
    """EMA momentum ``m_t = decay m_{t-1} + (1 - decay) g_t``, ``m_0 = 0``, no debiasing
    (HSE, "Momentum SGD").  = ``optax.ema(decay, debias=False)``."""
    check_decay_rate("beta", decay)

    def update(grads, state, params=None):
        m = _ema(grads, state.ema, decay)
        return m, EmaState(ema=m)

    return GradientTransformation(lambda params: EmaState(ema=_zeros(params)), update)


class ScaleByRssState(NamedTuple):
    """AdaGrad's running sum of squared gradients ``G``."""
    sum_of_squares: PyTree


@configured
def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7,
                 eps_in_sqrt: bool = True) -> GradientTransformation:
    """AdaGrad scaling: ``G_t = G_{t-1} + g_t^2``, ``G_0 = initial_accumulator_value``;
    returns ``g_t / sqrt(G_t + eps)`` (or ``g_t / (sqrt(G_t) + eps)``), and 0 where
    ``G_t = 0`` (no gradient yet: nothing to scale, and no 0/0), as optax does."""
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)
    check_nonnegative("eps", eps)

    def inverse_root(s):
        root = jax.lax.rsqrt(s + eps) if eps_in_sqrt else 1 / (jnp.sqrt(s) + eps)
        return jnp.where(s > 0, root, 0.0)

    def init(params):
        return ScaleByRssState(jax.tree.map(
            lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None):
        total = jax.tree.map(lambda g, s: g * g + s, grads, state.sum_of_squares)
        out = jax.tree.map(lambda s, g: inverse_root(s) * g, total, grads)
        return out, ScaleByRssState(sum_of_squares=total)

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    """RMSProp: update count (only with bias_correction), EMA of g (only when centered),
    EMA of g^2; fields not needed are None."""
    count: jax.Array
    mu: PyTree
    nu: PyTree


@configured
def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                 eps_in_sqrt: bool = True, bias_correction: bool = False, *,
                 centered: bool = False) -> GradientTransformation:
    """RMSProp scaling: ``v_t = decay v_{t-1} + (1 - decay) g_t^2``, ``v_0 = initial_scale``;
    returns ``g_t / sqrt(v_t + eps)``, or ``g_t / (sqrt(v_t) + eps)`` without
    ``eps_in_sqrt``.  ``centered`` replaces ``v_t`` by ``v_t - m_t^2``, the variance, with
    ``m_t`` the EMA of ``g`` (Graves, 2013); ``bias_correction`` divides ``v_t`` by
    ``1 - decay^t`` (not together with ``centered``: at ``t = 1`` that variance is exactly 0).
    = ``optax.scale_by_rms`` / ``optax.scale_by_stddev``."""
    check_decay_rate("decay", decay)
    check_nonnegative("eps", eps)
    check_nonnegative("initial_scale", initial_scale)
    if centered and bias_correction:
        # At t = 1 the corrected moments are m_hat = g and v_hat = g^2, so the variance
        # estimate is exactly 0 (or negative by round-off): an infinite or NaN step.
        raise ValueError("centered=True with bias_correction=True estimates the variance "
                         "as 0 at the first step; use one of them, not both")

    def init(params):
        return ScaleByRmsState(count=jnp.zeros([], jnp.int32) if bias_correction else None,
                               mu=_zeros(params) if centered else None,
                               nu=jax.tree.map(lambda p: jnp.full_like(p, initial_scale), params))

    def update(grads, state, params=None):
        count = increment(state.count) if bias_correction else None
        nu = _ema(jax.tree.map(lambda g: g ** 2, grads), state.nu, decay)
        variance = _debias(nu, decay, count) if bias_correction else nu
        mu = None
        if centered:
            mu = _ema(grads, state.mu, decay)
            variance = jax.tree.map(lambda v, m: v - m ** 2, variance, mu)
        if eps_in_sqrt:
            inv = jax.tree.map(lambda v: jax.lax.rsqrt(v + eps), variance)
        else:
            inv = jax.tree.map(lambda v: 1 / (jnp.sqrt(v) + eps), variance)
        out = jax.tree.map(lambda s, g: s * g, inv, grads)
        return out, ScaleByRmsState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    """Adam: update count ``t``, first moment ``m`` and second moment ``v``
    (AMSGrad adds ``v_max``, the running maximum of the corrected ``v``)."""
    count: jax.Array
    mu: PyTree
    nu: PyTree
    nu_max: PyTree = None


def _check_adam(b1: float, b2: float, eps: float, eps_root: float) -> None:
    check_decay_rate("b1", b1)
    check_decay_rate("b2", b2)
    check_nonnegative("eps", eps)
    check_nonnegative("eps_root", eps_root)


def _adam_init(params: PyTree) -> ScaleByAdamState:
    return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=_zeros(params), nu=_zeros(params))


@configured
def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                  *, nesterov: bool = False) -> GradientTransformation:
    """Adam scaling (Kingma & Ba, 2015, Algorithm 1; KAUST Academy, "Adam")::

        m_t = b1 m_{t-1} + (1 - b1) g_t            v_t = b2 v_{t-1} + (1 - b2) g_t^2
        m_hat = m_t / (1 - b1^t)                   v_hat = v_t / (1 - b2^t)
        returns m_hat / (sqrt(v_hat + eps_root) + eps)

    ``nesterov`` (NAdam, Dozat 2016) uses
    ``m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)``.  = ``optax.scale_by_adam``.
    """
    _check_adam(b1, b2, eps, eps_root)

    def update(grads, state, params=None):
        mu = _ema(grads, state.mu, b1)
        nu = _ema(jax.tree.map(lambda g: g ** 2, grads), state.nu, b2)
        count = increment(state.count)
        if nesterov:
            mu_hat = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g,
                                  _debias(mu, b1, increment(count)), _debias(grads, b1, count))
        else:
            mu_hat = _debias(mu, b1, count)
        nu_hat = _debias(nu, b2, count)
        out = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return out, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(_adam_init, update)


@configured
def scale_by_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                     eps_root: float = 0.0, bias_correction_mu: bool = True,
                     bias_correction_nu: bool = True) -> GradientTransformation:
    """AMSGrad scaling (Reddi et al., 2018): Adam with ``v_max_t = max(v_max_{t-1}, v_hat_t)``
    in the denominator, so the per-parameter step size never grows.
    = ``optax.scale_by_amsgrad``."""
    _check_adam(b1, b2, eps, eps_root)

    def init(params):
        return _adam_init(params)._replace(nu_max=_zeros(params))

    def update(grads, state, params=None):
        mu = _ema(grads, state.mu, b1)
        nu = _ema(jax.tree.map(lambda g: g ** 2, grads), state.nu, b2)
        count = increment(state.count)
        mu_hat = _debias(mu, b1, count) if bias_correction_mu else mu
        nu_hat = _debias(nu, b2, count) if bias_correction_nu else nu
        nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu_hat)
        out = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_max)
        return out, ScaleByAdamState(count=count, mu=mu, nu=nu, nu_max=nu_max)

    return GradientTransformation(init, update)


class ScaleByLionState(NamedTuple):
    """Lion's momentum ``m``."""
    mu: PyTree


@configured
def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
    """Lion scaling (Chen et al., 2023): returns ``sign(b1 m_{t-1} + (1 - b1) g_t)``, then
    ``m_t = b2 m_{t-1} + (1 - b2) g_t``.  = ``optax.scale_by_lion``."""
    check_decay_rate("b1", b1)
    check_decay_rate("b2", b2)

    def update(grads, state, params=None):
        out = jax.tree.map(lambda g, m: jnp.sign((1 - b1) * g + b1 * m), grads, state.mu)
        return out, ScaleByLionState(mu=_ema(grads, state.mu, b2))

    return GradientTransformation(lambda params: ScaleByLionState(mu=_zeros(params)), update)


def _check_nesterov(nesterov: bool, momentum: float | None) -> None:
    if nesterov and momentum is None:
        raise ValueError("nesterov=True needs a momentum rate in [0, 1), got momentum=None")


# ------------------------------------------------------------------ optimizers

@configured
def sgd(learning_rate: ScalarOrSchedule, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent ``theta <- theta - lr g`` (KAUST Academy, gradient descent;
    Liverpool, "Gradient descent"; HSE, "SGD on mini-batches").

    With ``momentum`` (heavy ball): ``m_t = g_t + momentum m_{t-1}``,
    ``theta <- theta - lr m_t``; with ``nesterov``: ``theta <- theta - lr (g_t + momentum m_t)``
    (Sutskever et al., 2013).  Same as ``optax.sgd`` and ``torch.optim.SGD``.
    """
    _check_nesterov(nesterov, momentum)
    return chain(trace(momentum, nesterov) if momentum is not None else identity(),
                 scale_by_learning_rate(learning_rate))


@configured
def momentum(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformation:
    """Momentum in the EMA form of HSE, "Momentum SGD"::

        m_t = beta m_{t-1} + (1 - beta) g_t,  m_0 = 0;      theta <- theta - lr m_t

    Unlike heavy ball (``sgd(lr, momentum=beta)``, ``m_t = g_t + beta m_{t-1}``) the
    gradient is damped by ``1 - beta``: on a constant gradient the step tends to ``lr g``,
    not ``lr g / (1 - beta)``, so ``momentum(lr, beta)`` equals ``sgd(lr (1 - beta),
    momentum=beta)``.  optax twin: ``chain(optax.ema(beta, debias=False), optax.scale(-lr))``.
    """
    return chain(ema(beta), scale_by_learning_rate(learning_rate))


@configured
def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7, *, eps_in_sqrt: bool = True) -> GradientTransformation:
    """AdaGrad (Duchi et al., 2011; KAUST Academy, "AdaGrad")::

        G_t = G_{t-1} + g_t^2,  G_0 = initial_accumulator_value
        theta <- theta - lr g_t / sqrt(G_t + eps)

    as the KAUST Academy notes write it and as ``optax.adagrad`` computes it.
    ``eps_in_sqrt=False, initial_accumulator_value=0`` is PyTorch's
    ``theta <- theta - lr g_t / (sqrt(G_t) + eps)``.
    """
    return chain(scale_by_rss(initial_accumulator_value, eps, eps_in_sqrt),
                 scale_by_learning_rate(learning_rate))


@configured
def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8, *,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, centered: bool = False,
            momentum: float | None = None, nesterov: bool = False,
            bias_correction: bool = False) -> GradientTransformation:
    """RMSProp (Hinton, 2012; KAUST Academy, "RMSProp"; HSE, "RMSprop")::

        v_t = decay v_{t-1} + (1 - decay) g_t^2,  v_0 = initial_scale
        theta <- theta - lr g_t / sqrt(v_t + eps)

    ``eps_in_sqrt=True`` is the course notes', TensorFlow's and optax's form;
    ``eps_in_sqrt=False`` gives PyTorch's ``g_t / (sqrt(v_t) + eps)`` (torch's ``alpha`` is
    ``decay``).  ``centered`` divides by the running standard deviation instead
    (``v_t - m_t^2``, Graves 2013).  ``momentum`` adds a heavy-ball trace of the scaled
    steps ``b_t = momentum b_{t-1} + lr g_t / sqrt(...)``, ``theta <- theta - b_t``.
    Keywords and defaults as ``optax.rmsprop``; those after ``eps`` are keyword-only.
    """
    _check_nesterov(nesterov, momentum)
    return chain(scale_by_rms(decay, eps, initial_scale, eps_in_sqrt, bias_correction,
                              centered=centered),
                 scale_by_learning_rate(learning_rate),
                 trace(momentum, nesterov) if momentum is not None else identity())


@configured
def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, eps_root: float = 0.0, *,
         nesterov: bool = False) -> GradientTransformation:
    """Adam (Kingma & Ba, 2015; KAUST Academy, "Adam"): ``theta <- theta - lr m_hat / (sqrt(v_hat) + eps)``
    with the bias-corrected moments of ``scale_by_adam``.  Same as ``optax.adam``."""
    return chain(scale_by_adam(b1, b2, eps, eps_root, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


@configured
def nadam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0) -> GradientTransformation:
    """NAdam (Dozat, 2016): Adam with Nesterov momentum,
    ``m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)``.  = ``optax.nadam``."""
    return adam(learning_rate, b1, b2, eps, eps_root, nesterov=True)


@configured
def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, *, eps_root: float = 0.0, weight_decay: float = 1e-4,
          mask: Mask | None = None) -> GradientTransformation:
    """AdamW, Adam with decoupled weight decay (Loshchilov & Hutter, 2019; KAUST Academy, "AdamW")::

        theta <- theta - lr (m_hat / (sqrt(v_hat) + eps) + weight_decay theta)

    The decay is multiplied by ``lr``, as in optax and PyTorch.  ``mask`` (a pytree of
    bools or a callable, e.g. ``weights_only_mask``) selects the decayed leaves; Adam's
    step applies to every leaf.  Same as ``optax.adamw``.  Arguments after ``eps`` are
    keyword-only: optax's 6th positional is ``mu_dtype``, so positional use would be ambiguous.
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


@configured
def amsgrad(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
            eps: float = 1e-8, eps_root: float = 0.0, bias_correction_mu: bool = True,
            bias_correction_nu: bool = True) -> GradientTransformation:
    """AMSGrad (Reddi et al., 2018): ``theta <- theta - lr m_hat / (sqrt(v_max) + eps)``,
    ``v_max_t = max(v_max_{t-1}, v_hat_t)``.  Same as ``optax.amsgrad``."""
    return chain(scale_by_amsgrad(b1, b2, eps, eps_root, bias_correction_mu, bias_correction_nu),
                 scale_by_learning_rate(learning_rate))


@configured
def lion(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.99,
         weight_decay: float = 1e-3, mask: Mask | None = None) -> GradientTransformation:
    """Lion (Chen et al., 2023): ``theta <- theta - lr (sign(b1 m + (1 - b1) g) + weight_decay
    theta)``, then ``m <- b2 m + (1 - b2) g``.  Same as ``optax.lion``."""
    return chain(scale_by_lion(b1, b2), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


# The optimizers by name, for command lines and configs: the one list the CLI offers.
OPTIMIZERS = {"sgd": sgd, "momentum": momentum, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam,
              "adamw": adamw, "nadam": nadam, "amsgrad": amsgrad, "lion": lion}
NAMES: tuple[str, ...] = tuple(OPTIMIZERS)


# Keras's default learning rates (PyTorch's too, where it has one): what a bare name means.
DEFAULT_LEARNING_RATES = {"sgd": 1e-2, "momentum": 1e-2, "adagrad": 1e-3, "rmsprop": 1e-3, "adam": 1e-3,
                          "adamw": 1e-3, "nadam": 1e-3, "amsgrad": 1e-3, "lion": 1e-4}


def by_name(name: str, learning_rate: ScalarOrSchedule | None = None) -> GradientTransformation:
    """``OPTIMIZERS[name](learning_rate)`` with the other hyper-parameters at their defaults;
    ``learning_rate=None`` takes `DEFAULT_LEARNING_RATES` (Keras's defaults)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(NAMES)}")
    return OPTIMIZERS[name](DEFAULT_LEARNING_RATES[name] if learning_rate is None else learning_rate)
