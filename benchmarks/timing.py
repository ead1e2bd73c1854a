"""Shared timing and reporting for the benchmarks: interleaved rounds, paired ratios, tables.

On a shared machine one run's wall time moves by +-10% with the machine's load.  Timing
every contender once per round, back to back, in alternating order (ABC CBA ABC ...), and
taking the ratio *within* each round cancels most of that drift; the median over rounds
and its quartiles then say how sure the figure is.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, TypeVar

import jax

T = TypeVar("T")


def interleaved_rounds(runs: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Call every ``runs[name]()`` (one measurement, e.g. seconds) once per round, in
    alternating order; returns each contender's measurements in round order."""
    times: dict[str, list[T]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(runs[name]())
    return times


def paired_ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Per-round ratios: both runs of a round saw the same machine load."""
    return [a / b for a, b in zip(numerators, denominators)]


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    return statistics.median(paired_ratios(numerators, denominators))


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (both the value itself for a single round)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def call_timer(fn: Callable, *args, calls: int = 20) -> Callable[[], float]:
    """``() -> seconds`` per call of ``fn(*args)`` (already jitted), averaged over ``calls``
    calls with one device sync at the end; ``fn`` is called once here to compile it."""
    jax.block_until_ready(fn(*args))

    def seconds() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            out = fn(*args)
        jax.block_until_ready(out)
        return (time.perf_counter() - start) / calls

    return seconds


def xla_cost(fn: Callable, *args) -> dict[str, float]:
    """XLA's cost analysis of ``jax.jit(fn)(*args)``: ``flops`` and ``bytes accessed``,
    which, unlike times, do not depend on the machine's load."""
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {"flops": float(cost.get("flops", 0.0)), "bytes accessed": float(cost.get("bytes accessed", 0.0))}


def header(rounds: int) -> str:
    """The line every speed table starts with: versions, platform and rounds."""
    return f"jax {jax.__version__} on {jax.devices()[0].platform}; {rounds} interleaved rounds, median times\n"


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    """A markdown table with the header ``columns`` and the already formatted ``rows``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def speed_cell(speeds: list[float]) -> str:
    """``1.023x (0.98-1.05)``: the median paired speed ratio and its quartiles."""
    q1, q3 = quartiles(speeds)
    return f"{statistics.median(speeds):.3f}x ({q1:.2f}-{q3:.2f})"


def rounds_cli(main: Callable[[int, bool], object], doc: str, quick_help: str) -> object:
    """``main(rounds, quick)`` with ``--rounds`` and ``--quick`` read from the command line."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    return main(args.rounds, args.quick)
