"""HSE, Neural Networks, "Momentum SGD", "RMSprop", "Adam"; KAUST Academy, Neural Networks, "Optimizers used in deep learning"; Liverpool, Introduction to Neural Networks I, "Gradient descent: remarks"; UMT Lahore, NN Training and Optimization, "How to Find a Better NN?"; Polyak 1964, Nesterov 1983, Duchi et al. 2011, Tieleman & Hinton 2012, Kingma & Ba 2015, Loshchilov & Hutter 2019: momentum crosses an ill-conditioned valley in a fraction of gradient descent's steps and rolls out of a small local minimum, AdaGrad's step shrinks like 1/sqrt(t) where RMSProp's does not, and gradient descent leaves a saddle in a number of steps that grows like log(1/perturbation).

Setup: eight optimizers of ``jaxnn.optim`` (gradient descent, momentum in its EMA and
heavy-ball forms, Nesterov, AdaGrad, RMSProp, Adam, AdamW) run on four 2-D surfaces (an
ill-conditioned quadratic of condition number 100, Rosenbrock's valley, the saddle
x^2 - y^2, and a bowl with a small shallow dimple beside a deep well), each as one
compiled ``jax.lax.scan`` vmapped over learning rates and starts, with every learning rate
(and momentum rate) tuned on a stated grid.  The full-batch solvers the notes name beside
gradient descent (Newton, L-BFGS, conjugate gradient: ``optim.minimize``) solve the same
surfaces to a gradient norm of 1e-8.

Run: one program (``jax.jit``) runs every optimizer's batches, each a ``lax.scan`` vmapped
over its runs: on the quadratic and on Rosenbrock the whole grid ``LEARNING_RATES`` x
``MOMENTUM_RATES`` (2000 steps); on the saddle starts at distance eps from its stable
manifold (y = 0); on the dimpled bowl a grid of starts around the dimple for each learning
rate of ``SHARE_LEARNING_RATES``; and for AdaGrad and RMSProp 100,000 steps on the quadratic
with noisy gradients (as mini-batches give).  ``optim.minimize`` runs Newton, L-BFGS, CG
and gradient descent on each surface, counting every evaluation of f.

Measurement: steps to reach and stay below a loss of 1e-6 on the quadratic (best of the
grid); the slope of log(effective learning rate) against log(t) for AdaGrad and RMSProp;
the steps gradient descent needs to leave the saddle (loss <= -1, i.e. |y| >= 1) against
log(1/eps); the share of dimple-basin starts that end in the deep well; iterations and
function evaluations of each solver.  Figures: ``trajectories.png`` (contours and paths),
``loss_vs_step.png``, ``quadratic_tuning.png``, ``adagrad_vs_rmsprop.png``,
``saddle_escape.png``, ``local_minimum.png``, ``solvers_table.png``.

Verdict: reproduced when momentum (each form) needs at most ``MOMENTUM_STEP_RATIO`` of
gradient descent's steps on the quadratic; AdaGrad's effective learning rate falls with
slope -1/2 +- ``SLOPE_TOLERANCE`` in log-log while RMSProp's stays flat (|slope| <=
``FLAT_SLOPE``); gradient descent started on y = 0 ends at the saddle, every start 1e-8 off
it escapes, and the escape steps are a straight line in log(1/eps) (R^2 >=
``MIN_R_SQUARED``) of slope 1/log(1 + 2 lr) +- ``ESCAPE_SLOPE_TOLERANCE``; heavy-ball momentum
leaves the dimple from at least ``MIN_MOMENTUM_ESCAPE_SHARE`` of its basin while gradient
descent leaves it from at most ``MAX_GD_ESCAPE_SHARE``; and Newton, L-BFGS and CG reach a
gradient norm of 1e-8 on every surface with a minimum.  Measured too, and not hidden: the
tuned AdaGrad ends the noisy run *lower* than RMSProp (its shrinking step also averages the
noise away; the stall is in how far it can still travel), and on the deterministic surfaces
a tuned AdaGrad does not stall at all; adaptive methods at large learning rates also leave
the dimple (their first steps are about lr long whatever the slope); and from exactly
(1, 0) every solver "converges" to the saddle, a point a gradient-norm test cannot tell
from a minimum.

    python experiments/optimizer_trajectories.py [--quick] [--seed 0] [--out runs/optimizer_trajectories]
"""

# %% [markdown]
# # Optimizers on 2-D surfaces: what momentum, AdaGrad, RMSProp and Adam change
#
# The lectures list the optimizers (KAUST Academy, "Optimizers used in deep learning";
# HSE, "Momentum SGD", "RMSprop", "Adam") and say what each is for: momentum "smooths out
# fast oscillations" and "helps getting out of small local minima" (HSE); AdaGrad's
# "parameters with large accumulated gradients get smaller effective learning rates" while
# RMSProp "prevents the learning rate from shrinking too fast and keeps training going"
# (KAUST); gradient descent "proceeds very slowly near saddle points but can eventually
# escape them if weights were randomly initialized" (Liverpool, "Gradient descent:
# remarks"); Newton's method, L-BFGS and conjugate gradient are the other ways to
# minimize (UMT Lahore, "How to Find a Better NN?").
#
# On a 2-D surface we can *see* all of it: the path each optimizer takes on a contour
# plot, and its loss step by step.  Each claim gets a measured number, with every
# optimizer at the learning rate that suits it best on a stated grid, so that no optimizer
# loses by a badly chosen step size.

# %%
from __future__ import annotations

import collections
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from common import check, exit_with, figure, finish, save_figure, start

from jaxnn import optim

# Float64: the saddle starts 1e-12 off its stable manifold, and the solvers are asked for a
# gradient norm of 1e-8, beyond float32's resolution of a loss near 1.
jax.config.update("jax_enable_x64", True)

# --- the claims' thresholds ---
# "Momentum speeds up a valley": at most a third of gradient descent's steps to loss 1e-6.
# Theory (Polyak 1964) for condition number kappa = 100 at the best settings: gradient
# descent contracts by (kappa-1)/(kappa+1) per step, heavy ball by (sqrt(kappa)-1)/(sqrt(kappa)+1),
# ~10x fewer steps; a third leaves room for the grids' coarseness.
MOMENTUM_STEP_RATIO = 1 / 3
LOSS_TARGET = 1e-6             # "reached": the loss stays at or below this to the end of the run
# AdaGrad: G_t = sum of g^2 grows like t when the gradient does not vanish, so lr/sqrt(G_t)
# falls like t^(-1/2); the fit over the last 90% of the run may differ from -1/2 by the
# early, larger gradients' share of G_t (a few hundredths here).
SLOPE_TOLERANCE = 0.05
# RMSProp "keeps moving": its effective learning rate lr/sqrt(EMA of g^2) has no trend; a
# slope of 0.1 would be a factor 1.26 per decade of steps, against AdaGrad's factor 3.2.
FLAT_SLOPE = 0.1
# The saddle: from (1, eps) gradient descent multiplies y by (1 + 2 lr) per step, so it
# needs log(1/eps) / log(1 + 2 lr) steps (plus a constant) to reach |y| = 1: a straight
# line in log(1/eps) with that slope.  R^2 >= 0.999 is "straight"; the slope within 2%.
MIN_R_SQUARED = 0.999
ESCAPE_SLOPE_TOLERANCE = 0.02
AT_SADDLE = 1e-10              # "stops at the saddle": ends this close to (0, 0)
MIN_ESCAPED_SHARE = 1.0        # "can eventually escape": every start 1e-8 off the stable manifold does
# The dimple: "helps getting out of small local minima" (HSE) -- for at least half of the
# starts in the dimple's basin, while gradient descent (at its own best learning rate)
# leaves it from at most 5% of them.
MIN_MOMENTUM_ESCAPE_SHARE = 0.5
MAX_GD_ESCAPE_SHARE = 0.05
SOLVER_TOLERANCE = 1e-8        # the solvers' stopping test: ||grad f|| <= 1e-8
MIN_SOLVED_SHARE = 1.0         # Newton, L-BFGS and CG: every run on a surface with a minimum gets there

# --- the grids every optimizer is tuned on ---
LEARNING_RATES = 10.0 ** (np.arange(-32, 5) / 8)      # 1e-4 .. 3.16, 8 per decade
MOMENTUM_RATES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)     # beta for the three momentum forms
SHARE_LEARNING_RATES = LEARNING_RATES[::2]            # 4 per decade, for the dimple's many starts
DIMPLE_BETA = 0.9                                      # the usual momentum rate, kept fixed there
ADAMW_WEIGHT_DECAY = 1e-4      # optim.adamw's default: no regularizer to replace on these surfaces
SADDLE_LEARNING_RATE = 0.1     # not tuned: the saddle has no minimum; the law holds for any stable lr
EPSILONS = 10.0 ** -np.arange(2, 13)                  # 1e-2 .. 1e-12, the saddle perturbations
N_DIRECTIONS = 8               # random directions of each perturbation
NOISE = 10.0                   # std of the gradient noise of the long run (|grad f| at the start: 100)
ESCAPED_LOSS = -1.0            # saddle: f <= -1 means |y| >= 1; dimple bowl: inside the deep well

# --- run lengths (steps) ---
DISPLAY_STEPS = 2000           # the tuning grids and the displayed runs, every step recorded
DIMPLE_STEPS = 1000            # the dimple's grid of starts (escapes happen in the first ~200 steps)
LONG_STEPS, LONG_STRIDE = 100_000, 100                # the noisy AdaGrad/RMSProp run, recorded every 100
QUICK_DISPLAY_STEPS, QUICK_DIMPLE_STEPS, QUICK_LONG_STEPS = 600, 200, 2000


# %% [markdown]
# ## Setup: four surfaces
#
# * **quadratic** `f = (x^2 + 100 y^2) / 2`: curvature 100 across the valley and 1 along it
#   (condition number 100; contours 10 times longer than wide), the picture behind
#   "smooths out fast oscillations";
# * **Rosenbrock** `f = (1 - x)^2 + 100 (y - x^2)^2`: a curved, flat-bottomed valley,
#   minimum at (1, 1);
# * **saddle** `f = x^2 - y^2`: a minimum along x, a maximum along y; y = 0 is its stable
#   manifold (gradient descent started there never leaves it);
# * **dimpled bowl** `f = 0.15 |p|^2 - 1.5 exp(-|p|^2 / 0.245) - 0.5 exp(-|p - (1.5, 1)|^2 / 0.18)`:
#   a deep well at the origin (f = -1.5) and a small, shallow dimple on the bowl's side
#   (f = -0.04 at (1.42, 0.95)), a small local minimum.

# %%
def quadratic(p):
    return 0.5 * (p[0] ** 2 + 100.0 * p[1] ** 2)


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def saddle(p):
    return p[0] ** 2 - p[1] ** 2


DIMPLE_CENTRE = (1.5, 1.0)


def dimpled_bowl(p):
    bowl = 0.15 * (p[0] ** 2 + p[1] ** 2)
    deep = 1.5 * jnp.exp(-(p[0] ** 2 + p[1] ** 2) / (2 * 0.35 ** 2))
    dimple = 0.5 * jnp.exp(-((p[0] - DIMPLE_CENTRE[0]) ** 2 + (p[1] - DIMPLE_CENTRE[1]) ** 2) / (2 * 0.3 ** 2))
    return bowl - deep - dimple


class Surface(NamedTuple):
    fn: object
    title: str
    start: tuple[float, float]                    # where the displayed runs start
    window: tuple[float, float, float, float]     # x0, x1, y0, y1 of its contour plot
    minimum: float                                # the lowest value (for "loss - min")


SURFACES = {
    "quadratic": Surface(quadratic, "quadratic, condition number 100", (-8.0, 1.0), (-9, 9, -2.5, 2.5), 0.0),
    "rosenbrock": Surface(rosenbrock, "Rosenbrock", (-1.5, 2.0), (-2, 2, -1, 3), 0.0),
    "saddle": Surface(saddle, "saddle x^2 - y^2", (1.0, 1e-3), (-1.2, 1.2, -1.2, 1.2), -np.inf),
    "dimple": Surface(dimpled_bowl, "bowl with a shallow dimple", (2.2, 1.6), (-3, 3, -3, 3), -1.5),
}
SURFACE_IDS = {name: k for k, name in enumerate(SURFACES)}


# %% [markdown]
# ## Setup: eight optimizers from `jaxnn.optim`
#
# Each is built from its learning rate `lr` and momentum rate `beta` (only the momentum
# forms use `beta`; the others keep their defaults: RMSProp's decay 0.9, Adam's 0.9 and
# 0.999).  The EMA form of HSE, "Momentum SGD", `m = beta m + (1 - beta) g`, is the heavy
# ball `m = g + beta m` (Polyak 1964) with the learning rate times `1 - beta`; Nesterov
# (1983) also steps along the momentum it is about to take (Sutskever et al.'s form).
# AdamW (Loshchilov & Hutter 2019) adds a decay of the weights themselves; these surfaces
# have no regularizer for it to replace, so with the default decay it follows Adam.

# %%
OPTIMIZERS = {
    "GD": lambda lr, beta: optim.sgd(lr),
    "momentum (EMA)": lambda lr, beta: optim.momentum(lr, beta),
    "heavy ball": lambda lr, beta: optim.sgd(lr, momentum=beta),
    "Nesterov": lambda lr, beta: optim.sgd(lr, momentum=beta, nesterov=True),
    "AdaGrad": lambda lr, beta: optim.adagrad(lr),
    "RMSProp": lambda lr, beta: optim.rmsprop(lr),
    "Adam": lambda lr, beta: optim.adam(lr),
    "AdamW": lambda lr, beta: optim.adamw(lr, weight_decay=ADAMW_WEIGHT_DECAY),
}
USES_BETA = {"momentum (EMA)", "heavy ball", "Nesterov"}
MOMENTUM_FAMILY = ("GD", "momentum (EMA)", "heavy ball", "Nesterov")
ADAPTIVE_FAMILY = ("GD", "AdaGrad", "RMSProp", "Adam", "AdamW")
COLORS = {name: f"C{k}" for k, name in enumerate(OPTIMIZERS)}
STYLES = {name: "--" if name == "AdamW" else "-" for name in OPTIMIZERS}   # AdamW dashed: it follows Adam here
QUICK_OPTIMIZERS = ("GD",)     # --quick: gradient descent (and AdaGrad, RMSProp in the long run) only


# %% [markdown]
# ## Run: a compiled `lax.scan` per batch of runs, all in one program
#
# `simulate` runs one optimizer from one start for `steps` steps on one surface (chosen by
# its number with `jax.lax.switch`) and keeps, on the way, what the measurements need: the
# first step at which the loss is at or below a target, the last step at which it is above
# it, the mean loss over the last 10% of the steps and, every `stride` steps, a record
# (position, loss, effective learning rate `|update| / |gradient|` per coordinate, path
# length so far).  `jax.vmap` runs a whole batch of learning rates, starts and surfaces at
# once, and one `jax.jit` compiles every optimizer's batches together.

# %%
SURFACE_FUNCTIONS = tuple(s.fn for s in SURFACES.values())


def surface_value(p, surface_id):
    return jax.lax.switch(surface_id, SURFACE_FUNCTIONS, p)


class Task(NamedTuple):
    """What is static about a batch of runs: one compiled scan each."""
    optimizer: str
    steps: int
    stride: int          # a record every `stride` steps (1: every step; == steps: none)
    surface: str         # a surface's name, or "any": each run names its own (jax.lax.switch)
    noisy: bool = False  # gradient + NOISE * the batch's shared draw of N(0, 1), per step and coordinate


def simulate(task: Task, noise, lr, beta, x0, target, surface):
    """One run; returns its summary and its records (every ``task.stride`` steps).

    noise: (steps, 2) standard normal draws, the same for every run of the batch."""
    opt = OPTIMIZERS[task.optimizer](lr, beta)
    if task.surface == "any":
        value_and_grad = jax.value_and_grad(lambda p: surface_value(p, surface))
    else:
        value_and_grad = jax.value_and_grad(SURFACES[task.surface].fn)
    tail_start = task.steps - task.steps // 10

    def step(carry, t):
        x, state, first_below, last_above, tail_sum, path = carry
        f, g = value_and_grad(x)
        if task.noisy:
            g = g + NOISE * noise[t]
        u, state = opt.update(g, state, x)
        below = f <= target
        first_below = jnp.where(below & (first_below == task.steps), t, first_below)
        last_above = jnp.where(below, last_above, t)     # a NaN loss counts as above
        tail_sum = tail_sum + jnp.where(t >= tail_start, f, 0.0)
        record = {"x": x, "loss": f, "effective_lr": jnp.abs(u) / jnp.abs(g), "path": path}
        record = jax.tree.map(lambda v: v.astype(jnp.float32), record)
        return (x + u, state, first_below, last_above, tail_sum, path + jnp.linalg.norm(u)), record

    zero = jnp.zeros((), x0.dtype)
    carry = (x0, opt.init(x0), jnp.asarray(task.steps), jnp.asarray(-1), zero, zero)
    if task.stride == 1:                 # every step recorded
        carry, records = jax.lax.scan(step, carry, jnp.arange(task.steps))
    elif task.stride == task.steps:      # no records
        carry, _ = jax.lax.scan(lambda c, t: (step(c, t)[0], None), carry, jnp.arange(task.steps))
        records = {}
    else:                                # the first step of every `stride` recorded
        def chunk(carry, k):
            carry, records = jax.lax.scan(step, carry, k * task.stride + jnp.arange(task.stride))
            return carry, jax.tree.map(lambda r: r[0], records)

        carry, records = jax.lax.scan(chunk, carry, jnp.arange(task.steps // task.stride))
    x, _, first_below, last_above, tail_sum, path = carry
    summary = {"x": x, "loss": surface_value(x, surface), "first_below": first_below,
               "last_above": last_above, "tail_loss": tail_sum / (task.steps // 10), "path": path}
    return summary, records


@functools.partial(jax.jit, static_argnums=0)
def run_tasks(tasks: tuple[Task, ...], batches: tuple[dict, ...]):
    """Every task's batch ``{noise, lr, beta, x0, target, surface}`` through ``simulate``,
    vmapped over the runs (the noise is shared)."""
    outputs = []
    for task, b in zip(tasks, batches):
        one = functools.partial(simulate, task, b["noise"])
        outputs.append(jax.vmap(one)(**{k: v for k, v in b.items() if k != "noise"}))
    return tuple(outputs)


def runs(surface: str, lr, beta, x0, target) -> dict:
    """A batch of runs on one surface; the arguments are broadcast to the number of runs."""
    n = max(np.size(lr), np.size(beta), len(x0) if np.ndim(x0) == 2 else 1)
    return {"lr": np.broadcast_to(np.asarray(lr, float), (n,)), "beta": np.broadcast_to(np.asarray(beta, float), (n,)),
            "x0": np.broadcast_to(np.asarray(x0, float), (n, 2)), "target": np.full(n, float(target)),
            "surface": np.full(n, SURFACE_IDS[surface])}


def joined(segments: dict[str, dict], noise=None) -> tuple[dict, dict[str, slice]]:
    """One batch out of named segments, and where each segment lies in it."""
    where, at = {}, 0
    for name, segment in segments.items():
        where[name] = slice(at, at + len(segment["lr"]))
        at += len(segment["lr"])
    together = {k: np.concatenate([s[k] for s in segments.values()]) for k in next(iter(segments.values()))}
    together["noise"] = np.zeros((1, 2)) if noise is None else noise
    return together, where


def to_numpy(tree):
    return jax.tree.map(np.asarray, tree)


# %% [markdown]
# ## Run: which runs, and how each learning rate is chosen
#
# * quadratic and Rosenbrock: every optimizer on its whole grid of `(lr, beta)`; the best
#   reaches loss 1e-6 (and stays there) in the fewest steps; where no run does, the lowest
#   mean loss over the last 10% of the run wins;
# * saddle: every optimizer at `SADDLE_LEARNING_RATE` from the displayed start and from
#   exactly `(1, 0)`; gradient descent, heavy ball and Adam also from `(1, 0) + eps u`, for
#   `N_DIRECTIONS` random unit vectors `u`, the same for every eps;
# * dimpled bowl: a grid of starts around the dimple, for every learning rate of
#   `SHARE_LEARNING_RATES`; each optimizer's learning rate is, of those at which every run
#   ends at one of the two minima, the one with the lowest mean final loss;
# * AdaGrad and RMSProp: `LONG_STEPS` steps on the quadratic with noisy gradients, each at
#   the learning rate with the lowest mean loss over the last 10%.

# %%
def grid_configs(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (lr, beta) pairs an optimizer is tuned on: beta only for the momentum forms."""
    betas = np.array(MOMENTUM_RATES) if name in USES_BETA else np.array([0.0])
    lr, beta = np.meshgrid(LEARNING_RATES, betas, indexing="ij")
    return lr.ravel(), beta.ravel()


def dimple_starts(quick: bool) -> np.ndarray:
    n = 11 if quick else 21
    gx, gy = np.meshgrid(np.linspace(0.2, 2.8, n), np.linspace(-0.3, 2.3, n))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def saddle_starts(seed: int) -> np.ndarray:
    """(1, 0) + eps u for every eps of EPSILONS (rows) and N_DIRECTIONS random unit vectors u
    (columns), the same u for every eps: shape (len(EPSILONS), N_DIRECTIONS, 2)."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, N_DIRECTIONS)
    u = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.array([1.0, 0.0]) + EPSILONS[:, None, None] * u[None]


SADDLE_SWEEP = ("GD", "heavy ball", "Adam")


def plan(names, quick: bool, seed: int) -> dict:
    """``{(optimizer, "display" | "dimple" | "noisy"): (Task, batch, segments)}``."""
    display_steps = QUICK_DISPLAY_STEPS if quick else DISPLAY_STEPS
    dimple_steps = QUICK_DIMPLE_STEPS if quick else DIMPLE_STEPS
    long_steps = QUICK_LONG_STEPS if quick else LONG_STEPS
    jobs = {}
    for name in names:
        lr, beta = grid_configs(name)
        saddle_x0 = [SURFACES["saddle"].start, (1.0, 0.0)]
        if name in SADDLE_SWEEP:
            saddle_x0 += list(saddle_starts(seed).reshape(-1, 2))
        segments = {
            "quadratic": runs("quadratic", lr, beta, SURFACES["quadratic"].start, LOSS_TARGET),
            "rosenbrock": runs("rosenbrock", lr, beta, SURFACES["rosenbrock"].start, LOSS_TARGET),
            "saddle": runs("saddle", SADDLE_LEARNING_RATE, DIMPLE_BETA, np.array(saddle_x0), ESCAPED_LOSS),
            "dimple": runs("dimple", SHARE_LEARNING_RATES, DIMPLE_BETA, SURFACES["dimple"].start, ESCAPED_LOSS),
        }
        jobs[name, "display"] = (Task(name, display_steps, 1, "any"), *joined(segments))
        grid = dimple_starts(quick)
        shares = runs("dimple", np.repeat(SHARE_LEARNING_RATES, len(grid)), DIMPLE_BETA,
                      np.tile(grid, (len(SHARE_LEARNING_RATES), 1)), ESCAPED_LOSS)
        jobs[name, "dimple"] = (Task(name, dimple_steps, dimple_steps, "dimple"), *joined({"dimple": shares}))
    # the same noise for every run (and both optimizers): learning rates compared on equal terms
    noise = np.random.default_rng(seed).standard_normal((long_steps, 2))
    for name in ("AdaGrad", "RMSProp"):
        noisy = runs("quadratic", LEARNING_RATES, 0.0, SURFACES["quadratic"].start, LOSS_TARGET)
        jobs[name, "noisy"] = (Task(name, long_steps, LONG_STRIDE, "quadratic", noisy=True),
                               *joined({"quadratic": noisy}, noise))
    return jobs


def run_all(jobs: dict) -> dict:
    """``{job: (summary, records)}`` as numpy arrays; ``summary[k]``: (runs, ...)."""
    keys = list(jobs)
    outputs = run_tasks(tuple(jobs[k][0] for k in keys), tuple(jobs[k][1] for k in keys))
    return {k: to_numpy(out) for k, out in zip(keys, outputs)}


def segment(out, jobs, name: str, what: str, part: str):
    """The summary and records of one segment of a job, and its batch."""
    task, b, where = jobs[name, what]
    s = where[part]
    summary, records = out[name, what]
    return ({k: v[s] for k, v in summary.items()}, {k: v[s] for k, v in records.items()},
            {k: v[s] for k, v in b.items() if k != "noise"})


# %% [markdown]
# ## Measurement: steps to a target, and the best configuration of a grid
#
# "Steps to reach 1e-6" counts the updates after which the loss stays at or below 1e-6 to
# the end of the run (momentum's loss is not monotone: a first crossing could be followed
# by an overshoot).  A run that never gets there counts as infinitely many steps.

# %%
def steps_to_stay_below(summary: dict, steps: int) -> np.ndarray:
    last_above = summary["last_above"].astype(float)
    reached = np.isfinite(summary["loss"]) & (summary["loss"] <= LOSS_TARGET)
    return np.where(reached & (last_above < steps), last_above + 1, np.inf)


def best_config(summary: dict, steps: int) -> int:
    """Index of the run with the fewest steps to the target, ties (and never) by the tail loss."""
    reach = steps_to_stay_below(summary, steps)
    tail = np.where(np.isfinite(summary["tail_loss"]), summary["tail_loss"], np.inf)
    return int(np.lexsort((tail, reach))[0])


def tune_valleys(names, jobs, out) -> dict:
    """Per optimizer and surface (quadratic, Rosenbrock): the best (lr, beta) and its numbers."""
    tuned = {}
    for name in names:
        steps = jobs[name, "display"][0].steps
        for surface in ("quadratic", "rosenbrock"):
            summary, records, b = segment(out, jobs, name, "display", surface)
            i = best_config(summary, steps)
            tuned[name, surface] = {
                "lr": float(b["lr"][i]), "beta": float(b["beta"][i]) if name in USES_BETA else None,
                "steps_to_target": float(steps_to_stay_below(summary, steps)[i]),
                "final_loss": float(summary["loss"][i]),
                "path": records["x"][i], "loss_curve": records["loss"][i]}
    return tuned


# %% [markdown]
# ## Measurement: the saddle
#
# Exactly on `y = 0` the gradient has no y-component, so gradient descent slides to the
# saddle point and stops there: its gradient is zero.  From `(1, 0) + eps u` the y-part
# grows by `1 + 2 lr` per step; the number of steps to `|y| = 1` is fitted against
# `log(1/eps)`.

# %%
def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line ``y = slope x + intercept`` and its R^2."""
    slope, intercept = np.polyfit(x, y, 1)
    residual = np.sum((y - (slope * x + intercept)) ** 2)
    return float(slope), float(intercept), float(1 - residual / np.sum((y - y.mean()) ** 2))


def saddle_measurements(names, jobs, out) -> dict:
    steps = jobs["GD", "display"][0].steps
    result = {"learning_rate": SADDLE_LEARNING_RATE, "epsilons": EPSILONS.tolist()}
    for name in SADDLE_SWEEP:
        if name in names:
            summary, _, _ = segment(out, jobs, name, "display", "saddle")
            first = summary["first_below"][2:].astype(float).reshape(len(EPSILONS), N_DIRECTIONS)
            result[name] = np.where(first < steps, first, np.nan)      # (eps, direction); NaN: never escaped
    summary, _, _ = segment(out, jobs, "GD", "display", "saddle")
    on_manifold_end = summary["x"][1]
    escape = result["GD"]
    mean_steps = escape.mean(axis=1)                 # NaN if a direction never escaped
    log_inverse_eps = np.log(1 / EPSILONS)
    fitted = np.isfinite(mean_steps)
    slope, intercept, r_squared = line_fit(log_inverse_eps[fitted], mean_steps[fitted]) if fitted.sum() > 2 else (
        np.nan, np.nan, np.nan)
    per_direction = [line_fit(log_inverse_eps, escape[:, k])[0] for k in range(N_DIRECTIONS)
                     if np.all(np.isfinite(escape[:, k]))]
    theory = 1 / np.log(1 + 2 * SADDLE_LEARNING_RATE)
    at_1e8 = int(np.argmin(np.abs(EPSILONS - 1e-8)))
    result.update({
        "on_manifold_end": on_manifold_end.tolist(),
        "on_manifold_distance": float(np.linalg.norm(on_manifold_end)),
        "escaped_share_1e-8": float(np.mean(np.isfinite(escape[at_1e8]))),
        "escape_steps_1e-8": escape[at_1e8].tolist(),
        "mean_escape_steps": mean_steps.tolist(),
        "fit_slope": slope, "fit_intercept": intercept, "r_squared": r_squared, "theory_slope": float(theory),
        "slope_over_theory": float(slope / theory),
        "per_direction_slopes": per_direction,
    })
    return result


# %% [markdown]
# ## Measurement: the dimple
#
# The dimple's basin: the starts from which gradient descent with a small step (lr 0.056,
# well below the 0.16 at which the deep well turns unstable) ends in the dimple, not in the
# deep well.  For every optimizer and learning rate: the share of those starts that end in
# the deep well (loss <= -1), and whether every run ended at a minimum (within 0.1 of the
# deep well's or the dimple's): a learning rate at which runs keep bouncing does not count
# as a tuned one.

# %%
BASIN_LEARNING_RATE = SHARE_LEARNING_RATES[np.argmin(np.abs(SHARE_LEARNING_RATES - 0.056))]
AT_MINIMUM = 0.1


def dimple_measurements(names, jobs, out, quick) -> dict:
    grid = dimple_starts(quick)
    n_lr = len(SHARE_LEARNING_RATES)

    def finals(name):
        summary = out[name, "dimple"][0]
        return summary["loss"].reshape(n_lr, len(grid)), summary["x"].reshape(n_lr, len(grid), 2)

    gd_loss, gd_x = finals("GD")
    basin_row = list(SHARE_LEARNING_RATES).index(BASIN_LEARNING_RATE)
    in_basin = gd_loss[basin_row] > ESCAPED_LOSS
    dimple_minimum = np.median(gd_x[basin_row][in_basin], axis=0)
    minima = np.array([[0.0, 0.0], dimple_minimum])
    shares, tuned, escaped_map = {}, {}, {}
    for name in names:
        loss, x = finals(name)
        loss, x = np.where(np.isfinite(loss), loss, np.inf)[:, in_basin], x[:, in_basin]
        share = np.mean(loss <= ESCAPED_LOSS, axis=1)
        distance = np.min(np.linalg.norm(x[:, :, None, :] - minima[None, None], axis=-1), axis=-1)
        settled = np.all(distance <= AT_MINIMUM, axis=1)
        mean_loss = np.mean(loss, axis=1)
        best = int(np.argmin(np.where(settled, mean_loss, np.inf))) if settled.any() else int(np.argmin(mean_loss))
        shares[name] = share.tolist()
        _, records, _ = segment(out, jobs, name, "display", "dimple")
        tuned[name] = {"lr": float(SHARE_LEARNING_RATES[best]), "escape_share": float(share[best]),
                       "mean_final_loss": float(mean_loss[best]), "settled_learning_rates": settled.tolist(),
                       "path": records["x"][best], "loss_curve": records["loss"][best]}
        escaped_map[name] = loss[best] <= ESCAPED_LOSS
    return {"grid": grid, "in_basin": in_basin, "dimple_minimum": dimple_minimum.tolist(), "shares": shares,
            "tuned": tuned, "escaped_map": escaped_map}


# %% [markdown]
# ## Measurement: AdaGrad's and RMSProp's effective learning rates
#
# Mini-batch gradients never vanish (KAUST Academy: "in deep learning we usually use mini
# batch gradient descent"); here every gradient gets noise of standard deviation `NOISE`.
# AdaGrad divides by `sqrt(G_t)`, `G_t = G_0 + sum of g^2`, which then grows like `t`: its
# effective learning rate `lr / sqrt(G_t)` (measured as `|update| / |gradient|` per
# coordinate) should fall like `t^(-1/2)`.  RMSProp divides by the root of an *average*
# of recent `g^2`, which does not grow.  Slopes are fitted in log-log over the last 90% of
# the run, on the geometric mean of the two coordinates.

# %%
def long_run_measurements(jobs, out) -> dict:
    result = {}
    for name in ("AdaGrad", "RMSProp"):
        task, b, _ = jobs[name, "noisy"]
        summary, records = out[name, "noisy"]
        tail = np.where(np.isfinite(summary["tail_loss"]), summary["tail_loss"], np.inf)
        i = int(np.argmin(tail))
        t = np.arange(0, task.steps, task.stride) + 1.0
        effective = np.exp(np.mean(np.log(records["effective_lr"][i].astype(float)), axis=1))  # geometric mean of x, y
        window = t >= task.steps / 10
        slope, intercept = np.polyfit(np.log(t[window]), np.log(effective[window]), 1)
        path = records["path"][i].astype(float)
        path_slope = np.polyfit(np.log(t[window]), np.log(path[window]), 1)[0]
        result[name] = {"lr": float(b["lr"][i]), "tail_loss": float(tail[i]), "slope": float(slope),
                        "intercept": float(intercept), "path_slope": float(path_slope),
                        "t": t, "effective_lr": effective, "path": path,
                        "effective_lr_start": float(effective[window][0]), "effective_lr_end": float(effective[-1])}
    return result


# %% [markdown]
# ## Run: the full-batch solvers, counting function evaluations
#
# `optim.minimize` runs each method as one compiled `while_loop`; its result has the
# iterations but not the number of evaluations of f, so the surface calls
# `jax.debug.callback` once per evaluation (value and gradient together, or one Hessian:
# Newton evaluates one Hessian per iteration, counted apart).  The surface and method
# are traced arguments, so one program serves all surfaces.

# %%
SOLVER_METHODS = ("newton", "lbfgs", "cg", "gd")
SOLVER_LABELS = {"newton": "Newton", "lbfgs": "L-BFGS", "cg": "CG", "gd": "GD"}
QUICK_SOLVER_METHODS = ("gd",)
EVALUATIONS = collections.Counter()


def _count(method_id):
    EVALUATIONS[int(method_id)] += 1


def counted_surface(p, surface_id, method_id):
    jax.debug.callback(_count, method_id)
    return jax.lax.switch(surface_id, [s.fn for s in SURFACES.values()], p)


@functools.partial(jax.jit, static_argnames=("methods", "gd_max_iter"))
def solve_problem(surface_id, x0, gd_lr, methods, gd_max_iter):
    results = {}
    for m, method in enumerate(methods):
        options = ({"learning_rate": gd_lr, "f_tol": 0.0, "max_iter": gd_max_iter} if method == "gd"
                   else {"max_iter": 1000})
        results[method] = optim.minimize(counted_surface, x0, method=method, args=(surface_id, m),
                                         tol=SOLVER_TOLERANCE, **options)
    return results


def solver_table(methods, gd_lrs: dict, quick: bool) -> list[dict]:
    problems = [("quadratic", SURFACES["quadratic"].start), ("rosenbrock", SURFACES["rosenbrock"].start),
                ("saddle", (1.0, 0.0)), ("saddle", (1.0, 1e-8)), ("dimple", SURFACES["dimple"].start)]
    rows = []
    for surface, x0 in problems:
        EVALUATIONS.clear()
        res = solve_problem(SURFACE_IDS[surface], jnp.asarray(x0), gd_lrs[surface], methods,
                            2_000 if quick else 100_000)
        res = to_numpy(res)
        for m, method in enumerate(methods):
            r = res[method]
            hessians = int(r.n_iter) if method == "newton" else 0
            label = f"GD, lr {gd_lrs[surface]:.3g}" if method == "gd" else SOLVER_LABELS[method]
            rows.append({"surface": surface, "start": list(x0), "method": label, "method_key": method,
                         "iterations": int(r.n_iter), "f_evaluations": EVALUATIONS[m] - hessians,
                         "hessian_evaluations": hessians, "converged": bool(r.converged),
                         "grad_norm": float(r.grad_norm), "x": np.asarray(r.x).tolist(), "f": float(r.fun),
                         "learning_rate": float(gd_lrs[surface]) if method == "gd" else None})
    return rows


# %% [markdown]
# ## Figures

# %%
def contour(ax, surface: Surface):
    x0, x1, y0, y1 = surface.window
    gx, gy = np.meshgrid(np.linspace(x0, x1, 160), np.linspace(y0, y1, 160))
    z = np.asarray(surface.fn(np.stack([gx, gy])))
    if surface.minimum == 0.0:    # quadratic, Rosenbrock: levels evenly spaced in log
        levels = np.logspace(-2, np.log10(z.max()), 14)
        ax.contour(gx, gy, z, levels=levels, colors="0.6", linewidths=0.6)
    else:
        ax.contour(gx, gy, z, levels=16, colors="0.6", linewidths=0.6, negative_linestyles="solid")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")


def plot_trajectories(paths: dict, names, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(SURFACES), 2, figsize=(11, 4.2 * len(SURFACES)))
    for row, (surface_name, surface) in enumerate(SURFACES.items()):
        for col, (family, members) in enumerate((("momentum", MOMENTUM_FAMILY), ("adaptive", ADAPTIVE_FAMILY))):
            ax = axes[row, col]
            contour(ax, surface)
            for name in members:
                if name not in names:
                    continue
                xy, label = paths[surface_name][name]
                ax.plot(xy[:, 0], xy[:, 1], STYLES[name], color=COLORS[name], linewidth=1.1, alpha=0.9, label=label)
                ax.plot(xy[-1, 0], xy[-1, 1], "o", color=COLORS[name], markersize=4)
            ax.plot(*surface.start, "k*", markersize=10, label="start")
            how = (f"all at lr {SADDLE_LEARNING_RATE:g}, from (1, 0.001)" if surface_name == "saddle"
                   else "each at its tuned learning rate")
            ax.set_title(f"{surface.title}: {family} methods\n({how}; dot: where it ends)", fontsize=9)
            ax.legend(fontsize=7, loc="best")
    save_figure(fig, path)


def plot_losses(curves: dict, names, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (surface_name, surface) in zip(axes.ravel(), SURFACES.items()):
        for name in names:
            t, value = curves[surface_name][name]
            shown = np.unique(np.linspace(0, len(t) - 1, 500).astype(int))    # 500 points suffice for a curve
            ax.plot(t[shown], value[shown], STYLES[name], color=COLORS[name], linewidth=1.1, label=name)
        if surface_name == "saddle":
            ax.set(ylabel="|y|, distance from the stable manifold (log scale)", xlim=(0, 300), ylim=(1e-4, 1e3),
                   title=f"{surface.title}: leaving the saddle, lr {SADDLE_LEARNING_RATE:g} (first 300 steps)")
            ax.axhline(1.0, color="k", linestyle=":", linewidth=0.8, label="|y| = 1: escaped")
        else:
            ax.set(ylabel="loss - minimum (log scale)", title=f"{surface.title}: loss, each at its tuned lr")
            if surface_name == "quadratic":
                ax.axhline(LOSS_TARGET, color="k", linestyle=":", linewidth=0.8, label="target 1e-6")
                ax.set_ylim(bottom=1e-30)
        ax.set(yscale="log", xlabel="step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def plot_quadratic_tuning(names, jobs, out, path):
    fig, ax = figure("Quadratic (condition number 100): steps to loss 1e-6 on the grid",
                     "learning rate (log scale)", "steps to reach and stay <= 1e-6 (log scale)",
                     xscale="log", yscale="log", size=(7, 4.5))
    steps = jobs["GD", "display"][0].steps
    for name in names:
        summary, _, b = segment(out, jobs, name, "display", "quadratic")
        reach = steps_to_stay_below(summary, steps)
        lr = b["lr"]
        best_per_lr = np.array([reach[lr == v].min() for v in LEARNING_RATES])
        shown = np.isfinite(best_per_lr)
        label = name + (" (best beta per lr)" if name in USES_BETA else "")
        if shown.any():
            ax.plot(LEARNING_RATES[shown], best_per_lr[shown], "." + STYLES[name], color=COLORS[name], label=label)
        else:
            ax.plot([], [], STYLES[name], color=COLORS[name], label=f"{name}: never, at any lr of the grid")
    ax.set_ylim(top=steps * 1.05)
    save_figure(fig, path)


def plot_adagrad_rmsprop(long: dict, path):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in ("AdaGrad", "RMSProp"):
        r = long[name]
        color = COLORS[name]
        left.plot(r["t"], r["effective_lr"], color=color, linewidth=1,
                  label=f"{name} (lr {r['lr']:.2g}): fitted slope {r['slope']:+.3f}")
        window = r["t"] >= r["t"][-1] / 10
        left.plot(r["t"][window], np.exp(r["intercept"]) * r["t"][window] ** r["slope"], "--", color="k", linewidth=0.8,
                  label="fits over the last 90% of the steps" if name == "RMSProp" else None)
        right.plot(r["t"][1:], r["path"][1:], color=color, linewidth=1.2,
                   label=f"{name}: grows like t^{r['path_slope']:.2f} (final loss {r['tail_loss']:.1e})")
    left.set(xscale="log", yscale="log", xlabel="step t (log scale)",
             ylabel="effective lr |update|/|gradient| (log scale)",
             title="Effective step: AdaGrad ~ t^(-1/2), RMSProp flat")
    right.set(xscale="log", yscale="log", xlabel="step t (log scale)", ylabel="path length travelled (log scale)",
              title="Path length: AdaGrad's grows like sqrt(t), RMSProp's like t")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Quadratic with noisy gradients (noise std {NOISE:g}), {int(long['AdaGrad']['t'][-1] + 99)} steps, "
                 "each at its tuned learning rate", fontsize=11)
    save_figure(fig, path)


def plot_saddle(saddle_result: dict, path):
    fig, ax = figure(f"Saddle x^2 - y^2: steps to escape (|y| >= 1) from (1, 0) + eps u, lr {SADDLE_LEARNING_RATE:g}",
                     "log(1/eps) (natural log)", "steps to escape", size=(7.5, 4.5))
    x = np.log(1 / EPSILONS)
    for name, marker in zip(SADDLE_SWEEP, "os^"):
        if name not in saddle_result:
            continue
        steps = saddle_result[name]                      # (eps, direction)
        ax.plot(np.repeat(x, N_DIRECTIONS), steps.ravel(), marker, color=COLORS[name], markersize=3, alpha=0.5,
                linestyle="", label=f"{name}, {N_DIRECTIONS} random directions u")
        ax.plot(x, np.nanmean(steps, axis=1), "-", color=COLORS[name], linewidth=1, alpha=0.8)
    ax.plot(x, saddle_result["fit_slope"] * x + saddle_result["fit_intercept"], "k-", linewidth=0.8,
            label=f"GD mean, fitted: slope {saddle_result['fit_slope']:.3f}, R^2 {saddle_result['r_squared']:.5f}")
    mean = np.array(saddle_result["mean_escape_steps"])
    offset = np.nanmean(mean - saddle_result["theory_slope"] * x)
    ax.plot(x, saddle_result["theory_slope"] * x + offset, "k:", linewidth=1.2,
            label=f"theory: slope 1/log(1 + 2 lr) = {saddle_result['theory_slope']:.3f} (under the fit)")
    save_figure(fig, path)


def plot_dimple(dimple: dict, names, path):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    for name in names:
        left.plot(SHARE_LEARNING_RATES, 100 * np.array(dimple["shares"][name]), ".-", color=COLORS[name], label=name)
    left.set(xscale="log", xlabel="learning rate (log scale)", ylabel="starts that end in the deep well (%)",
             title=f"Leaving the dimple, {dimple['in_basin'].sum()} starts in its basin (beta = {DIMPLE_BETA})")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, ncol=2)
    contour(right, SURFACES["dimple"])
    grid = dimple["grid"][dimple["in_basin"]]
    counts = {}
    if "heavy ball" in names:
        escaped = dimple["escaped_map"]["heavy ball"]          # over the basin's starts
        right.scatter(*grid[escaped].T, s=22, color=COLORS["heavy ball"], label="heavy ball ends in the deep well")
        right.scatter(*grid[~escaped].T, s=22, facecolors="none", edgecolors=COLORS["heavy ball"],
                      label="heavy ball stays in the dimple")
        counts["heavy ball"] = escaped.sum()
    escaped = dimple["escaped_map"]["GD"]
    right.scatter(*grid[escaped].T, s=40, marker="x", color=COLORS["GD"], label="GD ends in the deep well")
    counts["GD"] = escaped.sum()
    right.plot(*dimple["dimple_minimum"], "k+", markersize=10, label="the dimple's minimum")
    right.set(xlim=(-0.5, 3), ylim=(-1, 2.8),
              title="Dimple basin starts leaving it: " + ", ".join(
                  f"{name} (lr {dimple['tuned'][name]['lr']:.2g}) {counts[name]} of {len(grid)}" for name in counts))
    right.title.set_fontsize(9)
    right.legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def plot_solver_table(rows: list[dict], path):
    import matplotlib.pyplot as plt

    def ends_at(r):
        if not np.all(np.isfinite(r["x"])) or not np.isfinite(r["f"]):
            return "diverged, f -> -inf"
        return "(%.3g, %.3g)" % tuple(np.where(np.abs(r["x"]) < 1e-6, 0.0, r["x"]))

    header = ["surface", "start", "method", "iterations", "f evals", "Hessians", "converged", "|grad f|", "ends at"]
    cells = [[r["surface"], f"({r['start'][0]:g}, {r['start'][1]:g})", r["method"], r["iterations"], r["f_evaluations"],
              r["hessian_evaluations"] or "", "yes" if r["converged"] else "no",
              f"{r['grad_norm']:.1e}" if np.isfinite(r["grad_norm"]) else "inf", ends_at(r)] for r in rows]
    fig, ax = plt.subplots(figsize=(11, 0.26 * len(rows) + 0.9))
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.2)
    ax.set_title(f"Full-batch solvers (optim.minimize) to ||grad f|| <= {SOLVER_TOLERANCE:g}: iterations and "
                 "evaluations of f (with its gradient)", fontsize=10)
    save_figure(fig, path)


# %% [markdown]
# ## Measurement and verdict
#
# Read the numbers with the figures: the tuned momentum runs cross the quadratic in a
# ninth of gradient descent's steps, but they do it by oscillating *harder* across the
# valley (a large learning rate that gradient descent could not survive), not by being
# smooth; the saddle's escape steps sit on the theory's line; heavy ball rolls out of the
# dimple from the starts high on its rim and stays from those near its bottom (it needs
# the height to gain speed); AdaGrad's step keeps shrinking while RMSProp's does not,
# which on this noisy quadratic lets AdaGrad end *lower* -- the stall is in the distance
# it can still travel, not (here) in the loss.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    names = QUICK_OPTIMIZERS if run.quick else tuple(OPTIMIZERS)
    jobs = plan(names, run.quick, run.seed)
    print(f"{len(jobs)} batches, {sum(len(b['lr']) for _, b, _ in jobs.values())} runs in all, compiled together")
    out = run_all(jobs)

    # the valleys: tuned configurations and momentum's speed-up
    valleys = tune_valleys(names, jobs, out)
    for name in names:
        q, r = valleys[name, "quadratic"], valleys[name, "rosenbrock"]
        beta = "" if q["beta"] is None else f", beta {q['beta']:g}"
        print(f"{name:15s} quadratic: {q['steps_to_target']:6.0f} steps to 1e-6 (lr {q['lr']:.3g}{beta}); "
              f"Rosenbrock: final loss {r['final_loss']:.2e} (lr {r['lr']:.3g})")
    gd_steps = valleys["GD", "quadratic"]["steps_to_target"]
    ratio = {name: valleys[name, "quadratic"]["steps_to_target"] / gd_steps
             for name in ("momentum (EMA)", "heavy ball", "Nesterov") if name in names}

    saddle_result = saddle_measurements(names, jobs, out)
    print(f"\nsaddle: from (1, 0) GD ends {saddle_result['on_manifold_distance']:.1e} from the saddle; "
          f"from 1e-8 off it {100 * saddle_result['escaped_share_1e-8']:.0f}% escape in "
          f"{np.nanmean(saddle_result['escape_steps_1e-8']):.0f} steps; mean escape steps = "
          f"{saddle_result['fit_slope']:.3f} "
          f"log(1/eps) + {saddle_result['fit_intercept']:.1f} (theory slope {saddle_result['theory_slope']:.3f}, "
          f"R^2 {saddle_result['r_squared']:.6f})")

    dimple = dimple_measurements(names, jobs, out, run.quick)
    print(f"\ndimple: {dimple['in_basin'].sum()} starts in its basin")
    for name in names:
        d = dimple["tuned"][name]
        print(f"{name:15s} lr {d['lr']:.3g}: {100 * d['escape_share']:5.1f}% end in the deep well "
              f"(mean final loss {d['mean_final_loss']:.3f})")

    long = long_run_measurements(jobs, out)
    print("")
    for name in ("AdaGrad", "RMSProp"):
        r = long[name]
        print(f"{name}: lr {r['lr']:.3g}, effective-lr slope {r['slope']:+.3f} "
              f"({r['effective_lr_start']:.2e} -> {r['effective_lr_end']:.2e}), path ~ t^{r['path_slope']:.2f}, "
              f"final loss {r['tail_loss']:.2e}")

    # the solvers, with GD at its tuned learning rate per surface
    gd_lrs = {"quadratic": valleys["GD", "quadratic"]["lr"], "rosenbrock": valleys["GD", "rosenbrock"]["lr"],
              "saddle": SADDLE_LEARNING_RATE, "dimple": dimple["tuned"]["GD"]["lr"]}
    methods = QUICK_SOLVER_METHODS if run.quick else SOLVER_METHODS
    rows = solver_table(methods, gd_lrs, run.quick)
    print("")
    for r in rows:
        print(f"{r['surface']:10s} from ({r['start'][0]:g}, {r['start'][1]:g})  {r['method']:14s} "
              f"{r['iterations']:6d} iterations {r['f_evaluations']:6d} f evaluations  "
              f"{'converged' if r['converged'] else 'NOT converged'} |g| {r['grad_norm']:.1e} at {np.round(r['x'], 4)}")

    # figures
    paths, curves = {s: {} for s in SURFACES}, {s: {} for s in SURFACES}
    for name in names:
        for surface in ("quadratic", "rosenbrock"):
            v = valleys[name, surface]
            beta = "" if v["beta"] is None else f", beta {v['beta']:g}"
            paths[surface][name] = (v["path"], f"{name} (lr {v['lr']:.2g}{beta})")
            curves[surface][name] = (np.arange(len(v["loss_curve"])), v["loss_curve"] - SURFACES[surface].minimum)
        _, saddle_records, _ = segment(out, jobs, name, "display", "saddle")
        paths["saddle"][name] = (saddle_records["x"][0], f"{name} (lr {SADDLE_LEARNING_RATE:g})")
        curves["saddle"][name] = (np.arange(len(saddle_records["x"][0])), np.abs(saddle_records["x"][0][:, 1]))
        d = dimple["tuned"][name]
        paths["dimple"][name] = (d["path"], f"{name} (lr {d['lr']:.2g})")
        curves["dimple"][name] = (np.arange(len(d["loss_curve"])), d["loss_curve"] - SURFACES["dimple"].minimum)
    plot_trajectories(paths, names, run.out / "trajectories.png")
    plot_losses(curves, names, run.out / "loss_vs_step.png")
    plot_quadratic_tuning(names, jobs, out, run.out / "quadratic_tuning.png")
    plot_adagrad_rmsprop(long, run.out / "adagrad_vs_rmsprop.png")
    plot_saddle(saddle_result, run.out / "saddle_escape.png")
    plot_dimple(dimple, names, run.out / "local_minimum.png")
    plot_solver_table(rows, run.out / "solvers_table.png")

    # verdict
    solver_rows = [r for r in rows if r["method_key"] != "gd" and r["surface"] != "saddle"]
    solved = sum(r["converged"] and r["grad_norm"] <= SOLVER_TOLERANCE for r in solver_rows)
    heavy = dimple["tuned"].get("heavy ball", {}).get("escape_share")
    checks = [
        check("momentum (EMA) / GD steps to loss 1e-6 on the quadratic (ratio)", ratio.get("momentum (EMA)"), "<=",
              MOMENTUM_STEP_RATIO),
        check("heavy ball / GD steps to loss 1e-6 on the quadratic (ratio)", ratio.get("heavy ball"), "<=",
              MOMENTUM_STEP_RATIO),
        check("AdaGrad: |slope of log effective lr vs log t + 1/2|", abs(long["AdaGrad"]["slope"] + 0.5), "<=",
              SLOPE_TOLERANCE),
        check("RMSProp: |slope of log effective lr vs log t|", abs(long["RMSProp"]["slope"]), "<=", FLAT_SLOPE),
        check("GD from (1, 0): distance from the saddle at the end", saddle_result["on_manifold_distance"], "<=",
              AT_SADDLE),
        check("GD from 1e-8 off the stable manifold: share of starts that escape (fraction)",
              saddle_result["escaped_share_1e-8"], ">=", MIN_ESCAPED_SHARE),
        check("GD escape steps vs log(1/eps): R^2 of the line", saddle_result["r_squared"], ">=", MIN_R_SQUARED),
        check("GD escape steps vs log(1/eps): |slope x log(1 + 2 lr) - 1|", abs(saddle_result["slope_over_theory"] - 1),
              "<=", ESCAPE_SLOPE_TOLERANCE),
        check("heavy ball (tuned lr): share of dimple-basin starts ending in the deep well (fraction)", heavy, ">=",
              MIN_MOMENTUM_ESCAPE_SHARE),
        check("GD (tuned lr): share of dimple-basin starts ending in the deep well (fraction)",
              dimple["tuned"]["GD"]["escape_share"], "<=", MAX_GD_ESCAPE_SHARE),
        check("Newton, L-BFGS, CG on quadratic, Rosenbrock, dimple: share of runs reaching ||grad|| <= 1e-8 "
              "(fraction)", solved / len(solver_rows) if solver_rows else None, ">=", MIN_SOLVED_SHARE),
    ]

    results = {
        "learning_rates": LEARNING_RATES.tolist(), "momentum_rates": list(MOMENTUM_RATES),
        "valleys": {f"{name} / {surface}": {k: v for k, v in value.items() if k not in ("path", "loss_curve", "index")}
                    for (name, surface), value in valleys.items()},
        "momentum_step_ratio": ratio,
        "saddle": saddle_result,
        "dimple": {"starts_in_basin": int(dimple["in_basin"].sum()),
                   "share_learning_rates": SHARE_LEARNING_RATES.tolist(),
                   "escape_share_per_lr": dimple["shares"],
                   "tuned": {name: {k: v for k, v in d.items() if k not in ("path", "loss_curve", "index")}
                             for name, d in dimple["tuned"].items()}},
        "adagrad_rmsprop_noisy": {name: {k: v for k, v in r.items() if k not in ("t", "effective_lr", "path")}
                                  for name, r in long.items()},
        "solvers": rows,
    }
    def shown(value, form: str) -> str:
        return "not run" if value is None or not np.isfinite(value) else format(value, form)

    summary = (f"momentum needs {shown(ratio.get('heavy ball'), '.2f')} (heavy ball) / "
               f"{shown(ratio.get('momentum (EMA)'), '.2f')} (EMA) of GD's {gd_steps:.0f} steps to loss 1e-6 on the "
               f"quadratic (<= {MOMENTUM_STEP_RATIO:.2f}); AdaGrad's effective lr slope {long['AdaGrad']['slope']:+.3f} "
               f"(-1/2), RMSProp's {long['RMSProp']['slope']:+.3f}; GD's saddle escape steps = "
               f"{saddle_result['slope_over_theory']:.3f} x log(1/eps)/log(1+2lr) (R^2 {saddle_result['r_squared']:.5f}); "
               f"heavy ball leaves the dimple from {shown(100 * heavy if heavy is not None else None, '.0f')} % of its "
               f"basin, GD from {100 * dimple['tuned']['GD']['escape_share']:.0f} %; Newton/L-BFGS/CG reach |grad| <= 1e-8 "
               f"in {solved} of {len(solver_rows)} runs")
    return finish(run, results, summary, checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
