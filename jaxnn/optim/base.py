"""The optimizer protocol and the plumbing every optimizer is built from.

An optimizer is a ``GradientTransformation``: a pair of pure functions ::

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)   # params needed by weight decay
    params = apply_updates(params, updates)             # params + updates, leaf by leaf

exactly optax's protocol (``GradientTransformation`` *is* optax's class), so jaxnn and
optax transforms chain together freely.  States are ``NamedTuple``s of pytrees; updates
already carry the minus sign of descent (``updates = -lr * direction``).

Also here: ``chain``, ``scale``, ``scale_by_learning_rate`` (float or schedule),
``clip_by_global_norm``, ``add_decayed_weights`` with a mask, ``skip_nonfinite`` (the
documented answer to NaN/inf gradients) and ``scale_by_factor`` (a learning-rate
multiplier kept in the state, fed by ``reduce_on_plateau`` without recompiling).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxnn.util import all_finite, check_number, is_concrete, is_weight
from jaxnn.spec import configured

GradientTransformation = optax.GradientTransformation
EmptyState = optax.EmptyState
PyTree = Any
Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = float | jax.Array | Schedule
Mask = PyTree | Callable[[PyTree], PyTree]

_INT32_MAX = jnp.iinfo(jnp.int32).max


# ---------------------------------------------------------------------------- checks

def _concrete(name: str, value: Any) -> float | None:
    """``value`` as a Python float, or None when it is traced or a schedule (cannot be checked);
    ``ValueError`` naming ``name`` when it is no number at all (a string, None, a list, an array
    with axes)."""
    if not is_concrete(value) or callable(value):
        return None
    return check_number(name, value)


def check_nonnegative(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value >= 0`` (traced values and schedules pass)."""
    v = _concrete(name, value)
    if v is not None and not v >= 0:  # `not >=` also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {name}={value!r}")


def check_decay_rate(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``0 <= value < 1`` (an EMA decay / momentum rate)."""
    v = _concrete(name, value)
    if v is not None and not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {name}={value!r}")


def check_transform(what: str, transform: Any) -> GradientTransformation:
    """``transform`` if it has optax's ``init`` and ``update``, else ValueError naming ``what``
    (an optimizer function passed uncalled, ``optim.adam`` for ``optim.adam(1e-3)``, says so)."""
    if hasattr(transform, "init") and hasattr(transform, "update"):
        return transform
    name = getattr(transform, "__name__", type(transform).__name__)
    hint = f"; call it, e.g. optim.{name}(1e-3)" if callable(transform) else ""
    raise ValueError(f"{what} must be a GradientTransformation such as optim.adam(1e-3), got {name}{hint}")


def increment(count: jax.Array) -> jax.Array:
    """``count + 1`` for an int32 step counter, saturating instead of overflowing."""
    return jnp.where(count < _INT32_MAX, count + 1, count)


# ---------------------------------------------------------------------------- plumbing

def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """``params + updates`` leaf by leaf, keeping each parameter's dtype."""
    return jax.tree.map(lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
                        params, updates)


@configured
def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` one after the other; the state is the tuple of their states.

    ``chain(a, b).update(g, (sa, sb), p) = b.update(*a.update(g, sa, p)[0], sb, p)``, the
    same state layout as ``optax.chain``, so jaxnn and optax transforms can be mixed.
    """
    for i, transform in enumerate(transforms):
        check_transform(f"chain: argument {i}", transform)

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f"chain of {len(transforms)} transforms got a state with "
                             f"{len(state)} entries; build the state with this chain's init")
        new_states = []
        for transform, inner_state in zip(transforms, state):
            updates, inner_state = transform.update(updates, inner_state, params)
            new_states.append(inner_state)
        return updates, tuple(new_states)

    return GradientTransformation(init, update)


@configured
def identity() -> GradientTransformation:
    """Pass updates through unchanged (stateless)."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


@configured
def scale(step_size: float | jax.Array) -> GradientTransformation:
    """``u <- step_size * u`` (stateless)."""
    def update(updates, state, params=None):
        return jax.tree.map(lambda u: step_size * u, updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


class ScaleByScheduleState(NamedTuple):
    """Number of updates made so far (the ``step`` fed to the schedule), int32 scalar."""
    count: jax.Array


@configured
def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """``u <- -lr_t * u``: the descent step, with ``lr_t = learning_rate(t)`` for a schedule.

    The step ``t`` counts updates from 0, as in optax: the first update uses
    ``learning_rate(0)``.  A float learning rate needs no state.
    """
    check_nonnegative("learning_rate", learning_rate)
    if not callable(learning_rate):
        return scale(-learning_rate)

    def init(params):
        return ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        step_size = -learning_rate(state.count)
        updates = jax.tree.map(lambda u: jnp.array(step_size, dtype=u.dtype) * u, updates)
        return updates, ScaleByScheduleState(count=increment(state.count))

    return GradientTransformation(init, update)


def global_norm(tree: PyTree) -> jax.Array:
    """``sqrt(sum of squares of every element of every leaf)``."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))


@configured
def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """``u <- u * max_norm / ||u||`` when ``||u|| > max_norm`` (the norm over all leaves).

    Rescales the whole update, so its direction is kept (Pascanu et al., 2013,
    https://arxiv.org/abs/1211.5063).  Same as ``optax.clip_by_global_norm``.
    """
    check_nonnegative("max_norm", max_norm)

    def update(updates, state, params=None):
        norm = global_norm(updates)
        keep = norm < max_norm
        updates = jax.tree.map(
            lambda u: jax.lax.select(keep, u, (u / norm.astype(u.dtype)) * max_norm), updates)
        return updates, state

    return GradientTransformation(lambda params: EmptyState(), update)


# ---------------------------------------------------------------------------- weight decay

def weights_only_mask(params: PyTree) -> PyTree:
    """The default weight-decay mask: True for leaves with ``ndim >= 2``, else False.

    Dense matrices ``W`` (fan_in, fan_out), conv kernels (HWIO) and recurrent matrices
    are decayed; biases (1-D) and scalars (0-D) are not, as in IIT Mandi's L2 penalty
    (``backprop.value_and_grad(..., l2=...)`` likewise leaves biases alone).
    """
    return jax.tree.map(is_weight, params)


def _full_mask(mask: Mask, params: PyTree) -> PyTree:
    """Broadcast a mask (a callable, or a tree of bools that is a prefix of params)."""
    mask_tree = mask(params) if callable(mask) else mask
    return jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub),
                        mask_tree, params)


@configured
def add_decayed_weights(weight_decay: float = 0.0,
                        mask: Mask | None = None) -> GradientTransformation:
    """``u <- u + weight_decay * theta`` on the leaves selected by ``mask`` (stateless).

    Chained before ``scale_by_learning_rate`` this is decoupled weight decay
    ``theta <- theta - lr (direction + lambda theta)`` (Loshchilov & Hutter, 2019,
    https://arxiv.org/abs/1711.05101).  ``mask`` is, as in optax, a pytree of bools with
    the structure of params (or a prefix of it), or a callable ``params -> such a tree``,
    e.g. ``weights_only_mask``; True means decay this leaf.  ``None`` decays every leaf.
    """
    check_nonnegative("weight_decay", weight_decay)
    if isinstance(mask, str):
        # a string would be one truthy leaf: every parameter decayed, silently
        raise ValueError(f"mask must be None, a pytree of bools shaped like params or a callable such as "
                         f"optim.weights_only_mask, got mask={mask!r}")

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: call "
                             "opt.update(grads, state, params), not opt.update(grads, state)")
        decay = (jax.tree.map(lambda p: True, params) if mask is None
                 else _full_mask(mask, params))
        updates = jax.tree.map(lambda u, p, m: u + weight_decay * p if m else u,
                               updates, params, decay)
        return updates, state

    return GradientTransformation(lambda params: EmptyState(), update)


# ---------------------------------------------------------------------------- wrappers

def _tree_select(pred: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


class SkipNonfiniteState(NamedTuple):
    """``skipped``: int32 count of steps skipped so far; ``inner_state``: the wrapped state."""
    skipped: jax.Array
    inner_state: PyTree


@configured
def skip_nonfinite(inner: GradientTransformation) -> GradientTransformation:
    """Skip any step whose gradients or resulting updates contain a NaN or an inf.

    On a bad step the updates are zeros (so ``apply_updates`` leaves params bitwise
    unchanged), the inner state is kept as it was (the bad gradient never enters a
    moment estimate) and ``state.skipped`` counts up; a good step is exactly
    ``inner.update``.  Unlike ``optax.apply_if_finite`` it never gives up and lets NaNs
    through: params cannot silently become NaN.  Watch ``skipped`` to notice divergence.
    """
    check_transform("skip_nonfinite: inner", inner)

    def init(params):
        return SkipNonfiniteState(skipped=jnp.zeros([], jnp.int32), inner_state=inner.init(params))

    def update(updates, state, params=None):
        new_updates, new_inner = inner.update(updates, state.inner_state, params)
        finite = jnp.logical_and(all_finite(updates), all_finite(new_updates))
        skipped = jnp.where(finite, state.skipped, increment(state.skipped))
        return (_tree_select(finite, new_updates, jax.tree.map(jnp.zeros_like, new_updates)),
                SkipNonfiniteState(skipped=skipped,
                                   inner_state=_tree_select(finite, new_inner, state.inner_state)))

    return GradientTransformation(init, update)


class ScaleByFactorState(NamedTuple):
    """``factor``: the float scalar multiplying every update; ``inner_state``: the wrapped state."""
    factor: jax.Array
    inner_state: PyTree


def _factor_array(factor: float | jax.Array) -> jax.Array:
    # A fixed (default float) dtype and no weak type, so a new factor never retraces jit.
    return jnp.asarray(factor, dtype=jnp.result_type(float))


@configured
def scale_by_factor(inner: GradientTransformation, factor: float = 1.0) -> GradientTransformation:
    """Multiply ``inner``'s updates by a factor that lives in the state: ``u <- factor * u``.

    Change it between jitted steps with ``state = set_factor(state, new_factor)``: the
    factor is an array in the state, so nothing recompiles.  This is how a host-side
    ``reduce_on_plateau`` scale reaches the optimizer.  Scaling the final update equals
    scaling the learning rate whenever the learning rate is the optimizer's last linear
    step (every optimizer here except ``rmsprop(momentum=...)``, whose momentum trace
    accumulates already-scaled steps, as in optax).
    """
    check_transform("scale_by_factor: inner", inner)

    def init(params):
        return ScaleByFactorState(factor=_factor_array(factor), inner_state=inner.init(params))

    def update(updates, state, params=None):
        updates, inner_state = inner.update(updates, state.inner_state, params)
        updates = jax.tree.map(lambda u: state.factor.astype(u.dtype) * u, updates)
        return updates, ScaleByFactorState(factor=state.factor, inner_state=inner_state)

    return GradientTransformation(init, update)


def set_factor(state: ScaleByFactorState, factor: float | jax.Array) -> ScaleByFactorState:
    """The ``scale_by_factor`` state with its factor replaced (same dtype: no retrace)."""
    if not isinstance(state, ScaleByFactorState):
        raise ValueError(f"set_factor expects the state of a scale_by_factor optimizer, "
                         f"got {type(state).__name__}")
    check_nonnegative("factor", factor)
    return state._replace(factor=_factor_array(factor))
