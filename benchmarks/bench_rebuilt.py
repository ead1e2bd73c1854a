"""A rebuilt model and optimizer reuse the compiled epoch: ``fit`` with objects built again
(as re-running a notebook cell does) against ``fit`` with the same objects.

One epoch of a digits MLP (64-64-10, ReLU, Adam 1e-3, batch 32, the 1077 bundled training
digits).  Contenders, each one ``fit`` call of 1 epoch from the same params and key:

* ``same objects``: the model and optimizer built once, before timing;
* ``rebuilt``: ``models.mlp(...)`` and ``optim.adam(1e-3)`` built again before each call;
  their specs equal the first ones' (`jaxnn.spec`), so the compiled epoch is reused.  Timed
  twice: the ``fit`` call alone (the figure of issue 14), and the building (which records
  the specs) plus the call, what re-running a notebook cell costs;
* ``rebuilt, keyed by identity``: the same, but stripped of their specs (a plain
  ``Layer(*model)`` and ``optax.adam``), so every call compiles: what a rebuilt object cost
  before specs, and what an optax transformation or a user-written layer still costs.

Each round times ``same objects`` and ``rebuilt`` back to back in alternating order
(`timing.interleaved_rounds`), each measurement the mean of 10 calls; the figure is the
median over rounds of each round's time / the same-objects time, with the quartiles.  The
identity-keyed contender is timed apart (at most 5 rounds, one call each, against its own
same-objects calls), so its compiles do not disturb the others.  Goal (issue 14): the ``fit`` call with rebuilt objects <= 1.1x.  The trained
params of ``rebuilt`` equal those of ``same objects`` bit for bit.

    python benchmarks/bench_rebuilt.py [--rounds 15] [--quick]
"""
from __future__ import annotations

import statistics
import time

import jax
import numpy as np
import optax
from timing import header, interleaved_rounds, markdown_table, paired_ratios, quartiles, rounds_cli, speed_cell

from jaxnn import datasets, models, optim, train
from jaxnn.layers import Layer

WIDTHS, BATCH_SIZE, LEARNING_RATE = [64, 10], 32, 1e-3
CALLS = 10  # fit calls per measurement of the two cheap contenders (one call is a few ms)
GOAL = 1.1  # rebuilt-object fit time / same-object fit time
LOSS = "softmax_cross_entropy"


def contenders(x, y) -> dict:
    """``name -> ((calls) -> ((fit seconds, building + fit seconds) per call, params))``: one
    epoch of ``fit`` per call, after building its model and optimizer with ``build()``."""
    model, optimizer = models.mlp(WIDTHS, activation="relu"), optim.adam(LEARNING_RATE)
    params = model.init(jax.random.key(0), (x.shape[1],))[1]

    def fit_with(build):
        def run(calls: int = 1):
            fitting = total = 0.0
            for _ in range(calls):
                start = time.perf_counter()
                built_model, built_optimizer = build()
                built = time.perf_counter()
                trained, _ = train.fit(built_model, params, LOSS, built_optimizer, x, y, epochs=1,
                                       batch_size=BATCH_SIZE, key=jax.random.key(1), progress=False)
                trained = jax.block_until_ready(trained)
                end = time.perf_counter()
                fitting, total = fitting + end - built, total + end - start
            return (fitting / calls, total / calls), trained
        return run

    return {
        "same objects": fit_with(lambda: (model, optimizer)),
        "rebuilt": fit_with(lambda: (models.mlp(WIDTHS, activation="relu"), optim.adam(LEARNING_RATE))),
        "rebuilt, keyed by identity": fit_with(
            lambda: (Layer(*models.mlp(WIDTHS, activation="relu")), optax.adam(LEARNING_RATE))),
    }


def main(rounds: int = 15, quick: bool = False) -> dict:
    rounds = min(rounds, 3) if quick else rounds
    print(header(rounds))
    x, y = datasets.load("digits").train
    x, y = np.asarray(x), np.asarray(y)
    runs = contenders(x, y)
    warm = {name: run()[1] for name, run in runs.items()}  # compiles "same objects" (and "rebuilt" reuses it)
    identical = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(warm["same objects"]),
                                                          jax.tree_util.tree_leaves(warm["rebuilt"])))
    cheap = interleaved_rounds({name: (lambda run=runs[name]: run(CALLS)[0]) for name in ("same objects", "rebuilt")},
                               rounds)
    # Apart, so that its compiles (seconds of CPU each) do not slow down the cheap contenders' rounds.
    compiling = interleaved_rounds({name: (lambda run=runs[name]: run()[0])
                                    for name in ("same objects", "rebuilt, keyed by identity")}, min(rounds, 5))
    times = {"same objects": [fit for fit, _ in cheap["same objects"]],
             "rebuilt": [fit for fit, _ in cheap["rebuilt"]],
             "rebuilt, building included": [total for _, total in cheap["rebuilt"]]}
    ratios = {name: paired_ratios(seconds, times["same objects"]) for name, seconds in times.items()}
    times["rebuilt, keyed by identity"] = [fit for fit, _ in compiling["rebuilt, keyed by identity"]]
    ratios["rebuilt, keyed by identity"] = paired_ratios(times["rebuilt, keyed by identity"],
                                                         [fit for fit, _ in compiling["same objects"]])
    rows = [[name, f"{1e3 * statistics.median(seconds):.2f}", speed_cell(ratios[name])]
            for name, seconds in times.items()]
    print(markdown_table(["fit, 1 epoch of 64-64-10 on 1077 digits", "median ms per call",
                          "time / same objects (quartiles)"], rows))
    median = statistics.median(ratios["rebuilt"])
    q1, q3 = quartiles(ratios["rebuilt"])
    print(f"\nfit with rebuilt objects / same objects: {median:.3f}x (quartiles {q1:.3f}-{q3:.3f}); "
          f"goal <= {GOAL:g}x: {'met' if median <= GOAL else 'NOT met'}; trained params bit-identical: {identical}")
    return {"ratios": ratios, "identical": identical}


if __name__ == "__main__":
    rounds_cli(main, __doc__, quick_help="3 rounds")
