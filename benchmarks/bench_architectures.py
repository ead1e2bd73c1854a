"""`fit` on a CNN and an LSTM against hand-written plain JAX + optax references, back to back.

Each reference (`reference.py`'s training loop) is what a careful JAX user writes by hand
for the same architecture: the layers written directly with ``lax.conv_general_dilated`` /
``lax.reduce_window`` (CNN) or a ``lax.scan`` over time of the LSTM equations (LSTM),
``jax.value_and_grad``, optax Adam, one ``jax.jit`` of a ``lax.scan`` over an epoch of
on-device shuffled batches, one host sync per epoch.  Both start from the same params and
see the same data and batch size.  The data are random numbers of the right shapes: the
speed of these networks does not depend on the values.

* digits-sized CNN: flat 8x8x1 images, conv 5x5x32 "SAME", ReLU, 2x2 max-pool, dense 128,
  ReLU, dropout 0.3, dense 10; softmax cross-entropy; 5385 images, batch 64.
* LSTM on adding-problem-shaped sequences: T = 100, D = 2, H = 32, dense 1, MSE;
  4000 sequences, batch 32.

Each round times the reference, ``fit`` (autodiff), ``fit(grad="backprop")`` and the
reference's step loop interleaved (in alternating order, ABCD DCBA ...), so machine load
hits all alike.  Speed = reference time / fit time of the same round (1.0 = same speed,
> 1 = jaxnn faster); reported is the median of these paired ratios over rounds, with their
quartiles: on a shared 2-core machine single epochs move by +-10%, and pairing cancels most
of it.  The step-loop column times the reference's step jitted alone and called once per
batch from Python.  That is not the design jaxnn follows (the epoch is its unit of
compilation); it is timed beside it because XLA:CPU runs the swapped-layout convolutions
that ``jax.grad`` derives from ``lax.conv_general_dilated``, and the ``select_and_scatter_add``
it derives from ``reduce_window`` max, far slower inside a loop body (jax-ml/jax#12868),
which this loop avoids.  The reference keeps those plain derivatives, as a JAX user writes
it; jaxnn's ``conv2d`` and ``max_pool`` take their derivatives from JAX's derivative of
an im2col matmul and of a first-maximum selection instead (`jaxnn.layers.conv.conv_forward`,
`jaxnn.layers.pool.max_pool_forward`), so ``fit`` runs several times faster than the reference
on the CNN.  The last column compares inference: ``model.apply`` against the reference's
forward.

    python benchmarks/bench_architectures.py [--rounds 15] [--quick]
"""
from __future__ import annotations

import statistics
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from reference import fit_against_reference, random_data, reference_params, speed_table
from timing import call_timer, header, rounds_cli

from jaxnn import models

IMAGE_SHAPE = (8, 8, 1)
CNN_DROPOUT = 0.3
LSTM_HIDDEN = 32
AGREEMENT_TOLERANCE = 1e-4  # max |jaxnn - reference| of the logits before timing: same function


# --- the architectures, in jaxnn and by hand -------------------------------------------------

def jaxnn_cnn():
    return models.cnn((32,), 10, image_shape=IMAGE_SHAPE, kernel_size=5, dense_sizes=(128,),
                      dropout_rate=CNN_DROPOUT)


def reference_cnn_forward(params, x, key):
    """conv 5x5 SAME + ReLU, 2x2 max-pool, dense + ReLU, inverted dropout (none when
    ``key`` is None), dense: logits."""
    conv, hidden, out = params
    images = x.reshape(-1, *IMAGE_SHAPE)
    h = lax.conv_general_dilated(images, conv["W"], (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC")) + conv["b"]
    h = jax.nn.relu(h)
    h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ hidden["W"] + hidden["b"])
    if key is not None:
        h = h * jax.random.bernoulli(key, 1.0 - CNN_DROPOUT, h.shape) / (1.0 - CNN_DROPOUT)
    return h @ out["W"] + out["b"]


def reference_cnn_loss(params, x, y, key):
    return optax.softmax_cross_entropy_with_integer_labels(reference_cnn_forward(params, x, key), y).mean()


def reference_lstm_forward(params, x, key):
    """LSTM (gates i, f, g, o) over time by ``lax.scan``, then a dense readout of h_T."""
    cell, out = params
    hidden = cell["W_h"].shape[0]
    xw = jnp.einsum("ntd,dg->tng", x, cell["W_x"]) + cell["b"]

    def step(state, xw_t):
        h, c = state
        i, f, g, o = jnp.split(xw_t + h @ cell["W_h"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
    (h, _), _ = lax.scan(step, (zeros, zeros), xw)
    return h @ out["W"] + out["b"]


def reference_lstm_loss(params, x, y, key):
    return jnp.mean((reference_lstm_forward(params, x, key) - y) ** 2)


# --- the configurations ---------------------------------------------------------------------

class Config(NamedTuple):
    name: str
    model: object
    loss: str
    reference_forward: Callable
    reference_loss: Callable
    x: jax.Array
    y: jax.Array
    batch_size: int
    epochs: int          # epochs per timing


def configs(quick: bool) -> list[Config]:
    return [
        Config("digits-sized CNN conv5x5x32-pool-128-10, batch 64", jaxnn_cnn(), "softmax_cross_entropy",
               reference_cnn_forward, reference_cnn_loss, *random_data(5385, (64,), n_classes=10),
               64, 1 if quick else 2),
        Config(f"LSTM H={LSTM_HIDDEN} on sequences T=100, D=2, batch 32",
               models.rnn_regressor(LSTM_HIDDEN, 1, cell="lstm"), "mse",
               reference_lstm_forward, reference_lstm_loss, *random_data(1024 if quick else 4000, (100, 2), y_shape=(1,)),
               32, 1 if quick else 3),
    ]


# --- measurements ---------------------------------------------------------------------------

def reference_gap(config: Config, params) -> float:
    """Max |jaxnn logits - reference logits| in inference mode (dropout off in both)."""
    ours = config.model.apply(params, config.x[:64])
    theirs = config.reference_forward(reference_params(params), config.x[:64], None)
    return float(jnp.max(jnp.abs(ours - theirs)))


def forward_speed(config: Config, params, rounds: int, batch: int = 256) -> float:
    """Inference: median over rounds of (reference forward time / ``model.apply`` time),
    each jitted, on one batch of ``batch`` examples."""
    x = config.x[:batch]
    ours = call_timer(jax.jit(config.model.apply), params, x)
    theirs = call_timer(jax.jit(lambda p, x: config.reference_forward(p, x, None)), reference_params(params), x)
    return statistics.median(theirs() / ours() for _ in range(rounds))


def measure(config: Config, rounds: int) -> dict:
    _, params = config.model.init(jax.random.key(0), config.x.shape[1:])
    gap = reference_gap(config, params)
    if gap > AGREEMENT_TOLERANCE:
        raise AssertionError(f"{config.name}: the reference computes something else (max gap {gap:.2e})")
    result = fit_against_reference(config.model, params, config.loss, config.reference_loss, config.x, config.y,
                                   batch_size=config.batch_size, epochs=config.epochs, rounds=rounds,
                                   step_loop=True)
    return {"config": config.name, **result, "apply_speed": forward_speed(config, params, rounds)}


def main(rounds: int = 15, quick: bool = False) -> list[dict]:
    print(header(rounds))
    rows = [measure(config, rounds) for config in configs(quick)]
    print(speed_table(rows, {
        "fit(grad=backprop) speed vs reference": lambda r: f"{r['backprop_speed']:.3f}x",
        "backprop time / autodiff": lambda r: f"{r['backprop_over_autodiff']:.3f}",
        "reference step-per-dispatch loop ms/epoch": lambda r: f"{r['step_loop_ms']:.0f}",
        "apply speed vs reference forward, batch 256": lambda r: f"{r['apply_speed']:.2f}x",
    }, ms=".0f"))
    return rows


if __name__ == "__main__":
    rounds_cli(main, __doc__, quick_help="fewer epochs and sequences")
