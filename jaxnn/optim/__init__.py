"""Optimizers as pure ``(init, update)`` pairs, in the optax protocol, and LR schedules.

::

    opt = optim.adam(1e-3)                      # or optim.adam(optim.cosine_decay(1e-3, 1000))
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

Every optimizer is a ``chain`` of small transforms written from its update equation and
is checked step for step against its optax namesake (same keyword names), the lecture
equations in plain numpy, and PyTorch.  ``GradientTransformation`` is optax's class, so
jaxnn and optax transforms mix freely.
"""
from jaxnn.optim.base import (
    EmptyState, GradientTransformation, ScaleByFactorState, ScaleByScheduleState,
    SkipNonfiniteState, add_decayed_weights, apply_updates, chain, clip_by_global_norm,
    global_norm, identity, scale, scale_by_factor, scale_by_learning_rate, set_factor,
    skip_nonfinite, weights_only_mask,
)
from jaxnn.optim.first_order import (
    DEFAULT_LEARNING_RATES, NAMES, OPTIMIZERS, EmaState, ScaleByAdamState, ScaleByLionState, ScaleByRmsState, ScaleByRssState,
    TraceState, adagrad, by_name, adam, adamw, amsgrad, ema, lion, momentum, nadam, rmsprop, scale_by_adam,
    scale_by_amsgrad, scale_by_lion, scale_by_rms, scale_by_rss, sgd, trace,
)
from jaxnn.optim.line_search import LineSearchResult, backtracking, strong_wolfe
from jaxnn.optim.lr_finder import LRFinderResult, exponential_sweep, lr_finder, steepest_descent_lr
from jaxnn.optim.solvers import METHODS, MinimizeResult, minimize
from jaxnn.optim.schedules import (
    Plateau, ReduceOnPlateau, ReduceOnPlateauState, constant, plateau_update, cosine_decay, exponential_decay, one_cycle,
    reduce_on_plateau, step_decay, warmup_cosine,
)

__all__ = [
    # protocol and plumbing
    "GradientTransformation", "EmptyState", "apply_updates", "chain", "identity", "scale",
    "scale_by_learning_rate", "clip_by_global_norm", "global_norm", "add_decayed_weights",
    "weights_only_mask", "skip_nonfinite", "scale_by_factor", "set_factor",
    "ScaleByScheduleState", "SkipNonfiniteState", "ScaleByFactorState",
    # building blocks
    "trace", "ema", "scale_by_rss", "scale_by_rms", "scale_by_adam", "scale_by_amsgrad",
    "scale_by_lion", "TraceState", "EmaState", "ScaleByRssState", "ScaleByRmsState",
    "ScaleByAdamState", "ScaleByLionState",
    # optimizers
    "sgd", "momentum", "adagrad", "rmsprop", "adam", "nadam", "adamw", "amsgrad", "lion",
    "OPTIMIZERS", "NAMES", "by_name", "DEFAULT_LEARNING_RATES",
    # schedules
    "constant", "exponential_decay", "step_decay", "cosine_decay", "warmup_cosine",
    "one_cycle", "reduce_on_plateau", "ReduceOnPlateau", "ReduceOnPlateauState",
    "Plateau", "plateau_update",
    # full-batch solvers and line searches
    "minimize", "MinimizeResult", "METHODS", "strong_wolfe", "backtracking", "LineSearchResult",
    # learning-rate range test
    "lr_finder", "LRFinderResult", "exponential_sweep", "steepest_descent_lr",
]
